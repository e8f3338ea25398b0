package web

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"rsc.io/qr"
)

// What the browser test needs besides the page: axe-core, a certificate's
// QR code as the portal's visitor would scan it, a camera filming one, and
// a file dropped on the page.

// axe-core, from npm, bundled into the test at test time (never served to
// visitors): the pinned version and the integrity npm publishes for it.
const (
	axeVersion   = "4.14.1"
	axeIntegrity = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
)

// axeSource returns axe.min.js: from $EVIDENCE_AXE (a file), else from the
// user's cache, else fetched with npm (npm pack axe-core@VERSION), checked
// against its published integrity and cached. Without npm the test logs
// that axe was not run; a download that fails or does not match fails it.
func axeSource(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EVIDENCE_AXE"); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("EVIDENCE_AXE: %v", err)
		}
		return string(b)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cached := filepath.Join(cache, "evidence-node", "axe-core-"+axeVersion+".min.js")
	if b, err := os.ReadFile(cached); err == nil {
		return string(b)
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Logf("axe-core not run: npm not found (install npm, or set EVIDENCE_AXE to axe.min.js %s)", axeVersion)
		return ""
	}
	dir := t.TempDir()
	cmd := exec.Command(npm, "pack", "--silent", "--pack-destination", dir, "axe-core@"+axeVersion)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm pack axe-core@%s: %v\n%s", axeVersion, err, out)
	}
	tgz, err := os.ReadFile(filepath.Join(dir, "axe-core-"+axeVersion+".tgz"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(tgz)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != axeIntegrity {
		t.Fatalf("axe-core-%s.tgz: integrity %s, want %s", axeVersion, got, axeIntegrity)
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("axe-core-%s.tgz has no package/axe.min.js: %v", axeVersion, err)
		}
		if h.Name != "package/axe.min.js" {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(tr, 8<<20))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(cached), 0o755); err == nil {
			os.WriteFile(cached, b, 0o644)
		}
		return string(b)
	}
}

type axeViolation struct {
	ID    string `json:"id"`
	Help  string `json:"help"`
	Nodes []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
		Why    string `json:"failureSummary"`
	} `json:"nodes"`
}

// state records a state of the page: a screenshot, and axe-core's WCAG 2.1
// A/AA and best-practice rules, which must find nothing.
func (e *portalEnv) state(t *testing.T, name string) {
	t.Helper()
	e.screenshot(t, name)
	if e.axeSrc == "" {
		return
	}
	if !eval[bool](t, e, `typeof window.axe === "object"`) {
		if _, err := chromedp.Run(e.ctx, chromedp.Evaluate[chromedp.Void](e.axeSrc)); err != nil {
			t.Fatalf("loading axe-core: %v", err)
		}
	}
	if e.axeRuns == 0 {
		// The harness finds a violation when there is one.
		vs := eval[[]axeViolation](t, e, `(() => { const d = document.createElement("div"); d.id = "axe-self-test"; d.innerHTML = '<img src="/assets/icon.svg">'; (document.querySelector("dialog[open]") || document.body).appendChild(d);
  return axe.run(d, {runOnly: {type: "rule", values: ["image-alt"]}}).then(r => { d.remove(); return r.violations; }); })()`)
		if len(vs) != 1 || vs[0].ID != "image-alt" {
			t.Fatalf("axe-core self-test: an image without alt gave %+v", vs)
		}
	}
	vs := eval[[]axeViolation](t, e, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}}).then(r => r.violations)`)
	for _, v := range vs {
		var where []string
		for _, n := range v.Nodes {
			where = append(where, fmt.Sprintf("%v %s (%s)", n.Target, n.HTML, n.Why))
		}
		t.Errorf("axe, state %s: %s (%s): %s", name, v.ID, v.Help, strings.Join(where, "; "))
	}
	e.axeRuns++
}

// pdfTool finds a poppler or zbar tool (installed by .ci/deps).
func pdfTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install the Debian packages in .ci/deps (make deps)", name)
	}
	return p
}

// certificateQR downloads the certificate of id from the node, renders it
// and decodes its QR code, as a visitor's phone would.
func certificateQR(t *testing.T, e *portalEnv, id string) string {
	t.Helper()
	resp, err := http.Get(e.url + "/api/v1/evidence/" + id + "/certificate.pdf")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("certificate: %d %s", resp.StatusCode, b)
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "certificate.pdf")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(pdfTool(t, "pdftoppm"), "-r", "150", "-png", "-singlefile", p, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	out, err := exec.Command(pdfTool(t, "zbarimg"), "-q", "--raw", filepath.Join(dir, "page.png")).Output()
	if err != nil {
		t.Fatalf("zbarimg on the certificate: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// qrVideo writes a short Y4M video (what Chromium's fake camera plays) of
// a QR code of text, drawn large on white.
func qrVideo(t *testing.T, dir, text string) string {
	t.Helper()
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		t.Fatal(err)
	}
	const w, h = 640, 480
	mod := (h - 40) / (code.Size + 8)
	x0, y0 := (w-mod*code.Size)/2, (h-mod*code.Size)/2
	y := bytes.Repeat([]byte{235}, w*h)
	for r := 0; r < code.Size; r++ {
		for c := 0; c < code.Size; c++ {
			if !code.Black(c, r) {
				continue
			}
			for dy := 0; dy < mod; dy++ {
				row := (y0+r*mod+dy)*w + x0 + c*mod
				for dx := 0; dx < mod; dx++ {
					y[row+dx] = 16
				}
			}
		}
	}
	chroma := bytes.Repeat([]byte{128}, w*h/2) // U and V, 4:2:0
	blank := bytes.Repeat([]byte{235}, w*h)
	var b bytes.Buffer
	fmt.Fprintf(&b, "YUV4MPEG2 W%d H%d F15:1 Ip A1:1 C420jpeg\n", w, h)
	// Two seconds of a blank sheet (the scanner is seen looking), then two
	// of the code.
	for i := range 60 {
		b.WriteString("FRAME\n")
		if i < 30 {
			b.Write(blank)
		} else {
			b.Write(y)
		}
		b.Write(chroma)
	}
	p := filepath.Join(dir, "qr.y4m")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// dropFile drags a file from outside the browser onto the drop zone, as a
// visitor's file manager does (Input.dispatchDragEvent with the file).
func (e *portalEnv) dropFile(t *testing.T, path string) {
	t.Helper()
	type box struct {
		X float64 `json:"x"`
		Y float64 `json:"y"`
	}
	c := eval[box](t, e, `(() => { const d = document.getElementById("drop"); d.scrollIntoView({block: "center"}); const r = d.getBoundingClientRect(); return {x: r.left + r.width - 20, y: r.top + r.height / 2}; })()`)
	data := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{path}, DragOperationsMask: 1}
	for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
		if _, err := chromedp.Call(e.ctx, input.DispatchDragEvent, input.DispatchDragEventParams{Type: typ, X: c.X, Y: c.Y, Data: data}); err != nil {
			t.Fatalf("drag %s: %v", typ, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
