package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image/png"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"

	"github.com/evidence-node/evidence-node/node/pdf/pdftest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// readReport checks a verification report as a court would: poppler
// renders it (not blank) and finds its text, zbar decodes its QR code,
// pdfsig reports it signed over the whole file. It returns the text.
func readReport(t *testing.T, doc []byte, wantQR string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(p, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdfTool(t, "pdfsig"), p).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Signature is Valid.")) || !bytes.Contains(out, []byte("Total document signed")) {
		t.Errorf("pdfsig: %v\n%s", err, out)
	}
	text, err := exec.Command(pdfTool(t, "pdftotext"), "-layout", p, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	if out, err := exec.Command(pdfTool(t, "pdftoppm"), "-png", "-r", "110", "-singlefile", p, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	f, err := os.Open(filepath.Join(dir, "page.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	inked := 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			if r, g, bl, _ := img.At(x, y).RGBA(); r < 0xc000 || g < 0xc000 || bl < 0xc000 {
				inked++
			}
		}
	}
	if ratio := float64(inked) / float64(b.Dx()*b.Dy()/4); ratio < 0.02 {
		t.Errorf("the rendered report is blank (%.3f inked)", ratio)
	}
	qr, err := exec.Command(pdfTool(t, "zbarimg"), "-q", "--raw", filepath.Join(dir, "page.png")).Output()
	if err != nil || strings.TrimSpace(string(qr)) != wantQR {
		t.Errorf("QR code %q (%v), want %q", qr, err, wantQR)
	}
	return string(text)
}

