package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// TestInputHygiene: invalid UTF-8 anywhere in a JSON body or a multipart
// text field, and doc_refs with bidirectional controls or invisible
// characters, answer 400 bad_request and write nothing.
func TestInputHygiene(t *testing.T) {
	n := newTestNode(t)
	good := evidence.Sum(evidence.SHA256, []byte("g")).Hex()
	id := mustID(t)
	jsonCases := []struct {
		name, path, body string
		key              bool
	}{
		{"text with \\xff\\xfe", "/api/v1/evidence", "{\"text\":\"a\xff\xfeb\"}", true},
		{"text with an overlong \\xc0\\xaf", "/api/v1/evidence", "{\"text\":\"a\xc0\xafb\"}", true},
		{"text with an unpaired surrogate escape", "/api/v1/evidence", `{"text":"a\ud800b"}`, true},
		{"doc_ref with invalid UTF-8", "/api/v1/evidence", "{\"digest\":\"" + good + "\",\"doc_ref\":\"HT-\xe4\xb8\"}", true},
		{"metadata with invalid UTF-8", "/api/v1/evidence", "{\"digest\":\"" + good + "\",\"metadata\":{\"a\":\"\xff\"}}", true},
		{"member name with invalid UTF-8", "/api/v1/evidence", "{\"digest\":\"" + good + "\",\"\xff\":1}", true},
		{"batch item with invalid UTF-8", "/api/v1/evidence/batch", "{\"items\":[{\"text\":\"\xed\xa0\x80\"}]}", true},
		{"verify text with invalid UTF-8", "/api/v1/verify", "{\"id\":\"" + id + "\",\"text\":\"\xff\"}", false},
		{"doc_ref with a bidi override", "/api/v1/evidence", `{"digest":"` + good + `","doc_ref":"abc\u202etxt.exe"}`, true},
		{"doc_ref with a raw bidi override", "/api/v1/evidence", "{\"digest\":\"" + good + "\",\"doc_ref\":\"abc\u202etxt.exe\"}", true},
		{"doc_ref with a zero-width space", "/api/v1/evidence", `{"digest":"` + good + `","doc_ref":"HT\u200b-001"}`, true},
		{"doc_ref with a byte order mark", "/api/v1/evidence", `{"digest":"` + good + `","doc_ref":"\ufeffHT-001"}`, true},
		{"doc_ref with a line separator", "/api/v1/evidence", `{"digest":"` + good + `","doc_ref":"HT\u2028001"}`, true},
		{"member name in another case", "/api/v1/evidence", `{"Digest":"` + good + `"}`, true},
		{"duplicate member", "/api/v1/evidence", `{"digest":"` + good + `","digest":"` + good + `"}`, true},
		{"duplicate member in metadata", "/api/v1/evidence", `{"digest":"` + good + `","metadata":{"a":1,"a":2}}`, true},
	}
	for _, tc := range jsonCases {
		var opts []reqOpt
		if tc.key {
			opts = append(opts, auth(n.key))
		}
		code, b := n.json(t, "POST", tc.path, tc.body, opts...)
		if code != 400 || errCode(t, b) != CodeBadRequest {
			t.Errorf("%s: %d %s, want 400 bad_request", tc.name, code, b)
		}
	}
	formCases := []struct {
		name   string
		fields map[string]string
		path   string
	}{
		{"doc_ref with invalid UTF-8", map[string]string{"doc_ref": "HT-\xff"}, "/api/v1/evidence"},
		{"metadata with invalid UTF-8", map[string]string{"metadata": "{\"a\":\"\xc0\xaf\"}"}, "/api/v1/evidence"},
		{"algorithm with invalid UTF-8", map[string]string{"algorithm": "sha256\xff"}, "/api/v1/evidence"},
		{"doc_ref with a bidi override", map[string]string{"doc_ref": "abc\u202etxt.exe"}, "/api/v1/evidence"},
		{"doc_ref with an invisible character", map[string]string{"doc_ref": "HT\u2060001"}, "/api/v1/evidence"},
		{"verify id with invalid UTF-8", map[string]string{"id": id + "\xff"}, "/api/v1/verify"},
	}
	for _, tc := range formCases {
		body, ct := multipartBody(t, tc.fields, samplePDF)
		code, b := n.do(t, "POST", tc.path, body, ct, auth(n.key))
		if code != 400 || errCode(t, b) != CodeBadRequest {
			t.Errorf("multipart %s: %d %s, want 400 bad_request", tc.name, code, b)
		}
	}
	if info, _ := n.svc.Info(t.Context()); info.Height != 0 {
		t.Fatalf("refused requests wrote %d blocks", info.Height)
	}
	// Plain visible text still goes through, in either encoding.
	code, b := n.json(t, "POST", "/api/v1/evidence", `{"digest":"`+good+`","doc_ref":"合同／HT-2026-001 <a&b>"}`, auth(n.key))
	if code != 201 {
		t.Fatalf("a plain doc_ref: %d %s", code, b)
	}
	rc := decode[node.Receipt](t, b)
	if rc.DocRef != "合同／HT-2026-001 <a&b>" {
		t.Fatalf("doc_ref %q", rc.DocRef)
	}
}

