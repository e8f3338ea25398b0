package pdf

import (
	"bytes"
	"compress/flate"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/pdf/pdftest"
)

// childInspector runs inspections in this test binary as the child
// process (TestMain), as evidenced runs "evidenced inspect-pdf".
func childInspector(t *testing.T, cfg InspectorConfig) *Inspector {
	t.Helper()
	t.Setenv("EVIDENCE_INSPECT_CHILD", "1")
	cfg.Command = []string{os.Args[0], "-test.run=^$"}
	return NewInspector(cfg)
}

func writeFile(t *testing.T, b []byte) (string, int64) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doc.pdf")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, int64(len(b))
}

// pdfWith builds a PDF whose catalog has extra entries and extra objects
// (object numbers from 4), with a correct cross-reference table.
func pdfWith(catalogExtra string, pagesKids string, extra ...[]byte) []byte {
	objs := [][]byte{
		[]byte("<< /Type /Catalog /Pages 2 0 R " + catalogExtra + " >>"),
		[]byte("<< /Type /Pages /Kids [" + pagesKids + "] /Count 1 >>"),
		[]byte("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>"),
	}
	objs = append(objs, extra...)
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n", i+1)
		b.Write(o)
		b.WriteString("\nendobj\n")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// bomb is a small PDF whose catalog /Metadata stream inflates to n
// spaces (n a multiple of 1 MiB). The zlib stream is assembled rather than
// compressed from n bytes: after the first, every flushed MiB of spaces
// deflates to the same bytes, and the Adler-32 of n equal bytes has a
// closed form.
func bomb(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestSpeed)
	chunk := bytes.Repeat([]byte(" "), 1<<20)
	w.Write(chunk)
	w.Flush()
	first := append([]byte(nil), buf.Bytes()...)
	w.Write(chunk)
	w.Flush()
	next := append([]byte(nil), buf.Bytes()[len(first):]...)
	buf.Reset()
	w.Close()
	final := buf.Bytes()
	z := []byte{0x78, 0x01}
	z = append(z, first...)
	for i := 1; i < n>>20; i++ {
		z = append(z, next...)
	}
	z = append(z, final...)
	const mod = 65521
	N, c := uint64(n), uint64(' ')
	a := (1 + N*c) % mod
	b := (N%mod + c*((N*(N+1)/2)%mod)) % mod
	z = binary.BigEndian.AppendUint32(z, uint32(b<<16|a))
	stream := append([]byte(fmt.Sprintf("<< /Type /Metadata /Subtype /XML /Filter /FlateDecode /Length %d >>\nstream\n", len(z))), z...)
	stream = append(stream, "\nendstream"...)
	return pdfWith("/Metadata 4 0 R", "3 0 R", stream)
}

// TestBomb checks the assembled stream: it inflates to exactly what it
// claims, checksum included.
func TestBomb(t *testing.T) {
	doc := bomb(t, 3<<20)
	i := bytes.Index(doc, []byte("stream\n")) + len("stream\n")
	j := bytes.LastIndex(doc, []byte("\nendstream"))
	r, err := zlib.NewReader(bytes.NewReader(doc[i:j]))
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || len(got) != 3<<20 || bytes.Count(got, []byte(" ")) != len(got) {
		t.Fatalf("inflated %d bytes, %v", len(got), err)
	}
}

// TestSandboxMemory: a decompression bomb is reported not inspected,
// killed at the memory bound, and the next document is inspected.
func TestSandboxMemory(t *testing.T) {
	in := childInspector(t, InspectorConfig{MaxMemory: 96 << 20, Timeout: time.Minute})
	t0 := time.Now()
	p, n := writeFile(t, bomb(t, 1<<30))
	t.Logf("bomb: %d bytes, inflating to 1 GiB, made in %v", n, time.Since(t0))
	t0 = time.Now()
	_, err := in.InspectFile(context.Background(), "a", p, n)
	t.Logf("inspected in %v", time.Since(t0))
	if !errors.Is(err, ErrInspectMemory) {
		t.Fatalf("bomb: %v, want ErrInspectMemory", err)
	}
	p, n = writeFile(t, pdftest.OnePage("after the bomb"))
	info, err := in.InspectFile(context.Background(), "a", p, n)
	if err != nil || !info.PDF || info.Pages != 1 {
		t.Fatalf("a plain PDF after the bomb: %+v %v", info, err)
	}
}

// TestSandboxTimeout: a document that takes too long is reported not
// inspected.
func TestSandboxTimeout(t *testing.T) {
	in := childInspector(t, InspectorConfig{Timeout: 100 * time.Millisecond})
	kids := strings.Repeat("3 0 R ", 300000)
	p, n := writeFile(t, pdfWith("", kids))
	if _, err := in.InspectFile(context.Background(), "a", p, n); !errors.Is(err, ErrInspectTimeout) {
		t.Fatalf("300k kids in 100ms: %v, want ErrInspectTimeout", err)
	}
}

// TestDamaged: a PDF cut short is reported as damaged, not as a one-page
// PDF (pdfcpu would repair it).
func TestDamaged(t *testing.T) {
	doc := pdftest.OnePage("contract")
	for name, b := range map[string][]byte{
		"first half":    doc[:len(doc)/2],
		"no %%EOF":      doc[:len(doc)-7],
		"bad startxref": bytes.Replace(doc, []byte("startxref\n"), []byte("startxref\n9"), 1),
	} {
		info, err := Inspect(bytes.NewReader(b))
		if err != nil || info.PDF || !strings.Contains(info.Error, "damaged") {
			t.Errorf("%s: %+v %v, want a damaged PDF", name, info, err)
		}
	}
	if info, err := Inspect(bytes.NewReader(doc)); err != nil || !info.PDF {
		t.Fatalf("the whole PDF: %+v %v", info, err)
	}
}

// TestFairQueue: no key takes every slot (one is always left for
// others); a waiter whose context ends leaves the queue.
func TestFairQueue(t *testing.T) {
	q := newFairQueue(2)
	ctx := context.Background()
	if err := q.acquire(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	// a holds one of two slots: its second waits, b gets the other at once.
	aWaits := make(chan error, 1)
	go func() { aWaits <- q.acquire(ctx, "a") }()
	time.Sleep(20 * time.Millisecond)
	if err := q.acquire(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-aWaits:
		t.Fatalf("a got a second slot (%v) while b needed one", err)
	default:
	}
	// A waiter that gives up leaves no trace.
	cctx, cancel := context.WithCancel(ctx)
	cErr := make(chan error, 1)
	go func() { cErr <- q.acquire(cctx, "c") }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	if err := <-cErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	// b's slot stays free for others: a holds at most one.
	q.release("b")
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-aWaits:
		t.Fatalf("a holds both slots (%v)", err)
	default:
	}
	q.release("a")
	select {
	case err := <-aWaits:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a's second request never got a slot when its first was done")
	}
	q.release("a")
	if q.free != 2 || len(q.held) != 0 || len(q.order) != 0 {
		t.Fatalf("after all releases: free %d, held %v, order %v", q.free, q.held, q.order)
	}
}
