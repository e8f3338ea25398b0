package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/node/pdf/pdftest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
)

// get returns status, headers and body of a GET.
func (n *testNode) get(t *testing.T, path string, hdr ...string) (int, map[string]string, []byte) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := n.app.Test(req, fiber.TestConfig{Timeout: 60 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h := map[string]string{}
	for k := range resp.Header {
		h[k] = resp.Header.Get(k)
	}
	return resp.StatusCode, h, b
}

func TestCertificateAndPackage(t *testing.T) {
	n := newTestNode(t)
	contract := append(bytes.Clone(samplePDF), "% 采购合同 2026-001\n"...)
	body, ct := multipartBody(t, map[string]string{"doc_ref": "HT-2026-001"}, contract)
	code, b := n.do(t, "POST", "/api/v1/evidence", body, ct, auth(n.key))
	if code != 201 {
		t.Fatalf("upload: %d %s", code, b)
	}
	rc := decode[verifier.Receipt](t, b)

	// The certificate alone.
	start := time.Now()
	code, h, cert := n.get(t, "/api/v1/evidence/"+rc.ID+"/certificate.pdf")
	if code != 200 || h["Content-Type"] != "application/pdf" || !bytes.HasPrefix(cert, []byte("%PDF-")) {
		t.Fatalf("certificate: %d %v %.200s", code, h, cert)
	}
	t.Logf("certificate: %d bytes in %v", len(cert), time.Since(start))
	info, err := pdf.Inspect(bytes.NewReader(cert))
	if err != nil || !info.PDF || info.Pages != 1 {
		t.Fatalf("certificate: %+v %v", info, err)
	}
	if a, err := pdf.ExtractAttachments(bytes.NewReader(cert)); err != nil || len(a) != 0 {
		t.Fatalf("the certificate alone carries attachments: %v %v", a, err)
	}

	// The package: its fingerprint in a header, its attachments verify
	// offline against the ledger's trust roots.
	start = time.Now()
	code, h, pkg := n.get(t, "/api/v1/evidence/"+strings.ToLower(rc.ID)+"/package.pdf")
	if code != 200 || h["Content-Type"] != "application/pdf" {
		t.Fatalf("package: %d %v %.200s", code, h, pkg)
	}
	t.Logf("package: %d bytes in %v", len(pkg), time.Since(start))
	sum := sha256.Sum256(pkg)
	if got := h[HeaderFingerprint]; got != hex.EncodeToString(sum[:]) {
		t.Errorf("%s = %q, want the SHA-256 of the body %x", HeaderFingerprint, got, sum)
	}
	if fp := evpkg.Digest(pkg); fp != h[HeaderFingerprint] {
		t.Errorf("evpkg.Fingerprint = %s", fp)
	}
	if !strings.Contains(h["Content-Disposition"], "attachment") || !strings.Contains(h["Content-Disposition"], rc.ID) {
		t.Errorf("Content-Disposition %q", h["Content-Disposition"])
	}
	att, err := pdf.ExtractAttachments(bytes.NewReader(pkg))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range att {
		files[f.Name] = f.Data
	}
	for _, name := range []string{evpkg.ManifestName, evpkg.ReceiptName, evpkg.TrustRootsName, evpkg.BlockName(block.KindEmbedded, rc.BlockNumber)} {
		if _, ok := files[name]; !ok {
			t.Errorf("package lacks %s (has %d attachments)", name, len(files))
		}
	}
	code, b = n.do(t, "GET", "/api/v1/ledger", nil, "")
	roots := decode[LedgerView](t, b).TrustRoots
	digests := []evidence.Digest{evidence.Sum(evidence.SHA256, contract)}
	r := evpkg.Verify(files, evpkg.Options{Digests: digests, TrustRoots: &roots})
	if !r.Pass() || r.RootsDiffer {
		t.Fatalf("package does not verify: %+v", r)
	}
	for _, c := range r.Checks {
		if !c.Pass {
			t.Errorf("%s: %s", c.Name, c.Reason)
		}
	}
	// A tampered original fails check 1 only.
	tampered := bytes.Clone(contract)
	tampered[3] ^= 1
	r = evpkg.Verify(files, evpkg.Options{Digests: []evidence.Digest{evidence.Sum(evidence.SHA256, tampered)}, TrustRoots: &roots})
	if r.Pass() || r.Outcome != verifier.OutcomeMismatch || r.Checks[0].Pass || !r.Checks[1].Pass || !r.Checks[2].Pass {
		t.Fatalf("tampered original: %+v", r.Checks)
	}
	// Roots of another ledger key: check 3 fails.
	otherRoots := block.TrustRoots{Ledger: roots.Ledger, Kind: roots.Kind}
	r = evpkg.Verify(files, evpkg.Options{TrustRoots: &otherRoots})
	if r.Pass() || r.Checks[2].Pass {
		t.Fatalf("other roots: %+v", r.Checks)
	}
}

func TestPackageErrors(t *testing.T) {
	n := newTestNode(t)
	code, b := n.json(t, "POST", "/api/v1/evidence", map[string]string{"type": "text", "text": "合同文本"}, auth(n.key))
	if code != 201 {
		t.Fatalf("submit: %d %s", code, b)
	}
	rc := decode[verifier.Receipt](t, b)
	bad := []byte(rc.ID)
	bad[8] = map[bool]byte{true: '1', false: '0'}[bad[8] == '0']
	for _, doc := range []string{"certificate.pdf", "package.pdf"} {
		code, _, b := n.get(t, "/api/v1/evidence/"+string(bad)+"/"+doc)
		if code != 400 || errCode(t, b) != CodeIDChecksum {
			t.Errorf("%s of a mistyped ID: %d %s", doc, code, b)
		}
		code, _, b = n.get(t, "/api/v1/evidence/"+mustID(t)+"/"+doc)
		if code != 404 || errCode(t, b) != CodeNotFound {
			t.Errorf("%s of an unknown ID: %d %s", doc, code, b)
		}
	}
	// Whatever Host the client sends, the certificate is made (its link
	// is the node's --public-url, never the Host).
	code, _, cert := n.get(t, "/api/v1/evidence/"+rc.ID+"/certificate.pdf", "Host", "evidence.example.cn:8443")
	if code != 200 {
		t.Fatalf("certificate: %d", code)
	}
	if !bytes.Contains(cert, []byte("%PDF")) {
		t.Fatal("not a PDF")
	}
}

// A record queued but not yet on the ledger has no block to certify: the
// PDF endpoints answer 202 pending, as GET /evidence/{id} does.
func TestPackagePending(t *testing.T) {
	n, led := newQueuedTestNode(t)
	key := n.key
	led.Down.Store(true)
	code, b := n.json(t, "POST", "/api/v1/evidence", map[string]string{"digest": evidence.Sum(evidence.SHA256, []byte("a")).Hex()}, auth(key))
	if code != 202 {
		t.Fatalf("submit with the ledger down: %d %s", code, b)
	}
	id := decode[Pending](t, b).ID
	for _, doc := range []string{"certificate.pdf", "package.pdf"} {
		code, h, b := n.get(t, "/api/v1/evidence/"+id+"/"+doc)
		if p := decode[Pending](t, b); code != 202 || p.Status != "pending" || p.ID != id || h["Retry-After"] == "" {
			t.Errorf("%s of a pending record: %d %v %s", doc, code, h, b)
		}
	}
}

// TestPackageWithOriginal: the holder uploads the original; it is embedded
// unchanged (byte-identical), and the package verifies offline with no
// original given; a file that is not the recorded one is refused.
func TestPackageWithOriginal(t *testing.T) {
	n := newTestNode(t)
	original := pdftest.OnePage("contract")
	body, ct := multipartBody(t, nil, original)
	code, b := n.do(t, "POST", "/api/v1/evidence", body, ct, auth(n.key))
	if code != 201 {
		t.Fatalf("submit: %d %s", code, b)
	}
	rc := decode[verifier.Receipt](t, b)

	body, ct = multipartBody(t, nil, original)
	code, pkg := n.do(t, "POST", "/api/v1/evidence/"+rc.ID+"/package.pdf", body, ct)
	if code != 200 {
		t.Fatalf("package with original: %d %.300s", code, pkg)
	}
	att, err := pdf.ExtractAttachments(bytes.NewReader(pkg))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, a := range att {
		files[a.Name] = a.Data
	}
	if !bytes.Equal(files["original.pdf"], original) {
		t.Fatalf("original not embedded unchanged: have %d attachments", len(att))
	}
	r := evpkg.Verify(files, evpkg.Options{})
	if r.Verdict != verifier.VerdictPass {
		t.Fatalf("package with embedded original: %+v", r)
	}

	other := bytes.Clone(original)
	other[len(other)-3] ^= 1
	body, ct = multipartBody(t, nil, other)
	if code, b := n.do(t, "POST", "/api/v1/evidence/"+rc.ID+"/package.pdf", body, ct); code != 400 || errCode(t, b) != CodeBadRequest {
		t.Fatalf("wrong original: %d %s", code, b)
	}
}

// Without a public URL the node makes no certificate or package (their
// links would have no trustworthy address): 503 certificates_unavailable,
// in both languages, naming --public-url; the record itself is served.
func TestNoPublicURL(t *testing.T) {
	n := newTestNode(t)
	n.app = New(Config{Service: n.svc, MaxUpload: 8 << 20})
	code, b := n.do(t, "POST", "/api/v1/evidence", strings.NewReader(`{"text":"合同"}`), "application/json", auth(n.key))
	if code != 201 {
		t.Fatalf("submit: %d %s", code, b)
	}
	rc := decode[verifier.Receipt](t, b)
	for _, doc := range []string{"certificate.pdf", "package.pdf"} {
		code, _, b := n.get(t, "/api/v1/evidence/"+rc.ID+"/"+doc)
		e := decode[struct {
			Error struct {
				Code      string `json:"code"`
				Message   string `json:"message"`
				MessageZH string `json:"message_zh"`
			} `json:"error"`
		}](t, b).Error
		if code != 503 || e.Code != CodeCertificatesUnavailable || !strings.Contains(e.Message, "--public-url") || !strings.Contains(e.MessageZH, "--public-url") {
			t.Fatalf("%s without a public URL: %d %s", doc, code, b)
		}
	}
	if code, _, b := n.get(t, "/api/v1/evidence/"+rc.ID); code != 200 {
		t.Fatalf("the receipt without a public URL: %d %s", code, b)
	}
}
