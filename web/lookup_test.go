package web

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

func TestLookupByDigest(t *testing.T) {
	n := newTestNode(t)
	content := []byte("contract HT-2026-007, signed twice")
	// Three records of one file: two uploads (SHA-256 and SM3 both
	// recorded) and a hash-only SM3 submission; one other file.
	var want []string
	for range 2 {
		body, ct := multipartBody(t, map[string]string{"doc_ref": "HT-2026-007"}, content)
		code, b := n.do(t, "POST", "/api/v1/evidence", body, ct, auth(n.key))
		if code != 201 {
			t.Fatalf("upload: %d %s", code, b)
		}
		want = append(want, decode[verifier.Receipt](t, b).ID)
	}
	sm3 := evidence.Sum(evidence.SM3, content)
	code, b := n.json(t, "POST", "/api/v1/evidence", map[string]string{"type": "file", "algorithm": "sm3", "digest": sm3.Hex()}, auth(n.key))
	if code != 201 {
		t.Fatalf("hash-only: %d %s", code, b)
	}
	sm3Only := decode[verifier.Receipt](t, b).ID
	if code, b := n.json(t, "POST", "/api/v1/evidence", map[string]string{"type": "text", "text": "another"}, auth(n.key)); code != 201 {
		t.Fatalf("text: %d %s", code, b)
	}
	sha := evidence.Sum(evidence.SHA256, content)

	get := func(q url.Values) (int, LookupResponse, []byte) {
		t.Helper()
		code, b := n.do(t, "GET", "/api/v1/evidence?"+q.Encode(), nil, "")
		var r LookupResponse
		if code == 200 {
			r = decode[LookupResponse](t, b)
		}
		return code, r, b
	}
	// By SHA-256 (hex, then base64; the algorithm defaults to sha256).
	for _, q := range []url.Values{{"digest": {sha.Hex()}, "algorithm": {"sha256"}}, {"digest": {sha.Base64()}}} {
		code, r, b := get(q)
		if code != 200 || !slices.Equal(r.IDs, want) || len(r.Receipts) != 2 || r.NextCursor != "" {
			t.Fatalf("lookup %v: %d %s", q, code, b)
		}
		for i, rc := range r.Receipts {
			if rc.ID != want[i] || rc.DocRef != "HT-2026-007" || rc.BlockHash == "" || len(rc.Metadata) != 0 {
				t.Fatalf("receipt %d: %+v", i, rc)
			}
		}
	}
	// By SM3: the two uploads and the hash-only record.
	code, r, b := get(url.Values{"digest": {sm3.Hex()}, "algorithm": {"sm3"}})
	if code != 200 || !slices.Equal(r.IDs, append(slices.Clone(want), sm3Only)) {
		t.Fatalf("lookup sm3: %d %s", code, b)
	}
	// Pages of one, by cursor.
	var paged []string
	q := url.Values{"digest": {sm3.Hex()}, "algorithm": {"sm3"}, "limit": {"1"}}
	for range 5 {
		code, r, b := get(q)
		if code != 200 || len(r.IDs) != 1 {
			t.Fatalf("page: %d %s", code, b)
		}
		paged = append(paged, r.IDs...)
		if r.NextCursor == "" {
			break
		}
		q.Set("cursor", r.NextCursor)
	}
	if !slices.Equal(paged, append(slices.Clone(want), sm3Only)) {
		t.Fatalf("paged: %v", paged)
	}
	// A digest nobody recorded: 200 with none (empty lists, not null).
	code, _, b = get(url.Values{"digest": {evidence.Sum(evidence.SHA256, []byte("nobody")).Hex()}})
	if code != 200 || string(b) != `{"ids":[],"receipts":[]}` {
		t.Fatalf("unknown digest: %d %s", code, b)
	}
	// Bad requests change nothing and say why.
	for _, q := range []string{"", "digest=", "digest=abc", "digest=" + sha.Hex() + "&algorithm=md5", "digest=" + sha.Hex() + "&limit=0",
		"digest=" + sha.Hex() + "&limit=101", "digest=" + sha.Hex() + "&limit=x", "digest=" + sha.Hex() + "&cursor=nope",
		"digest=" + sha.Hex() + "&digets=1"} {
		code, b := n.do(t, "GET", "/api/v1/evidence?"+q, nil, "")
		if code != 400 || errCode(t, b) != CodeBadRequest {
			t.Errorf("GET /api/v1/evidence?%s: %d %s", q, code, b)
		}
	}
	if code, _ := n.do(t, "DELETE", "/api/v1/evidence", nil, ""); code != 405 {
		t.Errorf("DELETE /api/v1/evidence: %d", code)
	}
	// Callable from other origins' pages: the look-up, not the submission
	// on the same path.
	req := httptest.NewRequest("GET", "/api/v1/evidence?digest="+sha.Hex(), nil)
	req.Header.Set("Origin", "https://court.example")
	resp, err := n.app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("GET /api/v1/evidence from another origin: %v", resp.Header)
	}
	for m, want := range map[string]string{"GET": "*", "POST": "", "": ""} {
		req := httptest.NewRequest("OPTIONS", "/api/v1/evidence", nil)
		req.Header.Set("Origin", "https://court.example")
		if m != "" {
			req.Header.Set("Access-Control-Request-Method", m)
		}
		resp, err := n.app.Test(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != 204 || got != want || want != "" && strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Errorf("preflight for %q: %d %v", m, resp.StatusCode, resp.Header)
		}
	}
}

