package web

import (
	"bytes"
	"testing"

	"github.com/evidence-node/evidence-node/verifier/evidence"
)

func FuzzDecodeSubmit(f *testing.F) {
	f.Add([]byte(`{"type":"file","digest":"` + evidence.Sum(evidence.SHA256, nil).Hex() + `"}`))
	f.Add([]byte(`{"type":"text","text":"合同","metadata":{"a":1}}`))
	f.Add([]byte(`{"algorithm":"sm3","digest":"` + evidence.Sum(evidence.SM3, nil).Base64() + `","doc_ref":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		sub, err := DecodeSubmit(b)
		if err != nil {
			if toAPI(err).Status >= 500 {
				t.Fatalf("bad input mapped to %d: %v", toAPI(err).Status, err)
			}
			return
		}
		if err := sub.Validate(); err != nil {
			t.Fatalf("decoded submission is invalid: %v", err)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"items":[{"digest":"` + evidence.Sum(evidence.SHA256, nil).Hex() + `"},{"type":"text","text":"x"}]}`))
	f.Add([]byte(`{"items":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		subs, err := DecodeBatch(b)
		if err != nil {
			if toAPI(err).Status >= 500 {
				t.Fatalf("bad input mapped to %d: %v", toAPI(err).Status, err)
			}
			return
		}
		if len(subs) == 0 || len(subs) > MaxBatch {
			t.Fatalf("%d items accepted", len(subs))
		}
		for _, s := range subs {
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func FuzzDecodeVerify(f *testing.F) {
	id, _ := evidence.NewIDGenerator(nil, nil).New()
	f.Add([]byte(`{"id":"` + id.String() + `","digest":"` + evidence.Sum(evidence.SHA256, nil).Hex() + `"}`))
	f.Add([]byte(`{"id":"` + id.Grouped() + `","text":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		gotID, ds, err := DecodeVerify(b)
		if err != nil {
			if toAPI(err).Status >= 500 {
				t.Fatalf("bad input mapped to %d: %v", toAPI(err).Status, err)
			}
			return
		}
		if gotID.IsZero() || len(ds) == 0 {
			t.Fatal("accepted without ID or digest")
		}
		for _, d := range ds {
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzMultipart sends fuzzed multipart bodies through the real upload and
// verification handlers: any answer but a 5xx or a panic is fine.
func FuzzMultipart(f *testing.F) {
	f.Add([]byte("--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF-1.4\r\n--B--\r\n"), true)
	f.Add([]byte("--B\r\nContent-Disposition: form-data; name=\"id\"\r\n\r\n01M83X7VSK89V4F2ZGF28CEZDZ2\r\n--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--B--\r\n"), false)
	f.Add([]byte("--B\r\n\r\n--B--"), true)
	n := newTestNode(f)
	f.Fuzz(func(t *testing.T, body []byte, submit bool) {
		path := "/api/v1/verify"
		var opts []reqOpt
		if submit {
			path, opts = "/api/v1/evidence", []reqOpt{auth(n.key)}
		}
		code, b := n.do(t, "POST", path, bytes.NewReader(body), "multipart/form-data; boundary=B", opts...)
		if code >= 500 {
			t.Fatalf("%d %s", code, b)
		}
	})
}
