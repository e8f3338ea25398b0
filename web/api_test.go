package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/node/tlog/witnesstest"
	"github.com/evidence-node/evidence-node/node/tsa"
	"github.com/evidence-node/evidence-node/node/tsa/tsatest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

type testNode struct {
	app  *fiber.App
	svc  *node.Service
	data string
	key  string // platform "acme"
}

// newTestNode runs the real stack in process: badger on disk, the
// embedded ledger, the service and the fiber app.
func newTestNode(t testing.TB) *testNode {
	n, _, _ := newTestNodeWith(t, nodeOpts{})
	return n
}

// nodeOpts are what newTestNodeWith adds to the plain test node.
type nodeOpts struct {
	// Witnesses > 0 keeps a transparency log (origin "witnessed") that
	// submits its checkpoints to that many real witnesses (witnesstest:
	// omniwitness on 127.0.0.1).
	Witnesses int
	// TSA, if set, has every block stamped by that real RFC 3161 TSA
	// (tsatest: timestamp-server on 127.0.0.1), its CA the TSA root.
	TSA *tsatest.TSA
}

// newTestNodeWith is a test node on an embedded ledger with what o adds;
// the transparency log and the witnesses are returned with it.
func newTestNodeWith(t testing.TB, o nodeOpts) (*testNode, *tlog.Log, []*witnesstest.Witness) {
	t.Helper()
	nw := o.Witnesses
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := node.LoadOrCreateKey(filepath.Join(dir, "node-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	name := "test"
	var (
		lk     tlog.Key
		ws     []*witnesstest.Witness
		cfgWs  []tlog.Witness
		wakeUp atomic.Pointer[tlog.Log]
	)
	if nw > 0 {
		name = "witnessed"
		if lk, _, err = tlog.LoadOrCreateKey(filepath.Join(dir, "tlog-key"), name); err != nil {
			t.Fatal(err)
		}
		for range nw {
			w := witnesstest.Start(t, name, lk.VerifierKey)
			tw, err := tlog.ParseWitness(w.Spec())
			if err != nil {
				t.Fatal(err)
			}
			ws, cfgWs = append(ws, w), append(cfgWs, tw)
		}
	}
	reg := prometheus.NewRegistry()
	metrics := node.NewMetrics(reg)
	var (
		stamper *tsa.Stamper
		onSeal  func(*store.Batch, block.Header, block.Seal)
	)
	if o.TSA != nil {
		if stamper, err = tsa.Open(tsa.Config{DB: db, TSAs: []string{o.TSA.URL}, Roots: []string{string(o.TSA.CA.PEM)},
			Poll: 100 * time.Millisecond, MaxBackoff: time.Second}); err != nil {
			t.Fatal(err)
		}
		onSeal = stamper.StageEmbedded
	}
	led, err := embedded.Open(db, embedded.Config{Name: name, Key: k, Dir: filepath.Join(dir, "blocks"), OnSeal: onSeal,
		OnBlock: func(n uint64, records int, took time.Duration) {
			metrics.ObserveBlock(n, records, took)
			if stamper != nil {
				stamper.Wake()
			}
			if l := wakeUp.Load(); l != nil {
				l.Wake()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		led.Close()
		if stamper != nil {
			stamper.Close()
		}
		db.Close()
	})
	var tl *tlog.Log
	if nw > 0 {
		tl, err = tlog.Open(tlog.Config{DB: db, Hashes: filepath.Join(dir, tlog.HashesFile), Origin: name, Key: lk,
			Source: tlog.LedgerSource(led), Witnesses: cfgWs, Poll: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tl.Close() })
		wakeUp.Store(tl)
	}
	key, _, err := platform.Add(dir, "acme", 0, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	plats, err := platform.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := node.Config{Ledger: led, DB: db, Platforms: plats, Metrics: metrics}
	if tl != nil {
		cfg.Log = tl
	}
	if stamper != nil {
		cfg.Timestamps = stamper
	}
	svc, err := node.NewService(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return &testNode{app: New(Config{Service: svc, Registry: reg, MaxUpload: 8 << 20, PublicURL: "http://127.0.0.1:8080"}), svc: svc, data: dir, key: key}, tl, ws
}

type reqOpt func(*http.Request)

func auth(key string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+key) }
}
func header(k, v string) reqOpt {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

func (n *testNode) do(t testing.TB, method, path string, body io.Reader, ctype string, opts ...reqOpt) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := n.app.Test(req, fiber.TestConfig{Timeout: 60 * time.Second}) // PDFs render here too, slowly under -race
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (n *testNode) json(t *testing.T, method, path string, v any, opts ...reqOpt) (int, []byte) {
	t.Helper()
	var body io.Reader
	if s, ok := v.(string); ok {
		body = strings.NewReader(s)
	} else if v != nil {
		b, _ := json.Marshal(v)
		body = bytes.NewReader(b)
	}
	return n.do(t, method, path, body, "application/json", opts...)
}

func multipartBody(t *testing.T, fields map[string]string, file []byte) (io.Reader, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if file != nil {
		w, _ := mw.CreateFormFile("file", "contract.pdf")
		w.Write(file)
	}
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	e := decode[ErrorBody](t, b)
	if e.Error.Message == "" || e.Error.MessageZH == "" {
		t.Fatalf("error without both messages: %s", b)
	}
	return e.Error.Code
}

var samplePDF = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")

func TestUploadVerifyTamperMistype(t *testing.T) {
	n := newTestNode(t)
	body, ct := multipartBody(t, map[string]string{"doc_ref": "HT-2026-001", "metadata": `{"buyer":"张三"}`}, samplePDF)
	code, b := n.do(t, "POST", "/api/v1/evidence", body, ct, auth(n.key))
	if code != 201 {
		t.Fatalf("upload: %d %s", code, b)
	}
	rc := decode[verifier.Receipt](t, b)
	sum := sha256.Sum256(samplePDF)
	if rc.Type != evidence.File || rc.Algorithm != evidence.SHA256 || rc.DigestHex != hex.EncodeToString(sum[:]) || len(rc.Digests) != 2 {
		t.Fatalf("receipt: %s", b)
	}
	info, _ := n.svc.Info(t.Context())
	if _, err := verifier.VerifyReceipt(rc, info.TrustRoots); err != nil {
		t.Fatalf("receipt does not verify: %v", err)
	}

	// The same file verifies: all three checks pass.
	body, ct = multipartBody(t, map[string]string{"id": rc.ID}, samplePDF)
	code, b = n.do(t, "POST", "/api/v1/verify", body, ct)
	v := decode[verifier.Verification](t, b)
	if code != 200 || v.Verdict != "pass" || len(v.Checks) != 3 {
		t.Fatalf("verify same file: %d %s", code, b)
	}
	for i, ch := range v.Checks {
		if ch.Name != verifier.CheckNames()[i] || !ch.Pass {
			t.Fatalf("check %d: %+v", i, ch)
		}
	}
	// One byte changed: check 1 fails and says so; the record is still on the ledger.
	tampered := bytes.Clone(samplePDF)
	tampered[10] ^= 1
	body, ct = multipartBody(t, map[string]string{"id": rc.ID}, tampered)
	_, b = n.do(t, "POST", "/api/v1/verify", body, ct)
	v = decode[verifier.Verification](t, b)
	if v.Verdict != "fail" || v.Outcome != verifier.OutcomeMismatch || v.Checks[0].Pass || !v.Checks[1].Pass || !v.Checks[2].Pass ||
		!strings.Contains(v.Checks[0].Reason, "differs") || !strings.Contains(v.Checks[0].ReasonZH, "不一致") {
		t.Fatalf("verify tampered: %s", b)
	}
	// A mistyped ID (one character changed) is reported as mistyped.
	bad := []byte(rc.ID)
	bad[8] = map[bool]byte{true: '1', false: '0'}[bad[8] == '0']
	code, b = n.json(t, "POST", "/api/v1/verify", map[string]string{"id": string(bad), "digest": rc.DigestHex})
	if code != 400 || errCode(t, b) != CodeIDChecksum {
		t.Fatalf("mistyped ID: %d %s", code, b)
	}
	// An unknown but well-formed ID is a third, distinct answer.
	unknown, _ := evidence.NewIDGenerator(nil, nil).New()
	code, b = n.json(t, "POST", "/api/v1/verify", map[string]string{"id": unknown.String(), "digest": rc.DigestHex})
	v = decode[verifier.Verification](t, b)
	if code != 200 || v.Verdict != "fail" || v.Outcome != verifier.OutcomeNotFound || v.Receipt != nil {
		t.Fatalf("unknown ID: %d %s", code, b)
	}
	// Lower case with hyphens and spaces still finds it; SM3 of the file verifies too.
	sm3 := evidence.Sum(evidence.SM3, samplePDF)
	code, b = n.json(t, "POST", "/api/v1/verify", map[string]string{"id": " " + strings.ToLower(rc.ID[:9]) + "-" + rc.ID[9:], "algorithm": "sm3", "digest": sm3.Base64()})
	if v = decode[verifier.Verification](t, b); code != 200 || v.Verdict != "pass" {
		t.Fatalf("sm3 verify: %d %s", code, b)
	}

	// Public view has no private metadata; the submitting platform sees it.
	// An ID with percent-encoded spaces in the path is found too.
	if code, _ := n.do(t, "GET", "/api/v1/evidence/"+rc.ID[:9]+"%20"+rc.ID[9:], nil, ""); code != 200 {
		t.Fatalf("ID with an encoded space: %d", code)
	}
	_, b = n.do(t, "GET", "/api/v1/evidence/"+rc.ID, nil, "")
	if strings.Contains(string(b), "buyer") {
		t.Fatalf("public view leaks metadata: %s", b)
	}
	_, b = n.do(t, "GET", "/api/v1/evidence/"+rc.ID, nil, "", auth(n.key))
	if !strings.Contains(string(b), `"metadata":{"buyer":"张三"}`) {
		t.Fatalf("submitter does not see its metadata: %s", b)
	}
	other, _, _ := platform.Add(n.data, "other", 0, "", time.Now())
	code, b = n.do(t, "GET", "/api/v1/evidence/"+rc.ID, nil, "", auth(other))
	if code != 200 || strings.Contains(string(b), "buyer") {
		t.Fatalf("another platform: %d %s", code, b)
	}
}

func TestSubmitJSONKinds(t *testing.T) {
	n := newTestNode(t)
	text := "甲方同意于2026年12月1日前付款。\n"
	code, b := n.json(t, "POST", "/api/v1/evidence", map[string]any{"type": "text", "text": text}, auth(n.key))
	rc := decode[verifier.Receipt](t, b)
	if code != 201 || rc.Type != evidence.Text || rc.DigestHex != evidence.Sum(evidence.SHA256, []byte(text)).Hex() {
		t.Fatalf("text: %d %s", code, b)
	}
	code, b = n.json(t, "POST", "/api/v1/verify", map[string]any{"id": rc.ID, "text": text + " "})
	if v := decode[verifier.Verification](t, b); v.Outcome != verifier.OutcomeMismatch {
		t.Fatalf("changed text: %s", b)
	}
	d := evidence.Sum(evidence.SM3, []byte("hash only"))
	code, b = n.json(t, "POST", "/api/v1/evidence", map[string]any{"type": "file", "algorithm": "sm3", "digest": d.Base64()}, auth(n.key))
	rc = decode[verifier.Receipt](t, b)
	if code != 201 || rc.Algorithm != evidence.SM3 || rc.DigestHex != d.Hex() || len(rc.Digests) != 1 {
		t.Fatalf("sm3 digest: %d %s", code, b)
	}
	// Batch: one receipt each, in order.
	var items []map[string]string
	for i := 0; i < 50; i++ {
		items = append(items, map[string]string{"digest": evidence.Sum(evidence.SHA256, []byte(fmt.Sprint(i))).Hex()})
	}
	code, b = n.json(t, "POST", "/api/v1/evidence/batch", map[string]any{"items": items}, auth(n.key))
	br := decode[BatchResponse](t, b)
	if code != 201 || len(br.Receipts) != 50 {
		t.Fatalf("batch: %d %.300s", code, b)
	}
	for i, r := range br.Receipts {
		if r.DigestHex != items[i]["digest"] {
			t.Fatalf("batch receipt %d is for another digest", i)
		}
	}
	// Block and ledger endpoints.
	code, b = n.do(t, "GET", fmt.Sprintf("/api/v1/blocks/%d", br.Receipts[0].BlockNumber), nil, "")
	bv := decode[BlockView](t, b)
	if code != 200 || bv.Hash != br.Receipts[0].BlockHash {
		t.Fatalf("block: %d %.300s", code, b)
	}
	eb, err := block.ParseEmbedded(bv.Block)
	if err != nil {
		t.Fatal(err)
	}
	_, b = n.do(t, "GET", "/api/v1/ledger", nil, "")
	lv := decode[LedgerView](t, b)
	if lv.Name != "test" || lv.Height == 0 || eb.Verify(lv.TrustRoots) != nil {
		t.Fatalf("ledger: %s", b)
	}
}

func TestIdempotency(t *testing.T) {
	n := newTestNode(t)
	req := map[string]string{"digest": evidence.Sum(evidence.SHA256, []byte("x")).Hex()}
	_, b1 := n.json(t, "POST", "/api/v1/evidence", req, auth(n.key), header("Idempotency-Key", "order-42"))
	code, b2 := n.json(t, "POST", "/api/v1/evidence", req, auth(n.key), header("Idempotency-Key", "order-42"))
	if code != 201 || string(b1) != string(b2) {
		t.Fatalf("retry gave another receipt:\n%s\n%s", b1, b2)
	}
	req["digest"] = evidence.Sum(evidence.SHA256, []byte("y")).Hex()
	code, b := n.json(t, "POST", "/api/v1/evidence", req, auth(n.key), header("Idempotency-Key", "order-42"))
	if code != 422 || errCode(t, b) != CodeIdempotencyMismatch {
		t.Fatalf("reused key: %d %s", code, b)
	}
	info, _ := n.svc.Info(t.Context())
	if info.Height != 1 {
		t.Fatalf("height %d after one idempotent submission", info.Height)
	}
}

func TestQuota(t *testing.T) {
	n := newTestNode(t)
	key, _, err := platform.Add(n.data, "small", 3, "1y", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	d := func(i int) map[string]string {
		return map[string]string{"digest": evidence.Sum(evidence.SHA256, []byte(fmt.Sprint(i))).Hex()}
	}
	code, b := n.json(t, "POST", "/api/v1/evidence/batch", map[string]any{"items": []any{d(1), d(2)}}, auth(key))
	if code != 201 {
		t.Fatalf("within quota: %d %s", code, b)
	}
	code, b = n.json(t, "POST", "/api/v1/evidence/batch", map[string]any{"items": []any{d(3), d(4)}}, auth(key))
	if code != 429 || errCode(t, b) != CodeQuotaExceeded {
		t.Fatalf("over quota: %d %s", code, b)
	}
	code, _ = n.json(t, "POST", "/api/v1/evidence", d(5), auth(key))
	if code != 201 {
		t.Fatalf("last record of the quota: %d", code)
	}
	code, b = n.json(t, "POST", "/api/v1/evidence", d(6), auth(key))
	if code != 429 {
		t.Fatalf("past quota: %d %s", code, b)
	}
}

// TestBadInput: every bad request gets a status, a stable code and both
// messages, and changes nothing.
func TestBadInput(t *testing.T) {
	n := newTestNode(t)
	good := evidence.Sum(evidence.SHA256, []byte("g")).Hex()
	tooMany := make([]map[string]string, MaxBatch+1)
	for i := range tooMany {
		tooMany[i] = map[string]string{"digest": good}
	}
	big := strings.Repeat("a", MaxJSONBody+10)
	tests := []struct {
		name     string
		method   string
		path     string
		body     any
		opts     []reqOpt
		wantCode int
		wantErr  string
	}{
		{"no key", "POST", "/api/v1/evidence", map[string]string{"digest": good}, nil, 401, CodeUnauthorized},
		{"wrong key", "POST", "/api/v1/evidence", map[string]string{"digest": good}, []reqOpt{auth("evk_nope")}, 401, CodeUnauthorized},
		{"malformed JSON", "POST", "/api/v1/evidence", `{"digest":`, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"empty body", "POST", "/api/v1/evidence", ``, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"unknown field", "POST", "/api/v1/evidence", map[string]string{"digest": good, "digset": "x"}, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"short digest", "POST", "/api/v1/evidence", map[string]string{"digest": good[:60]}, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"bad algorithm", "POST", "/api/v1/evidence", map[string]string{"digest": good, "algorithm": "md5"}, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"bad type", "POST", "/api/v1/evidence", map[string]string{"digest": good, "type": "video"}, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"text and digest", "POST", "/api/v1/evidence", map[string]string{"digest": good, "text": "x", "type": "text"}, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"metadata not object", "POST", "/api/v1/evidence", map[string]any{"digest": good, "metadata": 3}, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"doc_ref control", "POST", "/api/v1/evidence", map[string]any{"digest": good, "doc_ref": "a\u0000b"}, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"body too large", "POST", "/api/v1/evidence", `{"text":"` + big + `"}`, []reqOpt{auth(n.key)}, 413, CodeTooLarge},
		{"empty batch", "POST", "/api/v1/evidence/batch", map[string]any{"items": []any{}}, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"batch too big", "POST", "/api/v1/evidence/batch", map[string]any{"items": tooMany}, []reqOpt{auth(n.key)}, 413, CodeTooLarge},
		{"bad batch item", "POST", "/api/v1/evidence/batch", map[string]any{"items": []any{map[string]string{"digest": good}, map[string]string{"digest": "zz"}}}, []reqOpt{auth(n.key)}, 400, CodeBadRequest},
		{"get invalid id", "GET", "/api/v1/evidence/hello", nil, nil, 400, CodeIDInvalid},
		{"get unknown id", "GET", "/api/v1/evidence/" + mustID(t), nil, nil, 404, CodeNotFound},
		{"verify no digest", "POST", "/api/v1/verify", map[string]string{"id": mustID(t)}, nil, 400, CodeBadRequest},
		{"verify bad id", "POST", "/api/v1/verify", map[string]string{"id": "123", "digest": good}, nil, 400, CodeIDInvalid},
		{"block not a number", "GET", "/api/v1/blocks/x", nil, nil, 400, CodeBadRequest},
		{"block past head", "GET", "/api/v1/blocks/99", nil, nil, 404, CodeNotFound},
		{"no endpoint", "GET", "/api/v1/nothing", nil, nil, 404, CodeNotFound},
		{"wrong method", "DELETE", "/api/v1/evidence/" + mustID(t), nil, nil, 405, CodeMethodNotAllowed},
		{"wrong method on verify", "GET", "/api/v1/verify", nil, nil, 405, CodeMethodNotAllowed},
		{"long idempotency key", "POST", "/api/v1/evidence", map[string]string{"digest": good}, []reqOpt{auth(n.key), header("Idempotency-Key", strings.Repeat("k", 300))}, 400, CodeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := n.json(t, tt.method, tt.path, tt.body, tt.opts...)
			if code != tt.wantCode || errCode(t, b) != tt.wantErr {
				t.Fatalf("got %d %s, want %d %s", code, b, tt.wantCode, tt.wantErr)
			}
		})
	}
	// A form-encoded body (curl -d without a Content-Type) is refused clearly.
	if code, b := n.do(t, "POST", "/api/v1/evidence", strings.NewReader(`{"digest":"`+good+`"}`), "application/x-www-form-urlencoded", auth(n.key)); code != 415 || errCode(t, b) != CodeUnsupportedMedia {
		t.Fatalf("form-encoded JSON: %d %s", code, b)
	}
	// Multipart mistakes.
	var buf bytes.Buffer // algorithm after the file part
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("file", "a.pdf")
	w.Write(samplePDF)
	mw.WriteField("algorithm", "sm3")
	mw.Close()
	if code, b := n.do(t, "POST", "/api/v1/evidence", &buf, mw.FormDataContentType(), auth(n.key)); code != 400 || !strings.Contains(string(b), "before") {
		t.Fatalf("algorithm after file: %d %s", code, b)
	}
	body, ct := multipartBody(t, map[string]string{"doc_ref": "x"}, nil)
	if code, b := n.do(t, "POST", "/api/v1/evidence", body, ct, auth(n.key)); code != 400 || errCode(t, b) != CodeBadRequest {
		t.Fatalf("multipart without file: %d %s", code, b)
	}
	body, ct = multipartBody(t, map[string]string{"colour": "x"}, samplePDF)
	if code, b := n.do(t, "POST", "/api/v1/evidence", body, ct, auth(n.key)); code != 400 || errCode(t, b) != CodeBadRequest {
		t.Fatalf("unknown field: %d %s", code, b)
	}
	body, ct = multipartBody(t, nil, make([]byte, 9<<20))
	if code, b := n.do(t, "POST", "/api/v1/evidence", body, ct, auth(n.key)); code != 413 || errCode(t, b) != CodeTooLarge {
		t.Fatalf("upload over the limit: %d %s", code, b)
	}
	info, _ := n.svc.Info(t.Context())
	if info.Height != 0 {
		t.Fatalf("bad requests wrote %d blocks", info.Height)
	}
}

func mustID(t *testing.T) string {
	id, err := evidence.NewIDGenerator(nil, nil).New()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

func TestHealthAndMetrics(t *testing.T) {
	n := newTestNode(t)
	for _, p := range []string{"/healthz", "/readyz", "/api/v1/healthz"} {
		if code, b := n.do(t, "GET", p, nil, ""); code != 200 {
			t.Fatalf("%s: %d %s", p, code, b)
		}
	}
	n.json(t, "POST", "/api/v1/evidence", map[string]string{"digest": evidence.Sum(evidence.SHA256, nil).Hex()}, auth(n.key))
	_, b := n.do(t, "GET", "/metrics", nil, "")
	for _, want := range []string{"evidence_records_total 1", "evidence_ledger_height 1", `evidence_http_requests_total{method="POST",route="/api/v1/evidence",status="201"} 1`, "evidence_submit_seconds_bucket", "evidence_http_request_seconds_bucket"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