func TestVerifyRecordAlone(t *testing.T) {
	n := newTestNode(t)
	code, b := n.json(t, "POST", "/api/v1/evidence", map[string]string{"type": "text", "text": "甲方：张三"}, auth(n.key))
	if code != 201 {
		t.Fatalf("submit: %d %s", code, b)
	}
	rc := decode[verifier.Receipt](t, b)
	// The record alone: on the ledger, proof intact, nothing compared,
	// and never a pass.
	code, b = n.do(t, "GET", "/api/v1/verify?id="+url.QueryEscape(rc.ID), nil, "")
	v := decode[verifier.Verification](t, b)
	if code != 200 || v.Verdict != verifier.VerdictFail || v.Outcome != node.OutcomeNoContent || v.Receipt == nil || v.Receipt.ID != rc.ID || len(v.Checks) != 3 {
		t.Fatalf("record alone: %d %s", code, b)
	}
	if c := v.Checks[0]; c.Name != verifier.CheckDigestMatch || c.Pass || !c.Skipped || c.Reason == "" || c.ReasonZH == "" {
		t.Errorf("digest_match: %+v", c)
	}
	if !v.Checks[1].Pass || !v.Checks[2].Pass {
		t.Errorf("checks: %+v", v.Checks)
	}
	unknown, _ := evidence.NewIDGenerator(nil, nil).New()
	code, b = n.do(t, "GET", "/api/v1/verify?id="+unknown.String(), nil, "")
	if v := decode[verifier.Verification](t, b); code != 200 || v.Outcome != verifier.OutcomeNotFound || v.Verdict != verifier.VerdictFail {
		t.Fatalf("unknown: %d %s", code, b)
	}
	bad := []byte(rc.ID)
	bad[5] = map[bool]byte{true: '1', false: '0'}[bad[5] == '0']
	for q, want := range map[string]string{"id=" + string(bad): CodeIDChecksum, "id=": CodeBadRequest, "x=1": CodeBadRequest, "id=" + rc.ID + "&digest=" + rc.DigestHex: CodeBadRequest} {
		code, b := n.do(t, "GET", "/api/v1/verify?"+q, nil, "")
		if code != 400 || errCode(t, b) != want {
			t.Errorf("GET /api/v1/verify?%s: %d %s, want 400 %s", q, code, b, want)
		}
	}
	if code, b := n.do(t, "GET", "/api/v1/verify", nil, ""); code != 405 || errCode(t, b) != CodeMethodNotAllowed {
		t.Errorf("GET /api/v1/verify: %d %s, want 405", code, b)
	}
}