// TestTextDigestIsOfTheBytesSent: two different invalid byte sequences
// are refused instead of both being hashed as U+FFFD, and a valid text's
// digest is of its exact bytes.
func TestTextDigestIsOfTheBytesSent(t *testing.T) {
	n := newTestNode(t)
	for _, s := range []string{"\xff\xfe", "\xc0\xaf"} {
		if code, b := n.json(t, "POST", "/api/v1/evidence", "{\"text\":\""+s+"\"}", auth(n.key)); code != 400 {
			t.Fatalf("%q: %d %s", s, code, b)
		}
	}
	code, b := n.json(t, "POST", "/api/v1/evidence", `{"text":"\ufffd"}`, auth(n.key))
	if code != 201 {
		t.Fatalf("U+FFFD itself: %d %s", code, b)
	}
	if rc := decode[node.Receipt](t, b); rc.DigestHex != evidence.Sum(evidence.SHA256, []byte("\ufffd")).Hex() {
		t.Fatalf("digest %s", rc.DigestHex)
	}
}

// TestMetadataSaltedCommitment: the public receipt carries only a salted
// commitment to the metadata. Brute force over the whole candidate space
// of a six-digit value (the attack that recovered an unsalted meta_digest)
// finds no candidate; the submitting platform gets its metadata and salt
// and recomputes the commitment.
func TestMetadataSaltedCommitment(t *testing.T) {
	n := newTestNode(t)
	const secret = "482913"
	meta := `{"signer_id_last6":"` + secret + `"}`
	code, b := n.json(t, "POST", "/api/v1/evidence", `{"text":"合同正文","metadata": {"signer_id_last6" : "`+secret+`"}}`, auth(n.key))
	if code != 201 {
		t.Fatalf("submit: %d %s", code, b)
	}
	sub := decode[node.Receipt](t, b)
	if string(sub.Metadata) != meta || len(sub.MetaSalt) != 2*evidence.MetaSaltSize {
		t.Fatalf("the submit answer gives the platform metadata %s, salt %q", sub.Metadata, sub.MetaSalt)
	}

	// What anyone sees.
	code, b = n.json(t, "GET", "/api/v1/evidence/"+sub.ID, nil)
	if code != 200 {
		t.Fatalf("public get: %d %s", code, b)
	}
	if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte("meta_salt")) || bytes.Contains(b, []byte(`"metadata"`)) {
		t.Fatalf("the public receipt shows private data: %s", b)
	}
	pub := decode[node.Receipt](t, b)
	rec, err := evidence.ParseRecord(pub.Proof.Record)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Ver() != evidence.RecordVersion2 || len(rec.MetaDigest) != 32 || !bytes.Contains(pub.Proof.Record, []byte(`"meta_commitment":"`+hex.EncodeToString(rec.MetaDigest)+`"`)) {
		t.Fatalf("record %s", pub.Proof.Record)
	}
	// The attack: every candidate value, hashed as version 1 did (and, in
	// case of a commitment without salt, with the domain prefix).
	matches := 0
	for i := 0; i < 1_000_000; i++ {
		cand := fmt.Sprintf(`{"signer_id_last6":"%06d"}`, i)
		d := sha256.Sum256([]byte(cand))
		e := sha256.Sum256([]byte("evidence-node/metadata-commitment/v2\n" + cand))
		if bytes.Equal(d[:], rec.MetaDigest) || bytes.Equal(e[:], rec.MetaDigest) {
			matches++
		}
	}
	if matches != 0 {
		t.Fatalf("%d brute-forced candidates match the public commitment", matches)
	}
	// The same attack on an unsalted digest finds the secret: the test
	// would catch a regression to version 1's rule.
	v1 := sha256.Sum256([]byte(meta))
	found := ""
	for i := 0; i < 1_000_000 && found == ""; i++ {
		cand := fmt.Sprintf(`{"signer_id_last6":"%06d"}`, i)
		if d := sha256.Sum256([]byte(cand)); d == v1 {
			found = cand
		}
	}
	if found != meta {
		t.Fatalf("the brute force does not work on an unsalted digest (%q)", found)
	}

	// What the submitting platform sees, and can check.
	code, b = n.json(t, "GET", "/api/v1/evidence/"+sub.ID, nil, auth(n.key))
	if code != 200 {
		t.Fatalf("platform get: %d %s", code, b)
	}
	priv := decode[node.Receipt](t, b)
	salt, err := hex.DecodeString(priv.MetaSalt)
	if err != nil || string(priv.Metadata) != meta || priv.MetaSalt != sub.MetaSalt {
		t.Fatalf("private view: metadata %s salt %q (%v)", priv.Metadata, priv.MetaSalt, err)
	}
	if err := rec.CheckMetadata(salt, priv.Metadata); err != nil {
		t.Fatalf("the platform cannot recompute the commitment: %v", err)
	}
	if err := rec.CheckMetadata(salt, []byte(strings.Replace(meta, secret, "482914", 1))); err == nil {
		t.Fatal("another value matches the commitment")
	}
	// Two records with the same metadata have unrelated commitments.
	_, b = n.json(t, "POST", "/api/v1/evidence", `{"text":"另一份","metadata":`+meta+`}`, auth(n.key))
	other, err := evidence.ParseRecord(decode[node.Receipt](t, b).Proof.Record)
	if err != nil || bytes.Equal(other.MetaDigest, rec.MetaDigest) {
		t.Fatalf("same metadata, same commitment (%v)", err)
	}
}
