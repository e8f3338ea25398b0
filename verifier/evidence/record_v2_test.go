package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"

	"github.com/evidence-node/evidence-node/verifier/strict"
)

func sampleV2(t testing.TB) (Record, []byte, []byte) {
	r := sampleRecord(t)
	r.Version = RecordVersion2
	salt := bytes.Repeat([]byte{7}, MetaSaltSize)
	meta := []byte(`{"signer_id_last6":"482913"}`)
	c, err := MetaCommitment(salt, meta)
	if err != nil {
		t.Fatal(err)
	}
	r.MetaDigest = c
	return r, salt, meta
}

func TestRecordV2Canonical(t *testing.T) {
	r, salt, meta := sampleV2(t)
	b, err := r.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":2,"id":"` + r.ID.String() + `","type":"file","digests":[{"alg":"sha256","hex":"` + r.Digests[0].Hex() +
		`"},{"alg":"sm3","hex":"` + r.Digests[1].Hex() + `"}],"platform":"acme-sign","doc_ref":"合同-2026/001 <a&b>","meta_commitment":"` +
		hex.EncodeToString(r.MetaDigest) + `","submitted_at":"2026-11-23T01:00:00.123Z"}`
	if string(b) != want {
		t.Fatalf("canonical:\n got %s\nwant %s", b, want)
	}
	got, err := ParseRecord(b)
	if err != nil || got.Ver() != 2 || !got.Equal(r) {
		t.Fatalf("round trip: %v", err)
	}
	// The commitment, by hand: SHA-256(domain ‖ salt ‖ metadata).
	h := sha256.Sum256(append(append([]byte("evidence-node/metadata-commitment/v2\n"), salt...), meta...))
	if !bytes.Equal(h[:], r.MetaDigest) {
		t.Fatal("commitment is not SHA-256(domain ‖ salt ‖ metadata)")
	}
	if err := got.CheckMetadata(salt, meta); err != nil {
		t.Fatal(err)
	}
	if err := got.CheckMetadata(salt, []byte(`{"signer_id_last6":"482914"}`)); !errors.Is(err, ErrMetaMismatch) {
		t.Fatalf("other metadata: %v", err)
	}
	if err := got.CheckMetadata(nil, meta); !errors.Is(err, ErrMetaSalt) {
		t.Fatalf("no salt: %v", err)
	}
	// A version 1 record commits by SHA-256 alone.
	v1 := sampleRecord(t)
	if err := v1.CheckMetadata(nil, []byte(`{"buyer":"x"}`)); err != nil {
		t.Fatal(err)
	}
}

// TestRecordVersionRules: each version has its own metadata member and
// its own doc_ref rule.
func TestRecordVersionRules(t *testing.T) {
	r2, _, _ := sampleV2(t)
	b2, _ := r2.Canonical()
	r1 := sampleRecord(t)
	b1, _ := r1.Canonical()
	tests := []struct {
		desc string
		in   string
		want error
	}{
		{"v2 with meta_digest", strings.Replace(string(b2), "meta_commitment", "meta_digest", 1), ErrMetaMember},
		{"v1 with meta_commitment", strings.Replace(string(b1), "meta_digest", "meta_commitment", 1), ErrMetaMember},
		{"version 3", strings.Replace(string(b2), `"v":2`, `"v":3`, 1), ErrRecordVersion},
		{"v2 doc_ref with a bidi override", strings.Replace(string(b2), "<a&b>", "abc\u202etxt.exe", 1), ErrText},
		{"v2 doc_ref with a zero-width space", strings.Replace(string(b2), "<a&b>", "a\u200bb", 1), ErrText},
		{"v2 doc_ref with a byte order mark", strings.Replace(string(b2), "<a&b>", "\ufeffab", 1), ErrText},
		{"upper-case hex", strings.Replace(string(b2), r2.Digests[0].Hex(), strings.ToUpper(r2.Digests[0].Hex()), 1), strict.ErrHex},
		{"escaped character", strings.Replace(string(b2), "<a&b>", `\u003ca&b>`, 1), ErrNotCanonical},
		{"invalid UTF-8", strings.Replace(string(b2), "<a&b>", "\xff", 1), strict.ErrInvalidUTF8},
		{"duplicate member", strings.Replace(string(b2), `"type":"file"`, `"type":"file","type":"file"`, 1), strict.ErrDuplicateName},
		{"member in another case", strings.Replace(string(b2), `"platform"`, `"Platform"`, 1), strict.ErrUnknownName},
	}
	for _, tc := range tests {
		_, err := ParseRecord([]byte(tc.in))
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrRecord) {
			t.Errorf("%s: %v, want %v", tc.desc, err, tc.want)
		}
	}
	// Records written before keep verifying: a version 1 doc_ref may hold
	// format characters the version 2 rule refuses.
	r1.DocRef = "abc\u202etxt.exe"
	b, err := r1.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRecord(b); err != nil {
		t.Fatalf("version 1 record with U+202E: %v", err)
	}
}

