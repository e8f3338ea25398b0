package client_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/web/client"
	"github.com/evidence-node/evidence-node/web/webtest"
)

func TestLookupAndVerifyRecord(t *testing.T) {
	n := webtest.Start(t, webtest.Options{})
	c := client.New(n.URL, client.WithKey(n.Key))
	anon := client.New(n.URL)
	text := "采购合同 HT-9"
	var ids []string
	for range 3 {
		rc, err := c.Submit(ctx(t), client.Submission{Type: "text", Text: &text}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rc.ID)
	}
	d := evidence.Sum(evidence.SHA256, []byte(text))
	var got []string
	cursor := ""
	for range 5 {
		f, err := anon.Lookup(ctx(t), d, 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.IDs) != len(f.Receipts) || len(f.IDs) > 2 {
			t.Fatalf("page %+v", f)
		}
		got = append(got, f.IDs...)
		if cursor = f.NextCursor; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("Lookup pages = %v, want %v", got, ids)
	}
	if f, err := anon.Lookup(ctx(t), evidence.Sum(evidence.SM3, []byte("nobody")), 0, ""); err != nil || len(f.IDs) != 0 {
		t.Fatalf("unknown digest: %+v, %v", f, err)
	}
	if _, err := anon.Lookup(ctx(t), d, 0, "not-a-cursor"); !errors.Is(err, client.ErrBadRequest) {
		t.Fatalf("bad cursor: %v", err)
	}

	v, err := anon.VerifyRecord(ctx(t), ids[0])
	if err != nil || v.Verdict != verifier.VerdictFail || v.Outcome != "no_content" || !v.Checks[1].Pass || !v.Checks[2].Pass || v.Checks[0].Pass {
		t.Fatalf("VerifyRecord = %+v, %v", v, err)
	}
}