func TestVerificationReport(t *testing.T) {
	n := newTestNode(t)
	pdf := pdftest.OnePage("Contract HT-2026-009")
	body, ct := multipartBody(t, map[string]string{"doc_ref": "HT-2026-009"}, pdf)
	code, b := n.do(t, "POST", "/api/v1/evidence", body, ct, auth(n.key))
	if code != 201 {
		t.Fatalf("upload: %d %s", code, b)
	}
	rc := decode[verifier.Receipt](t, b)
	link := "http://127.0.0.1:8080/verify?id=" + rc.ID

	post := func(v any) (int, map[string]string, []byte) {
		t.Helper()
		code, b := n.json(t, "POST", "/api/v1/verify/report.pdf", v)
		return code, nil, b
	}
	size := int64(len(pdf))
	// The genuine file (its digest, as the portal sends it): a pass.
	code, _, doc := post(map[string]any{"id": rc.ID, "algorithm": "sha256", "digest": rc.DigestHex, "content": "file", "file_name": "采购合同 HT-2026-009.pdf", "size": size})
	if code != 200 || !bytes.HasPrefix(doc, []byte("%PDF-")) {
		t.Fatalf("report: %d %.200s", code, doc)
	}
	text := readReport(t, doc, link)
	for _, want := range []string{"核验报告", "核验通过", "三项核验全部通过", "采购合同 HT-2026-009.pdf", "字节", "http://127.0.0.1:8080", "test",
		"电子证据已在区块链存证", "电子数据包完整性校验通过", rc.BlockHash, rc.TxID, "acme", "HT-2026-009", "北京时间", rc.ID} {
		if !strings.Contains(text, want) {
			t.Errorf("report text lacks %q", want)
		}
	}
	// A forged file: the report says the content differs.
	forged := evidence.Sum(evidence.SHA256, []byte("forged"))
	code, _, doc = post(map[string]any{"id": rc.ID, "digest": forged.Hex(), "content": "file", "file_name": "forged.pdf"})
	if code != 200 {
		t.Fatalf("report of a forged file: %d %s", code, doc)
	}
	if text := readReport(t, doc, link); !strings.Contains(text, "存证记录完整，但内容不一致") || !strings.Contains(text, "未通过") || strings.Contains(text, "核验通过") {
		t.Errorf("forged report:\n%s", text)
	}
	// A typed digest is reported as typed; an unknown ID as not found.
	code, _, doc = post(map[string]any{"id": rc.ID, "digest": rc.DigestBase64, "content": "digest"})
	if code != 200 || !strings.Contains(readReport(t, doc, link), "按核验者输入的摘要") {
		t.Errorf("typed digest report: %d", code)
	}
	unknown, _ := evidence.NewIDGenerator(nil, nil).New()
	code, _, doc = post(map[string]any{"id": unknown.String(), "digest": rc.DigestHex, "content": "text", "size": 12})
	if code != 200 || !strings.Contains(readReport(t, doc, "http://127.0.0.1:8080/verify?id="+unknown.String()), "未找到存证记录") {
		t.Errorf("not-found report: %d", code)
	}
	// Each report is its own signed file, with its fingerprint.
	js, _ := json.Marshal(map[string]any{"id": rc.ID, "digest": rc.DigestHex, "content": "file", "file_name": "a.pdf"})
	req := httptest.NewRequest("POST", "/api/v1/verify/report.pdf", bytes.NewReader(js))
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.app.Test(req, fiber.TestConfig{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(doc)
	if resp.StatusCode != 200 || resp.Header.Get(HeaderFingerprint) != hex.EncodeToString(sum[:]) || resp.Header.Get("Content-Type") != "application/pdf" ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "verification-report-"+rc.ID) || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("report headers: %d %v", resp.StatusCode, resp.Header)
	}

	// Bad requests are refused with their reason, and render nothing.
	for _, tt := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"id": mistype(rc.ID, 5), "digest": rc.DigestHex, "content": "file", "file_name": "a"}, CodeIDChecksum},
		{map[string]any{"id": "nope", "digest": rc.DigestHex, "content": "file", "file_name": "a"}, CodeIDInvalid},
		{map[string]any{"id": rc.ID, "digest": rc.DigestHex, "content": "photo"}, CodeBadRequest},
		{map[string]any{"id": rc.ID, "digest": rc.DigestHex, "content": "file"}, CodeBadRequest},
		{map[string]any{"id": rc.ID, "digest": rc.DigestHex, "content": "text", "file_name": "a"}, CodeBadRequest},
		{map[string]any{"id": rc.ID, "digest": rc.DigestHex, "content": "file", "file_name": "abc\u202etxt.exe"}, CodeBadRequest},
		{map[string]any{"id": rc.ID, "digest": rc.DigestHex, "content": "file", "file_name": strings.Repeat("名", 100)}, CodeBadRequest},
		{map[string]any{"id": rc.ID, "digest": rc.DigestHex, "content": "file", "file_name": "a", "size": -1}, CodeBadRequest},
		{map[string]any{"id": rc.ID, "digest": rc.DigestHex, "content": "digest", "size": 3}, CodeBadRequest},
		{map[string]any{"id": rc.ID, "content": "file", "file_name": "a"}, CodeBadRequest},
		{map[string]any{"id": rc.ID, "digest": "zz", "content": "file", "file_name": "a"}, CodeBadRequest},
		{map[string]any{"id": rc.ID, "digest": rc.DigestHex, "content": "file", "file_name": "a", "extra": 1}, CodeBadRequest},
	} {
		code, _, b := post(tt.body)
		if code != 400 || errCode(t, b) != tt.code {
			t.Errorf("%v: %d %s, want 400 %s", tt.body, code, b, tt.code)
		}
	}
	if code, b := n.do(t, "GET", "/api/v1/verify/report.pdf", nil, ""); code != 405 {
		t.Errorf("GET report: %d %s", code, b)
	}
}

// A record still queued has no report yet: 202, as for certificates.
func TestVerificationReportPending(t *testing.T) {
	n, led := newQueuedTestNode(t)
	led.Down.Store(true)
	code, b := n.json(t, "POST", "/api/v1/evidence", map[string]string{"digest": evidence.Sum(evidence.SHA256, []byte("q")).Hex()}, auth(n.key))
	if code != 202 {
		t.Fatalf("submit: %d %s", code, b)
	}
	id := decode[Pending](t, b).ID
	code, b = n.json(t, "POST", "/api/v1/verify/report.pdf", map[string]any{"id": id, "digest": evidence.Sum(evidence.SHA256, []byte("q")).Hex(), "content": "digest"})
	if code != 202 || decode[Pending](t, b).Status != "pending" {
		t.Fatalf("report of a queued record: %d %s", code, b)
	}
}