// TestCanonicalMatchesEncodingJSON: for every valid record, the canonical
// encoder writes what the version 1 encoder (encoding/json, HTML escaping
// off) wrote, so version 1 leaves written before keep their bytes.
func TestCanonicalMatchesEncodingJSON(t *testing.T) {
	type wire1 struct {
		V           int          `json:"v"`
		ID          string       `json:"id"`
		Type        Type         `json:"type"`
		Digests     []wireDigest `json:"digests"`
		Platform    string       `json:"platform"`
		DocRef      string       `json:"doc_ref,omitempty"`
		MetaDigest  string       `json:"meta_digest,omitempty"`
		SubmittedAt string       `json:"submitted_at"`
	}
	r := sampleRecord(t)
	for _, doc := range []string{"", `"quoted" \back\slash`, "<a&b>", "合同 \u202e\u200b\ufeff 🙂", "tab\u00a0nbsp", strings.Repeat("é", 128)} {
		r.DocRef = doc
		got, err := r.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		w := wire1{V: 1, ID: r.ID.String(), Type: r.Type, Platform: r.Platform, DocRef: doc, MetaDigest: hex.EncodeToString(r.MetaDigest),
			SubmittedAt: r.SubmittedAt.UTC().Format(TimeLayout)}
		for _, d := range r.Digests {
			w.Digests = append(w.Digests, wireDigest{d.Algorithm, d.Hex()})
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(w); err != nil {
			t.Fatal(err)
		}
		if want := strings.TrimSuffix(buf.String(), "\n"); string(got) != want {
			t.Errorf("doc_ref %q:\n got %s\nwant %s", doc, got, want)
		}
	}
}

// TestRefusedTable: the written-out table is Cc ∪ Cf ∪ Zl ∪ Zp of the
// Unicode version docs/formats.md names.
func TestRefusedTable(t *testing.T) {
	if unicode.Version != "15.0.0" {
		t.Skipf("Go's Unicode tables are %s; the table is of 15.0.0", unicode.Version)
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		want := unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
		if got := unicode.Is(Refused, r); got != want {
			t.Fatalf("U+%04X: refused %v, category Cc/Cf/Zl/Zp %v", r, got, want)
		}
	}
}

func TestValidateText(t *testing.T) {
	for _, s := range []string{"", "HT-2026-001", "合同／第 1 号", "a b", "a\u00a0b", "\u3000", "🙂"} {
		if err := ValidateText(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, tc := range []struct {
		s   string
		off int
		r   rune
	}{{"abc\u202etxt.exe", 3, 0x202e}, {"a\u200bb", 1, 0x200b}, {"\ufeff", 0, 0xfeff}, {"a\x00", 1, 0}, {"a\u0085", 1, 0x85},
		{"\u2028", 0, 0x2028}, {"\u2029", 0, 0x2029}, {"x\u2066y", 1, 0x2066}, {"\U000e0041", 0, 0xe0041}, {"\u00ad", 0, 0xad}, {"ab\xff", 2, 0xfffd}} {
		err := ValidateText(tc.s)
		var te *TextError
		if !errors.As(err, &te) || !errors.Is(err, ErrText) || te.Offset != tc.off || te.Rune != tc.r {
			t.Errorf("%q: %v, want U+%04X at %d", tc.s, err, tc.r, tc.off)
		}
	}
	// U+FFFD itself is visible text.
	if err := ValidateText("\ufffd"); err != nil {
		t.Error(err)
	}
	if err := ValidateDocRef(strings.Repeat("x", 257)); !errors.Is(err, ErrDocRef) {
		t.Error(err)
	}
}
