package fabric_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/fabric"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// TestMixedBatch: concurrent appends that share batches, where one
// carries a record conflicting with a stored one and one resubmits
// another stored record identically, among new records. The first attempt at a
// batch submits without looking records up, so the conflicting record
// makes the chaincode refuse it and the batch is looked up and tried
// again: the conflict fails alone with node.ErrConflict, the
// resubmission gets the stored record's receipt (its transaction), and
// every new record is appended once with a receipt that verifies; all
// of them resubmitted at once get the receipts they had.
func TestMixedBatch(t *testing.T) {
	l, err := fabric.Open(config(t, "court"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stored, other := ledgertest.Record(t, "mixed-stored"), ledgertest.Record(t, "mixed-other")
	first, err := l.Append(ctxT(t), []evidence.Record{stored, other})
	if err != nil {
		t.Fatal(err)
	}
	// Two different IDs: within one batch, a second different record
	// under an ID loses to the first whichever is stored.
	forged := other
	forged.DocRef = "forged"
	const fresh = 40
	type result struct {
		rcs []verifier.Receipt
		err error
	}
	results := make([]result, fresh+2)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := ledgertest.Record(t, fmt.Sprintf("mixed-%d", i))
			switch i {
			case 0:
				r = forged
			case 1:
				r = stored
			}
			rcs, err := l.Append(ctxT(t), []evidence.Record{r})
			results[i] = result{rcs, err}
		}()
	}
	wg.Wait()
	if err := results[0].err; !errors.Is(err, node.ErrConflict) {
		t.Fatalf("conflicting record: %v, want ErrConflict", err)
	}
	if r := results[1]; r.err != nil || r.rcs[0].TxID != first[0].TxID || r.rcs[0].BlockHash != first[0].BlockHash {
		t.Fatalf("identical resubmission: %v, tx %v; stored in %s", r.err, r.rcs, first[0].TxID)
	}
	info, err := l.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	txs := map[string]bool{}
	for i, r := range results[2:] {
		if r.err != nil || len(r.rcs) != 1 {
			t.Fatalf("new record %d: %v", i, r.err)
		}
		if _, err := verifier.VerifyReceipt(r.rcs[0], info.TrustRoots); err != nil {
			t.Fatalf("new record %d: %v", i, err)
		}
		id, err := evidence.ParseID(r.rcs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := l.Receipt(ctxT(t), id)
		if err != nil || got.TxID != r.rcs[0].TxID {
			t.Fatalf("new record %d read back: %v (tx %s, answered %s)", i, err, got.TxID, r.rcs[0].TxID)
		}
		txs[r.rcs[0].TxID] = true
	}
	t.Logf("%d new records in %d transactions", fresh, len(txs))

	// All of them again, concurrently and identically: no conflict, so the
	// first attempt submits them unlooked-up; the chaincode writes none
	// again, and each gets the receipt of the transaction that stored it.
	again := make([]result, fresh)
	for i, r := range results[2:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec, err := evidence.ParseRecord(r.rcs[0].Proof.Record)
			if err != nil {
				again[i] = result{err: err}
				return
			}
			rcs, err := l.Append(ctxT(t), []evidence.Record{rec})
			again[i] = result{rcs, err}
		}()
	}
	wg.Wait()
	for i, r := range again {
		if r.err != nil || len(r.rcs) != 1 || r.rcs[0].TxID != results[2+i].rcs[0].TxID || r.rcs[0].BlockHash != results[2+i].rcs[0].BlockHash {
			t.Fatalf("resubmission %d: %v, %v; stored in %s", i, r.err, r.rcs, results[2+i].rcs[0].TxID)
		}
	}
}
