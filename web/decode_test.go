package web

import (
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
