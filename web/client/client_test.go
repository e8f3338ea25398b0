package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/view"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/web/client"
	"github.com/evidence-node/evidence-node/web/webtest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// TestClient runs every call of the client against a real node.
func TestClient(t *testing.T) {
	n := webtest.Start(t, webtest.Options{Quota: 100, Period: "1y"})
	c := client.New(n.URL, client.WithKey(n.Key))
	anon := client.New(n.URL)

	if err := c.Health(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Ready(ctx(t)); err != nil {
		t.Fatal(err)
	}

	text := "合同正文 v1"
	rc, err := c.Submit(ctx(t), client.Submission{Type: "text", Text: &text, DocRef: "HT-1", Metadata: []byte(`{"order":"A-1"}`)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if rc.ID == "" || rc.Type != evidence.Text || rc.DocRef != "HT-1" {
		t.Fatalf("receipt %+v", rc)
	}
	// The submitting platform sees its metadata, the public does not.
	if got, err := c.Get(ctx(t), rc.ID); err != nil || string(got.Metadata) != `{"order":"A-1"}` {
		t.Fatalf("own receipt: %s, %v", got.Metadata, err)
	}
	if got, err := anon.Get(ctx(t), rc.ID); err != nil || got.Metadata != nil || got.BlockHash != rc.BlockHash {
		t.Fatalf("public receipt: %+v, %v", got, err)
	}

	if v, err := anon.VerifyText(ctx(t), rc.ID, text); err != nil || v.Verdict != verifier.VerdictPass {
		t.Fatalf("verify text: %+v, %v", v, err)
	}
	if v, err := anon.VerifyText(ctx(t), rc.ID, text+"\n"); err != nil || v.Outcome != verifier.OutcomeMismatch {
		t.Fatalf("verify another text: %+v, %v", v, err)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "contract.txt")
	os.WriteFile(file, []byte("the contract"), 0o644)
	up, err := c.UploadFile(ctx(t), file, client.SubmitOptions{DocRef: "HT-2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Digests) != 2 {
		t.Fatalf("an upload is hashed with both algorithms: %+v", up.Digests)
	}
	for name, verify := range map[string]func(context.Context, string, string) (client.Verification, error){
		"VerifyFile": anon.VerifyFile, "VerifyUpload": anon.VerifyUpload,
	} {
		if v, err := verify(ctx(t), up.ID, file); err != nil || v.Verdict != verifier.VerdictPass {
			t.Fatalf("%s: %+v, %v", name, v, err)
		}
	}
	d := evidence.Sum(evidence.SHA256, []byte("other"))
	if v, err := anon.Verify(ctx(t), up.ID, d); err != nil || v.Outcome != verifier.OutcomeMismatch {
		t.Fatalf("verify a wrong digest: %+v, %v", v, err)
	}

	rcs, err := c.SubmitBatch(ctx(t), []client.Submission{{Digest: d.Hex()}, {Digest: evidence.Sum(evidence.SHA256, []byte("b")).Hex()}}, "batch-1")
	if err != nil || len(rcs) != 2 {
		t.Fatalf("batch: %d, %v", len(rcs), err)
	}
	again, err := c.SubmitBatch(ctx(t), []client.Submission{{Digest: d.Hex()}, {Digest: evidence.Sum(evidence.SHA256, []byte("b")).Hex()}}, "batch-1")
	if err != nil || again[0].ID != rcs[0].ID {
		t.Fatalf("the same Idempotency-Key gives the same receipts: %v", err)
	}

	if l, err := anon.LedgerInfo(ctx(t)); err != nil || l.Name != "webtest" || l.Height == 0 || len(l.TrustRoots) == 0 {
		t.Fatalf("ledger: %+v, %v", l, err)
	}
	if b, err := anon.Block(ctx(t), rc.BlockNumber); err != nil || !bytes.Contains(b, []byte(rc.BlockHash)) {
		t.Fatalf("block: %s, %v", b, err)
	}
	if u, err := c.Usage(ctx(t)); err != nil || u.Platform != "acme" || u.Quota != 100 || u.Used != 4 || u.Left == nil || *u.Left != 96 || u.PeriodEnd == "" {
		t.Fatalf("usage: %+v, %v", u, err)
	}

	cert, err := anon.Certificate(ctx(t), rc.ID)
	if err != nil || !bytes.HasPrefix(cert.PDF, []byte("%PDF-")) {
		t.Fatalf("certificate: %d bytes, %v", len(cert.PDF), err)
	}
	pkg, err := anon.Package(ctx(t), up.ID, file)
	if err != nil || !bytes.HasPrefix(pkg.PDF, []byte("%PDF-")) || len(pkg.Fingerprint) != 64 {
		t.Fatalf("package: %d bytes, %q, %v", len(pkg.PDF), pkg.Fingerprint, err)
	}
	rep, err := anon.Report(ctx(t), view.ReportRequest{ID: rc.ID, Algorithm: "sha256", Digest: rc.DigestHex, Content: "digest"})
	if err != nil || !bytes.HasPrefix(rep.PDF, []byte("%PDF-")) || len(rep.Fingerprint) != 64 {
		t.Fatalf("report: %d bytes, %q, %v", len(rep.PDF), rep.Fingerprint, err)
	}
	if _, err := anon.Report(ctx(t), view.ReportRequest{ID: rc.ID, Digest: rc.DigestHex, Content: "scanned"}); !errors.Is(err, client.ErrBadRequest) {
		t.Fatalf("a report with an unknown content kind: %v, want bad_request", err)
	}
	other := filepath.Join(dir, "other.txt")
	os.WriteFile(other, []byte("not the contract"), 0o644)
	if _, err := anon.Package(ctx(t), up.ID, other); !errors.Is(err, client.ErrBadRequest) {
		t.Fatalf("a package with a file that is not the original: %v, want bad_request", err)
	}
}

// TestClientErrors: the node's error answers come back typed.
func TestClientErrors(t *testing.T) {
	n := webtest.Start(t, webtest.Options{Quota: 1, Period: "1y"})
	c := client.New(n.URL, client.WithKey(n.Key))
	id, _ := evidence.NewIDGenerator(nil, nil).New()
	wrongCheck := "0" // a check character other than the ID's own
	if id.String()[26] == '0' {
		wrongCheck = "1"
	}
	cases := []struct {
		desc string
		err  error
		want error
	}{
		{"unknown ID", func() error { _, err := c.Get(ctx(t), id.String()); return err }(), client.ErrNotFound},
		{"mistyped ID", func() error { _, err := c.Get(ctx(t), id.String()[:26]+wrongCheck); return err }(), client.ErrIDChecksum},
		{"wrong key", func() error {
			_, err := client.New(n.URL, client.WithKey("evk_wrong")).Submit(ctx(t), client.Submission{Digest: evidence.Sum(evidence.SHA256, nil).Hex()}, "")
			return err
		}(), client.ErrUnauthorized},
		{"bad digest", func() error { _, err := c.Submit(ctx(t), client.Submission{Digest: "xyz"}, ""); return err }(), client.ErrBadRequest},
	}
	for _, tc := range cases {
		var ae *client.APIError
		if !errors.Is(tc.err, tc.want) || !errors.As(tc.err, &ae) || ae.Message == "" || ae.MessageZH == "" {
			t.Errorf("%s: %v, want %v with messages", tc.desc, tc.err, tc.want)
		}
	}
	if _, err := c.Submit(ctx(t), client.Submission{Digest: evidence.Sum(evidence.SHA256, []byte("1")).Hex()}, ""); err != nil {
		t.Fatal(err)
	}
	_, err := c.Submit(ctx(t), client.Submission{Digest: evidence.Sum(evidence.SHA256, []byte("2")).Hex()}, "")
	if !errors.Is(err, client.ErrQuotaExceeded) {
		t.Fatalf("past the quota: %v", err)
	}
}

// TestClientRetries: a submission that meets 503 is retried under one
// Idempotency-Key, and records once.
func TestClientRetries(t *testing.T) {
	n := webtest.Start(t, webtest.Options{})
	var calls atomic.Int32
	keys := map[string]bool{}
	target, _ := http.NewRequest("GET", n.URL, nil)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys[r.Header.Get("Idempotency-Key")] = true
		if calls.Add(1) <= 2 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(503)
			w.Write([]byte(`{"error":{"code":"ledger_unavailable","message":"down","message_zh":"不可用"}}`))
			return
		}
		req, _ := http.NewRequest(r.Method, "http://"+target.URL.Host+r.URL.Path, r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			w.WriteHeader(502)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		w.Write(buf.Bytes())
	}))
	defer proxy.Close()

	c := client.New(proxy.URL, client.WithKey(n.Key), client.WithRetries(3, time.Millisecond))
	rc, err := c.Submit(ctx(t), client.Submission{Digest: evidence.Sum(evidence.SHA256, []byte("retry")).Hex()}, "")
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(keys) != 1 || keys[""] {
		t.Fatalf("%d calls with keys %v, want 3 under one made-up key", calls.Load(), keys)
	}
	if rc.ID == "" {
		t.Fatal("no receipt")
	}

	calls.Store(0)
	noRetry := client.New(proxy.URL, client.WithKey(n.Key), client.WithRetries(0, 0))
	if _, err := noRetry.Submit(ctx(t), client.Submission{Digest: evidence.Sum(evidence.SHA256, []byte("once")).Hex()}, ""); !errors.Is(err, client.ErrLedgerUnavailable) {
		t.Fatalf("without retries: %v, want ledger_unavailable", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls without retries", calls.Load())
	}
}

// TestUploadKeepsConnection: file uploads carry their length
// (Content-Length, not chunked), so the node reads each to its end and
// keeps the connection: ten uploads and their verifications, one dial.
func TestUploadKeepsConnection(t *testing.T) {
	n := webtest.Start(t, webtest.Options{Quota: 100, Period: "1y"})
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	c := client.New(n.URL, client.WithKey(n.Key), client.WithHTTPClient(&http.Client{Transport: tr}))
	dir := t.TempDir()
	for i := range 10 {
		file := filepath.Join(dir, fmt.Sprintf("contract-%d.bin", i))
		// Larger than what the node reads ahead of its handler (8 KiB).
		os.WriteFile(file, bytes.Repeat([]byte{byte('a' + i)}, 20000+i), 0o644)
		up, err := c.UploadFile(ctx(t), file, client.SubmitOptions{DocRef: "HT-" + fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if v, err := c.VerifyUpload(ctx(t), up.ID, file); err != nil || v.Verdict != verifier.VerdictPass {
			t.Fatalf("verify upload %d: %+v, %v", i, v, err)
		}
	}
	if d := dials.Load(); d != 1 {
		t.Fatalf("%d connections for 10 uploads and 10 verifications, want 1", d)
	}
}

// TestUploadPipe: a file with no size of its own (a named pipe) is sent
// to its end, chunked, not cut at its stat size (0).
func TestUploadPipe(t *testing.T) {
	n := webtest.Start(t, webtest.Options{Quota: 100, Period: "1y"})
	c := client.New(n.URL, client.WithKey(n.Key))
	fifo := filepath.Join(t.TempDir(), "contract.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("through a pipe "), 3000)
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		f.Write(content)
		f.Close()
	}()
	up, err := c.UploadFile(ctx(t), fifo, client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := evidence.Sum(evidence.SHA256, content).Hex(); up.DigestHex != want {
		t.Fatalf("the pipe's upload hashed to %s, want %s (its %d bytes)", up.DigestHex, want, len(content))
	}
}
