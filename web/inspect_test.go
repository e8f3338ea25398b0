package web

import (
	"bytes"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/pdf/pdftest"
)

// TestUploadInspection: an uploaded PDF is inspected at submission (pages,
// signatures); a corrupt one is still recorded, and the receipt says it did
// not parse; content that is no PDF gets no inspection.
func TestUploadInspection(t *testing.T) {
	n := newTestNode(t)
	submit := func(content []byte) node.Receipt {
		body, ct := multipartBody(t, nil, content)
		code, b := n.do(t, "POST", "/api/v1/evidence", body, ct, auth(n.key))
		if code != 201 {
			t.Fatalf("upload: %d %s", code, b)
		}
		return decode[node.Receipt](t, b)
	}
	rc := submit(pdftest.OnePage("contract"))
	if !bytes.Contains(rc.PDF, []byte(`"pdf":true`)) || !bytes.Contains(rc.PDF, []byte(`"pages":1`)) {
		t.Fatalf("valid PDF inspection: %s", rc.PDF)
	}
	_, b := n.do(t, "GET", "/api/v1/evidence/"+rc.ID, nil, "")
	if got := decode[node.Receipt](t, b); !bytes.Equal(got.PDF, rc.PDF) {
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
