// Package ledgertest is the conformance suite every node.Ledger passes:
// append and read back, duplicates, conflicts, ordering, concurrency, the
// block chain, restart, and finding records by digest.
package ledgertest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Opener opens the ledger under test. Each call after the previous
// ledger's Close must open the same ledger again (a restart).
type Opener func() (node.Ledger, error)

// Run runs the suite. fresh returns an Opener for a new, empty ledger (or,
// for a shared network, one on which the suite's random IDs are new).
func Run(t *testing.T, fresh func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open Opener)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"NotFound", testNotFound},
		{"Duplicate", testDuplicate},
		{"Conflict", testConflict},
		{"Ordering", testOrdering},
		{"Concurrent", testConcurrent},
		{"Chain", testChain},
		{"Restart", testRestart},
		{"FindDigest", testFindDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, fresh(t)) })
	}
}

var gen = evidence.NewIDGenerator(nil, nil)

// Record returns a valid record with a new ID whose digest depends on seed.
func Record(t testing.TB, seed string) evidence.Record {
	id, err := gen.New()
	if err != nil {
		t.Fatal(err)
	}
	return evidence.Record{
		ID:          id,
		Type:        evidence.File,
		Digests:     []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(seed))},
		Platform:    "conformance",
		DocRef:      "doc-" + seed,
		SubmittedAt: time.Now(),
	}
}

func open(t *testing.T, o Opener) node.Ledger {
	t.Helper()
	l, err := o()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func roots(t *testing.T, l node.Ledger) block.TrustRoots {
	t.Helper()
	info, err := l.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.TrustRoots
}

func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s differs:\n got %s\nwant %s", what, g, w)
	}
}

// checkReceipt verifies a receipt fully: on its own against the trust
// roots, and against the block the ledger returns for it.
func checkReceipt(t *testing.T, l node.Ledger, rc verifier.Receipt, want evidence.Record) {
	t.Helper()
	rec, err := verifier.VerifyReceipt(rc, roots(t, l))
	if err != nil {
		t.Fatalf("receipt %s does not verify: %v", rc.ID, err)
	}
	if !rec.Equal(want) {
		t.Fatalf("receipt %s holds another record", rc.ID)
	}
	b, err := l.Block(ctx(t), rc.BlockNumber)
	if err != nil {
		t.Fatalf("block %d: %v", rc.BlockNumber, err)
	}
	if got := hex.EncodeToString(b.Header.Hash()); got != rc.BlockHash {
		t.Fatalf("block %d hashes to %s, receipt says %s", rc.BlockNumber, got, rc.BlockHash)
	}
	if b.Kind == block.KindEmbedded {
		eb, err := block.ParseEmbedded(b.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := eb.Verify(roots(t, l)); err != nil {
			t.Fatalf("block %d: %v", rc.BlockNumber, err)
		}
		if err := verifier.ReceiptInBlock(rc, eb); err != nil {
			t.Fatal(err)
		}
	}
	if b.Kind == block.KindFabric {
		if _, err := verifier.VerifyFabricBlock(rc.WithoutBlock(), b.Raw, roots(t, l)); err != nil {
			t.Fatalf("receipt %s against block %d as the ledger returns it: %v", rc.ID, rc.BlockNumber, err)
		}
	}
}

func testAppendAndRead(t *testing.T, o Opener) {
	l := open(t, o)
	defer l.Close()
	recs := []evidence.Record{Record(t, "a"), Record(t, "b"), Record(t, "c")}
	rcs, err := l.Append(ctx(t), recs)
	if err != nil {
		t.Fatal(err)
	}
	if len(rcs) != len(recs) {
		t.Fatalf("%d receipts for %d records", len(rcs), len(recs))
	}
	for i, rc := range rcs {
		if rc.ID != recs[i].ID.String() {
			t.Fatalf("receipt %d is for %s, want %s", i, rc.ID, recs[i].ID)
		}
		checkReceipt(t, l, rc, recs[i])
		got, err := l.Receipt(ctx(t), recs[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "Receipt()", got, rc)
	}
	info, err := l.Info(ctx(t))
	if err != nil || info.Height == 0 || info.Name == "" || len(info.TrustRoots.Keys) == 0 && info.Kind == block.KindEmbedded {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	// An invalid record is refused and nothing is written.
	bad := Record(t, "bad")
	bad.Digests = nil
	if _, err := l.Append(ctx(t), []evidence.Record{bad}); err == nil {
		t.Fatal("invalid record accepted")
	}
	if _, err := l.Receipt(ctx(t), bad.ID); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("invalid record: Receipt = %v, want ErrNotFound", err)
	}
}

func testNotFound(t *testing.T, o Opener) {
	l := open(t, o)
	defer l.Close()
	if _, err := l.Receipt(ctx(t), Record(t, "x").ID); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("unknown ID: %v, want ErrNotFound", err)
	}
	info, _ := l.Info(ctx(t))
	if _, err := l.Block(ctx(t), info.Height+1000); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("block past head: %v, want ErrNotFound", err)
	}
}

