package fabric_test

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/evidence-node/evidence-node/node/fabric"
	"github.com/evidence-node/evidence-node/node/fabric/fabrictest"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// gateway connects a bare Fabric Gateway client as org's user, for
// calling the chaincode directly.
func gateway(t *testing.T, org string) *client.Contract {
	n := needNetwork(t)
	p, err := fabric.LoadProfile(n.Profile)
	if err != nil {
		t.Fatal(err)
	}
	return fabrictest.Contract(t, p, n.Chaincode, org)
}

// TestChaincode calls the evidence chaincode on the network through a
// bare gateway client: the functions, the conflict rule, idempotence.
func TestChaincode(t *testing.T) {
	cc := gateway(t, "platform")
	r := ledgertest.Record(t, "chaincode-test")
	r.Digests = append(r.Digests, evidence.Sum(evidence.SM3, []byte("chaincode-test")))
	leaf, _ := r.Canonical()

	out, commit, err := cc.SubmitAsync(fabricblock.FnPut, client.WithArguments(string(leaf)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := commit.Status()
	if err != nil || !st.Successful {
		t.Fatalf("Put: %v %+v", err, st)
	}
	bt, root, err := fabricblock.ParseBatch(out)
	if err != nil || bt.Size != 1 || hex.EncodeToString(root) != verifier.EmbeddedTxID(leaf) {
		t.Fatalf("Put answered %s: %v", out, err)
	}

	got, err := cc.Evaluate(fabricblock.FnGet, client.WithArguments(strings.ToLower(r.ID.Grouped())))
	if err != nil {
		t.Fatal(err)
	}
	e, err := fabricblock.ParseEntry(got)
	if err != nil || e.V != fabricblock.EntryVersion || !e.Holds(leaf) || e.TxID != st.TransactionID || e.Index != 0 || e.Size != 1 {
		t.Fatalf("Get = %s, %v", got, err)
	}

	// An identical resubmission succeeds; a different record is refused.
	if _, err := cc.Submit(fabricblock.FnPut, client.WithArguments(string(leaf))); err != nil {
		t.Fatalf("identical resubmission: %v", err)
	}
	forged := r
	forged.DocRef = "forged"
	fl, _ := forged.Canonical()
	_, err = cc.Submit(fabricblock.FnPut, client.WithArguments(string(fl)))
	var ee *client.EndorseError
	if !errors.As(err, &ee) || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("conflicting record: %v, want an endorse error saying conflict", err)
	}
	// Invalid records never reach the ledger.
	_, err = cc.Submit(fabricblock.FnPut, client.WithArguments(`{"v":1}`))
	if !errors.As(err, &ee) {
		t.Fatalf("invalid record: %v", err)
	}

	for _, d := range r.Digests {
		ids, err := cc.Evaluate(fabricblock.FnListByDigest, client.WithArguments(string(d.Algorithm), d.Hex()))
		if err != nil || string(ids) != `["`+r.ID.String()+`"]` {
			t.Fatalf("ListByDigest(%s) = %s, %v", d.Algorithm, ids, err)
		}
	}
	missing := ledgertest.Record(t, "missing")
	got, err = cc.Evaluate(fabricblock.FnLookup, client.WithArguments(r.ID.String()+"\n"+missing.ID.String()))
	if err != nil || !strings.HasSuffix(string(got), ",null]") {
		t.Fatalf("Lookup = %s, %v", got, err)
	}
}

// TestEmptyNode: a record appended through one organisation's node is
// found and verifies through a node of the other organisation that has
// never seen it (no local state at all: the Fabric ledger keeps none).
func TestEmptyNode(t *testing.T) {
	a, err := fabric.Open(config(t, "court"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r := ledgertest.Record(t, "two-nodes")
	rcs, err := a.Append(ctxT(t), []evidence.Record{r})
	if err != nil {
		t.Fatal(err)
	}
	b, err := fabric.Open(config(t, "platform"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got, err := b.Receipt(ctxT(t), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.BlockHash != rcs[0].BlockHash || got.TxID != rcs[0].TxID || got.LedgerTime != rcs[0].LedgerTime || got.ID != rcs[0].ID {
		t.Fatalf("node B's receipt differs in substance:\n%+v\n%+v", got, rcs[0])
	}
	info, err := b.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range []verifier.Receipt{got, rcs[0]} {
		if _, err := verifier.VerifyReceipt(rc, info.TrustRoots); err != nil {
			t.Fatalf("receipt from %s against node B's roots: %v", rc.KeyIDs, err)
		}
	}
	ids, err := b.IDsByDigest(ctxT(t), r.Digests[0])
	if err != nil || !slices.Contains(ids, r.ID) {
		t.Fatalf("IDsByDigest = %v, %v", ids, err)
	}
	// Both nodes see the same chain.
	ia, _ := a.Info(ctxT(t))
	blk, err := b.Block(ctxT(t), rcs[0].BlockNumber)
	if err != nil || blk.Kind != block.KindFabric || hex.EncodeToString(blk.Header.Hash()) != rcs[0].BlockHash {
		t.Fatalf("node B's block %d: %v", rcs[0].BlockNumber, err)
	}
	if ia.Name != info.Name {
		t.Fatalf("ledger names %q and %q", ia.Name, info.Name)
	}
}

// TestBatching: many concurrent single-record appends share transactions.
func TestBatching(t *testing.T) {
	cfg := config(t, "")
	var blocks = map[uint64]int{}
	var txs = map[string]int{}
	cfg.MaxInFlight = 2
	l, err := fabric.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 200
	type res struct {
		rc  verifier.Receipt
		err error
	}
	out := make(chan res, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func(i int) {
			rc, err := l.Append(ctxT(t), []evidence.Record{ledgertest.Record(t, "batching")})
			if err != nil {
				out <- res{err: err}
				return
			}
			out <- res{rc: rc[0]}
		}(i)
	}
	roots, err := l.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		r := <-out
		if r.err != nil {
			t.Fatal(r.err)
		}
		blocks[r.rc.BlockNumber]++
		txs[r.rc.TxID]++
		if i%20 == 0 {
			if _, err := verifier.VerifyReceipt(r.rc, roots.TrustRoots); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d appends of one record: %d transactions in %d blocks, %v", n, len(txs), len(blocks), time.Since(start).Round(time.Millisecond))
	if len(txs) > n/4 {
		t.Fatalf("%d transactions for %d concurrent records: not batched", len(txs), n)
	}
}
