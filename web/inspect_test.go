package web

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/evidence-node/evidence-node/verifier"
)

// onePagePDF writes a small well-formed one-page PDF with a correct xref.
func onePagePDF() []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << >> >>",
		"<< /Length 0 >>\nstream\n\nendstream",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

// TestUploadInspection: an uploaded PDF is inspected at submission (pages,
// signatures); a corrupt one is still recorded, and the receipt says it did
// not parse; content that is no PDF gets no inspection.
func TestUploadInspection(t *testing.T) {
	n := newTestNode(t)
	submit := func(content []byte) verifier.Receipt {
		body, ct := multipartBody(t, nil, content)
		code, b := n.do(t, "POST", "/api/v1/evidence", body, ct, auth(n.key))
		if code != 201 {
			t.Fatalf("upload: %d %s", code, b)
		}
		return decode[verifier.Receipt](t, b)
	}
	rc := submit(onePagePDF())
	if !bytes.Contains(rc.PDF, []byte(`"pdf":true`)) || !bytes.Contains(rc.PDF, []byte(`"pages":1`)) {
		t.Fatalf("valid PDF inspection: %s", rc.PDF)
	}
	_, b := n.do(t, "GET", "/api/v1/evidence/"+rc.ID, nil, "")
	if got := decode[verifier.Receipt](t, b); !bytes.Equal(got.PDF, rc.PDF) {
		t.Fatalf("GET lost the inspection: %s", got.PDF)
	}
	bad := submit([]byte("%PDF-1.4\nthis is not really a PDF\n"))
	if !bytes.Contains(bad.PDF, []byte(`"pdf":false`)) || !bytes.Contains(bad.PDF, []byte(`"error"`)) {
		t.Fatalf("corrupt PDF inspection: %s", bad.PDF)
	}
	if plain := submit([]byte("just text")); plain.PDF != nil {
		t.Fatalf("non-PDF got an inspection: %s", plain.PDF)
	}
}