func testDuplicate(t *testing.T, o Opener) {
	l := open(t, o)
	defer l.Close()
	r := Record(t, "dup")
	first, err := l.Append(ctx(t), []evidence.Record{r})
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.Append(ctx(t), []evidence.Record{r})
	if err != nil {
		t.Fatalf("identical resubmission: %v", err)
	}
	sameJSON(t, "resubmitted receipt", again[0], first[0])
	// Concurrent identical submissions of a new record: one record.
	r2 := Record(t, "dup2")
	var wg sync.WaitGroup
	got := make([]verifier.Receipt, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rc, err := l.Append(ctx(t), []evidence.Record{r2})
			if err == nil {
				got[i] = rc[0]
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("concurrent resubmission %d: %v", i, errs[i])
		}
		sameJSON(t, "concurrent receipt", got[i], got[0])
	}
	// Mixed: one known and one new record in one call.
	r3 := Record(t, "dup3")
	mixed, err := l.Append(ctx(t), []evidence.Record{r, r3})
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "known record in a mixed append", mixed[0], first[0])
	checkReceipt(t, l, mixed[1], r3)
}

func testConflict(t *testing.T, o Opener) {
	l := open(t, o)
	defer l.Close()
	r := Record(t, "orig")
	first, err := l.Append(ctx(t), []evidence.Record{r})
	if err != nil {
		t.Fatal(err)
	}
	other := r
	other.Digests = []evidence.Digest{evidence.Sum(evidence.SHA256, []byte("forged"))}
	fresh := Record(t, "with-conflict")
	if _, err := l.Append(ctx(t), []evidence.Record{fresh, other}); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("conflicting record: %v, want ErrConflict", err)
	}
	got, err := l.Receipt(ctx(t), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameJSON(t, "original after conflict", got, first[0])
	if _, err := l.Receipt(ctx(t), fresh.ID); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("record of a refused append was written: %v", err)
	}
	if _, err := l.Append(ctx(t), []evidence.Record{r, r}); !errors.Is(err, node.ErrConflict) {
		t.Fatalf("one ID twice in one append: %v, want ErrConflict", err)
	}
}

func testOrdering(t *testing.T, o Opener) {
	l := open(t, o)
	defer l.Close()
	var last uint64
	for i := 0; i < 5; i++ {
		rcs, err := l.Append(ctx(t), []evidence.Record{Record(t, fmt.Sprint("o", i))})
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && rcs[0].BlockNumber < last {
			t.Fatalf("append %d landed in block %d, before block %d", i, rcs[0].BlockNumber, last)
		}
		last = rcs[0].BlockNumber
		info, _ := l.Info(ctx(t))
		if info.Height <= last {
			t.Fatalf("height %d does not include block %d", info.Height, last)
		}
	}
}

func testConcurrent(t *testing.T, o Opener) {
	l := open(t, o)
	defer l.Close()
	const workers, per = 16, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	txs := map[string]bool{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var recs []evidence.Record
			for i := 0; i < per; i++ {
				recs = append(recs, Record(t, fmt.Sprint(w, "/", i)))
			}
			rcs, err := l.Append(ctx(t), recs)
			if err != nil {
				t.Error(err)
				return
			}
			for i, rc := range rcs {
				checkReceipt(t, l, rc, recs[i])
				mu.Lock()
				txs[rc.ID+rc.TxID] = true
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	if len(txs) != workers*per {
		t.Fatalf("%d distinct receipts, want %d", len(txs), workers*per)
	}
}

func testChain(t *testing.T, o Opener) {
	l := open(t, o)
	defer l.Close()
	for i := 0; i < 3; i++ {
		if _, err := l.Append(ctx(t), []evidence.Record{Record(t, fmt.Sprint("c", i))}); err != nil {
			t.Fatal(err)
		}
	}
	VerifyChain(t, l)
}

// VerifyChain reads every block from 0 to the head and checks the hash
// chain (and, for embedded blocks, data hashes and seals).
func VerifyChain(t testing.TB, l node.Ledger) {
	t.Helper()
	c := context.Background()
	info, err := l.Info(c)
	if err != nil {
		t.Fatal(err)
	}
	var prev *block.Header
	for n := uint64(0); n < info.Height; n++ {
		b, err := l.Block(c, n)
		if err != nil {
			t.Fatalf("block %d of %d: %v", n, info.Height, err)
		}
		if b.Header.Number != n {
			t.Fatalf("Block(%d) returned block %d", n, b.Header.Number)
		}
		if prev != nil {
			if err := block.VerifyChain([]block.Header{*prev, b.Header}); err != nil {
				t.Fatal(err)
			}
		}
		if b.Kind == block.KindEmbedded {
			eb, err := block.ParseEmbedded(b.Raw)
			if err != nil {
				t.Fatal(err)
			}
			if err := eb.Verify(info.TrustRoots); err != nil {
				t.Fatal(err)
			}
		}
		h := b.Header
		prev = &h
	}
}

func testRestart(t *testing.T, o Opener) {
	l := open(t, o)
	recs := []evidence.Record{Record(t, "r1"), Record(t, "r2")}
	rcs, err := l.Append(ctx(t), recs)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := l.Info(ctx(t))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx(t), []evidence.Record{Record(t, "late")}); err == nil {
		t.Fatal("Append after Close succeeded")
	}
	l = open(t, o)
	defer l.Close()
	after, _ := l.Info(ctx(t))
	if after.Height < before.Height {
		t.Fatalf("height %d after restart, %d before", after.Height, before.Height)
	}
	sameJSON(t, "trust roots after restart", after.TrustRoots, before.TrustRoots)
	for i, r := range recs {
		got, err := l.Receipt(ctx(t), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameJSON(t, "receipt after restart", got, rcs[i])
	}
	more, err := l.Append(ctx(t), []evidence.Record{Record(t, "r3")})
	if err != nil {
		t.Fatal(err)
	}
	if more[0].BlockNumber < before.Height-1 {
		t.Fatalf("new block %d after restart at height %d", more[0].BlockNumber, before.Height)
	}
	VerifyChain(t, l)
}
