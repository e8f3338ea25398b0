package ledgertest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// testFindDigest: records are found by any of their digests, in ID order,
// page by page, across appends and a restart; an unknown digest finds
// nothing.
func testFindDigest(t *testing.T, o Opener) {
	l := open(t, o)
	seed := make([]byte, 16)
	rand.Read(seed)
	content := hex.EncodeToString(seed) // a digest no other test records
	var recs []evidence.Record
	for i := 0; i < 5; i++ {
		r := Record(t, content)
		if i == 3 {
			r.Digests = append(r.Digests, evidence.Sum(evidence.SM3, []byte(content)))
		}
		recs = append(recs, r)
	}
	other := Record(t, content+"-other")
	// Two appends: the records lie in more than one block.
	if _, err := l.Append(ctx(t), []evidence.Record{recs[0], other, recs[1]}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx(t), recs[2:]); err != nil {
		t.Fatal(err)
	}
	want := make([]evidence.ID, len(recs))
	for i, r := range recs {
		want[i] = r.ID
	}
	slices.SortFunc(want, func(a, b evidence.ID) int { return bytes.Compare(a[:], b[:]) })
	d := recs[0].Digests[0]

	check := func(l node.Ledger) {
		t.Helper()
		got, err := l.FindDigest(ctx(t), d, evidence.ID{}, 100)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("FindDigest(all) = %v, %v; want %v", got, err, want)
		}
		// Pages of two, each after the last ID of the one before.
		var paged []evidence.ID
		var after evidence.ID
		for range 10 {
			page, err := l.FindDigest(ctx(t), d, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(page) > 2 {
				t.Fatalf("page of %d, limit 2", len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			after = page[len(page)-1]
		}
		if !slices.Equal(paged, want) {
			t.Fatalf("paged FindDigest = %v, want %v", paged, want)
		}
		if got, err := l.FindDigest(ctx(t), recs[3].Digests[1], evidence.ID{}, 100); err != nil || !slices.Equal(got, []evidence.ID{recs[3].ID}) {
			t.Fatalf("FindDigest(the second digest) = %v, %v; want [%s]", got, err, recs[3].ID)
		}
		if got, err := l.FindDigest(ctx(t), evidence.Sum(evidence.SHA256, seed), evidence.ID{}, 100); err != nil || len(got) != 0 {
			t.Fatalf("FindDigest(unknown) = %v, %v; want none", got, err)
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open(t, o)
	defer l.Close()
	check(l)
}
