package pdf

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// configDir is the pdfcpu directory shared by the package's tests.
var configDir string

func TestMain(m *testing.M) {
	// The test binary doubles as the inspection child (see sandbox_test.go).
	if os.Getenv("EVIDENCE_INSPECT_CHILD") == "1" {
		if err := InspectChild(os.Args[len(os.Args)-1], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "evidence-pdf-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	configDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func renderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := New(Config{Dir: configDir})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// outDir is where tests keep what a person may want to look at
// (EVIDENCE_TEST_OUT, else a temporary directory).
func outDir(t testing.TB) string {
	if d := os.Getenv("EVIDENCE_TEST_OUT"); d != "" {
		d = filepath.Join(d, "pdf")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install the Debian packages in .ci/deps (make deps)", name)
	}
	return p
}

// sampleReceipt is a receipt as the node would issue for a file.
func sampleReceipt(t testing.TB) verifier.Receipt {
	t.Helper()
	id, err := evidence.NewIDGenerator(func() time.Time { return time.Date(2026, 11, 23, 9, 54, 19, 0, time.UTC) }, nil).New()
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("%PDF-1.4\n% contract no. 2026-001\n%%EOF\n")
	rec := evidence.Record{
		ID: id, Type: evidence.File,
		Digests:  []evidence.Digest{evidence.Sum(evidence.SHA256, content), evidence.Sum(evidence.SM3, content)},
		Platform: "acme", DocRef: "HT-2026-001 采购合同", SubmittedAt: time.Date(2026, 11, 23, 9, 54, 19, 571e6, time.UTC),
	}
	rc := verifier.NewReceipt(rec)
	rc.Ledger, rc.LedgerKind = "evidence-local", "embedded"
	rc.BlockNumber = 12
	rc.BlockHash = hex.EncodeToString(bytes.Repeat([]byte{0x16, 0x47}, 16))
	rc.TxID = hex.EncodeToString(bytes.Repeat([]byte{0xab}, 32))
	rc.LedgerTime = "2026-11-23T09:54:19.571Z"
	rc.TimeSource = verifier.TimeSourceNode
	rc.Proof.Kind = verifier.ProofEmbedded
	return rc
}

func TestCertificate(t *testing.T) {
	r := renderer(t)
	rc := sampleReceipt(t)
	in := &Info{PDF: true, Version: "1.7", Pages: 3,
		Signatures: []Signature{{Kind: "form", Signed: true, Integrity: Intact, Trust: Unknown}}}
	start := time.Now()
	doc, err := r.Certificate(context.Background(), rc, CertOptions{BaseURL: "http://127.0.0.1:8080", ManifestDigest: strings.Repeat("9f", 32), Inspection: in})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("certificate: %d bytes in %v", len(doc), time.Since(start))
	dir := outDir(t)
	path := filepath.Join(dir, "certificate.pdf")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}

	// pdfcpu validate.
	if err := api.Validate(bytes.NewReader(doc), config()); err != nil {
		t.Fatalf("pdfcpu validate: %v", err)
	}
	info, err := Inspect(bytes.NewReader(doc))
	if err != nil || !info.PDF || info.Pages != 1 || len(info.Signatures) != 0 {
		t.Fatalf("inspect: %+v, %v", info, err)
	}

	// The text, Chinese included, is there as text.
	out, err := exec.Command(tool(t, "pdftotext"), "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"存证证书", "Evidence Certificate", "统一证据编号", "块高", "区块哈希", "存证时间", "证据数字指纹",
		rc.ID, rc.DigestHex, rc.DigestBase64, rc.BlockHash, "2026-11-23 17:54:19.571", "evidence-local", "采购合同", "非可信时间戳"} {
		if !strings.Contains(text, want) {
			t.Errorf("pdftotext: %q missing from\n%s", want, text)
		}
	}

	// Rendered, the page is not blank; keep the screenshot.
	prefix := filepath.Join(dir, "certificate")
	if out, err := exec.Command(tool(t, "pdftoppm"), "-png", "-r", "110", "-singlefile", path, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	f, err := os.Open(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ink := inkRatio(img); ink < 0.02 || ink > 0.5 {
		t.Errorf("rendered page has %.3f of its pixels inked; want a printed page, not a blank or black one", ink)
	}
	// The red title band renders in red: Chinese glyphs drawn, not boxes.
	if red := redPixels(img, 0, img.Bounds().Dy()/7); red < 500 {
		t.Errorf("title area has %d red pixels: the title did not render", red)
	}
	t.Logf("screenshot: %s.png", prefix)

	// The QR code decodes to the verification link.
	out, err = exec.Command(tool(t, "zbarimg"), "-q", "--raw", prefix+".png").Output()
	if err != nil {
		t.Fatalf("zbarimg: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), VerifyURL("http://127.0.0.1:8080", rc); got != want {
		t.Errorf("QR code = %q, want %q", got, want)
	}
}

func inkRatio(img image.Image) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xc000 || g < 0xc000 || bl < 0xc000 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

func redPixels(img image.Image, y0, y1 int) int {
	b := img.Bounds()
	n := 0
	for y := y0; y < y1; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r > 0x7000 && g < 0x5000 && bl < 0x5000 {
				n++
			}
		}
	}
	return n
}

func TestVerifyURL(t *testing.T) {
	rc := verifier.Receipt{ID: "01M83X7VSK89V4F2ZGF28CEZDZ2", Algorithm: evidence.SHA256, DigestHex: "ab"}
	// The link names the record only: no digest, so that opening it can
	// never pass a check by itself (issue 9).
	for _, base := range []string{"https://node.example", "https://node.example/"} {
		if got, want := VerifyURL(base, rc), "https://node.example/verify?id=01M83X7VSK89V4F2ZGF28CEZDZ2"; got != want {
			t.Errorf("VerifyURL(%q) = %q, want %q", base, got, want)
		}
	}
	rc.Algorithm = evidence.SM3
	if got, want := VerifyURL("http://n/prefix", rc), "http://n/prefix/verify?id=01M83X7VSK89V4F2ZGF28CEZDZ2"; got != want {
		t.Errorf("VerifyURL = %q, want %q", got, want)
	}
}

// The longest fields still fit the page: the last line of the package
// note stays above the footer.
func TestCertificateLongFields(t *testing.T) {
	r := renderer(t)
	rc := sampleReceipt(t)
	in := &Info{PDF: true, Version: "1.7", Pages: 300,
		Signatures: []Signature{{Signed: true, Integrity: Modified}, {Signed: true, Integrity: Intact}}}
	rc.DocRef = strings.Repeat("合同编号", 21) + "1234"
	rc.Ledger = strings.Repeat("long-ledger-name-", 4)
	l, err := certificateLayout(rc, CertOptions{BaseURL: "https://evidence-verification.example.gov.cn:8443/some/prefix", ManifestDigest: strings.Repeat("ab", 32), Inspection: in}, r.font)
	if err != nil {
		t.Fatal(err)
	}
	footer, lowest := 0.0, 0.0
	for _, tx := range l.Pages["1"].Content.Text {
		if strings.HasPrefix(tx.Value, "本证书由") {
			footer = tx.Pos[1]
		} else if !strings.HasPrefix(tx.Value, "Generated by") {
			lowest = max(lowest, tx.Pos[1])
		}
	}
	if lowest > footer-14 {
		t.Errorf("content reaches y=%.0f, the footer is at %.0f", lowest, footer)
	}
	doc, err := r.Certificate(context.Background(), rc, CertOptions{BaseURL: "https://evidence-verification.example.gov.cn:8443/some/prefix", ManifestDigest: strings.Repeat("ab", 32)})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(outDir(t), "certificate-long.pdf"), doc, 0o644)
}

func TestCertificateTextReceipt(t *testing.T) {
	r := renderer(t)
	rc := sampleReceipt(t)
	rc.Type, rc.DocRef = evidence.Text, ""
	rc.Digests = rc.Digests[:1]
	doc, err := r.Certificate(context.Background(), rc, CertOptions{BaseURL: "https://evidence.example.cn/node"})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Validate(bytes.NewReader(doc), config()); err != nil {
		t.Fatal(err)
	}
}

func TestCertificateConcurrent(t *testing.T) {
	r := renderer(t)
	rc := sampleReceipt(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Certificate(context.Background(), rc, CertOptions{BaseURL: "http://127.0.0.1:8080"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// A cancelled wait for a slot gives up.
	for range cap(r.sem) {
		r.sem <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Certificate(ctx, rc, CertOptions{BaseURL: "http://x"}); err == nil {
		t.Error("Certificate with all slots taken and a done context succeeded")
	}
	for range cap(r.sem) {
		<-r.sem
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without Dir succeeded")
	}
	if _, err := New(Config{Dir: configDir, FontPath: "/nonexistent/font.ttc"}); err == nil {
		t.Error("New with a missing font succeeded")
	}
	_, err := New(Config{Dir: t.TempDir(), FontPaths: []string{"/nonexistent/a.ttc"}})
	if err == nil || !strings.Contains(err.Error(), "fonts-wqy-zenhei") {
		t.Errorf("New without a font: %v, want a message naming fonts-wqy-zenhei", err)
	}
}

func TestAttachExtract(t *testing.T) {
	r := renderer(t)
	doc, err := r.Certificate(context.Background(), sampleReceipt(t), CertOptions{BaseURL: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	bin := make([]byte, 70000)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	files := []File{
		{Name: "receipt.json", Description: "receipt", Data: []byte(`{"v":1}`), ModTime: time.Date(2026, 11, 23, 9, 54, 19, 0, time.UTC)},
		{Name: "block-12.json", Data: []byte("{}\n")},
		{Name: "blob.bin", Data: bin},
		{Name: "empty", Data: nil},
	}
	pkg, err := AttachFiles(doc, files)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ExtractAttachments(bytes.NewReader(pkg))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]File{}
	for _, f := range got {
		byName[f.Name] = f
	}
	if len(got) != len(files) {
		t.Fatalf("extracted %d files, want %d", len(got), len(files))
	}
	for _, f := range files {
		g, ok := byName[f.Name]
		if !ok || !bytes.Equal(g.Data, f.Data) {
			t.Errorf("%s: extracted %d bytes, want the %d attached", f.Name, len(g.Data), len(f.Data))
		}
	}
	if d := byName["receipt.json"].Description; d != "receipt" {
		t.Errorf("description = %q", d)
	}
	if err := api.Validate(bytes.NewReader(pkg), config()); err != nil {
		t.Fatalf("pdfcpu validate of the package: %v", err)
	}

	// Common tools see the same files.
	path := filepath.Join(t.TempDir(), "package.pdf")
	os.WriteFile(path, pkg, 0o644)
	out, err := exec.Command(tool(t, "pdfdetach"), "-list", path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfdetach: %v\n%s", err, out)
	}
	for _, f := range files {
		if !strings.Contains(string(out), f.Name) {
			t.Errorf("pdfdetach -list does not show %s:\n%s", f.Name, out)
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("pdfdetach", "-saveall", "-o", dir, path).CombinedOutput(); err != nil {
		t.Fatalf("pdfdetach -saveall: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "blob.bin")); !bytes.Equal(b, bin) {
		t.Error("pdfdetach extracted different bytes")
	}

	if _, err := AttachFiles(doc, []File{{Name: "a"}, {Name: "a"}}); err == nil {
		t.Error("attaching two files of one name succeeded")
	}
	if _, err := ExtractAttachments(bytes.NewReader([]byte("not a pdf"))); err == nil {
		t.Error("extracting from garbage succeeded")
	}
	none, err := ExtractAttachments(bytes.NewReader(doc))
	if err != nil || len(none) != 0 {
		t.Errorf("extract from a PDF without attachments: %v, %v", none, err)
	}
}

func BenchmarkCertificate(b *testing.B) {
	r := renderer(b)
	rc := sampleReceipt(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Certificate(context.Background(), rc, CertOptions{BaseURL: "http://127.0.0.1:8080"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCertificateParallel renders from many goroutines; the
// renderer lets DefaultConcurrency run at once.
func BenchmarkCertificateParallel(b *testing.B) {
	r := renderer(b)
	rc := sampleReceipt(b)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Certificate(context.Background(), rc, CertOptions{BaseURL: "http://127.0.0.1:8080"}); err != nil {
				b.Error(err)
			}
		}
	})
}

// A font removed from the directory (temporary directories get cleaned)
// is installed again by the next New.
func TestReinstall(t *testing.T) {
	dir := t.TempDir()
	r, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	gob := filepath.Join(dir, versionDir, "pdfcpu", "fonts", r.font+".gob")
	if err := os.Remove(gob); err != nil {
		t.Fatal(err)
	}
	if r, err = New(Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(gob); err != nil {
		t.Fatalf("font not reinstalled: %v", err)
	}
	if _, err := r.Certificate(context.Background(), sampleReceipt(t), CertOptions{BaseURL: "http://x"}); err != nil {
		t.Fatal(err)
	}
	// Back to the shared directory for the other tests.
	renderer(t)
}

// TestCertificateTrustedTime: with RFC 3161 timestamps the certificate
// shows 可信时间 — each gen_time in Beijing time, the zone named, and the
// TSA's name — next to 存证时间; while they are pending it says so; the
// page stays one page.
func TestCertificateTrustedTime(t *testing.T) {
	r := renderer(t)
	base := sampleReceipt(t)
	stamped := base.WithTimestamps([]verifier.Timestamp{
		{Kind: verifier.TimestampRFC3161, TSA: "Test TSA 5f1e", GenTime: "2026-11-23T09:54:21.000Z", Token: []byte{1}},
		{Kind: verifier.TimestampRFC3161, TSA: "Court TSA 国家授时中心", GenTime: "2026-11-23T09:54:22.000Z", Token: []byte{2}},
	}, false)
	for _, tc := range []struct {
		name string
		rc   verifier.Receipt
		want []string
		not  []string
	}{
		{"stamped", stamped, []string{"存证时间", "可信时间", "Trusted time", "2026-11-23 17:54:21.000（北京时间 UTC+8）", "Test TSA 5f1e", "Court TSA 国家授时中心", "RFC 3161"}, []string{"尚未取得"}},
		{"pending", base.WithTimestamps(nil, true), []string{"可信时间", "可信时间戳尚未取得", "Trusted time pending"}, []string{"Test TSA"}},
		{"none", base, []string{"存证时间"}, []string{"Trusted time"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := r.Certificate(context.Background(), tc.rc, CertOptions{BaseURL: "http://127.0.0.1:8080", ManifestDigest: strings.Repeat("9f", 32),
				Inspection: &Info{PDF: true, Version: "1.7", Pages: 3}})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(outDir(t), "certificate-"+tc.name+".pdf")
			if err := os.WriteFile(path, doc, 0o644); err != nil {
				t.Fatal(err)
			}
			info, err := Inspect(bytes.NewReader(doc))
			if err != nil || info.Pages != 1 {
				t.Fatalf("inspect: %+v, %v", info, err)
			}
			out, err := exec.Command(tool(t, "pdftotext"), "-layout", path, "-").CombinedOutput()
			if err != nil {
				t.Fatalf("pdftotext: %v\n%s", err, out)
			}
			text := strings.Join(strings.Fields(string(out)), " ")
			for _, w := range tc.want {
				if !strings.Contains(text, strings.Join(strings.Fields(w), " ")) {
					t.Errorf("%q missing from\n%s", w, out)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(text, w) {
					t.Errorf("%q in\n%s", w, out)
				}
			}
			// The QR code still decodes at the resolution TestCertificate uses.
			prefix := strings.TrimSuffix(path, ".pdf")
			if out, err := exec.Command(tool(t, "pdftoppm"), "-png", "-r", "110", "-singlefile", path, prefix).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v\n%s", err, out)
			}
			qr, err := exec.Command(tool(t, "zbarimg"), "-q", "--raw", prefix+".png").Output()
			if got, want := strings.TrimSpace(string(qr)), VerifyURL("http://127.0.0.1:8080", tc.rc); err != nil || got != want {
				t.Errorf("QR code = %q (%v), want %q", got, err, want)
			}
		})
	}
}
