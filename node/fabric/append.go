package fabric

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// maxAttempts bounds how often one batch is tried (a transaction lost to a
// concurrent write of the same ID, MVCC_READ_CONFLICT, is retried).
const maxAttempts = 6

type request struct {
	recs   []evidence.Record
	leaves [][]byte
	done   chan response
}

type response struct {
	receipts []verifier.Receipt
	err      error
}

func (r *request) answer(rcs []verifier.Receipt, err error) {
	r.done <- response{receipts: rcs, err: err}
}

// Append implements node.Ledger. Records already on the ledger with the
// same encoding get their existing receipts; a different record under an
// existing ID fails the whole call with node.ErrConflict before anything is
// written. If ctx ends first, Append returns ctx's error, but records it
// had queued may still reach the ledger: a retry is safe.
func (l *Ledger) Append(ctx context.Context, recs []evidence.Record) ([]verifier.Receipt, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	if len(recs) > MaxRequest {
		return nil, fmt.Errorf("fabric: %d records in one append (at most %d)", len(recs), MaxRequest)
	}
	leaves, err := node.Leaves(recs)
	if err != nil {
		return nil, err
	}
	req := &request{recs: recs, leaves: leaves, done: make(chan response, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return nil, node.ErrClosed
	}
	select {
	case l.in <- req:
	case <-ctx.Done():
		l.mu.RUnlock()
		return nil, ctx.Err()
	}
	l.mu.RUnlock()
	select {
	case res := <-req.done:
		return res.receipts, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run gathers queued requests into batches, one transaction each, with at
// most MaxInFlight transactions in flight.
func (l *Ledger) run() {
	defer close(l.done)
	var carry *request
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-l.in:
			case <-l.quit:
				// Finish what was queued before Close.
				select {
				case first = <-l.in:
				default:
					l.wg.Wait()
					return
				}
			}
		}
		l.slots <- struct{}{} // requests pile up in l.in while every slot is busy
		batch := []*request{first}
		n := len(first.recs)
		// An idle ledger submits at once (lowest latency); while other
		// transactions are in flight, a batch lingers up to MaxWait to
		// fill, so that load makes few large transactions rather than
		// many small ones.
		var timeout <-chan time.Time
		var timer *time.Timer
		if l.cfg.MaxWait > 0 && len(l.slots) > 1 {
			timer = time.NewTimer(l.cfg.MaxWait)
			timeout = timer.C
		}
	fill:
		for n < l.cfg.MaxBatch {
			var r *request
			if timeout == nil {
				select {
				case r = <-l.in:
				default:
					break fill
				}
			} else {
				select {
				case r = <-l.in:
				case <-timeout:
					break fill
				case <-l.quit:
					break fill
				}
			}
			if n+len(r.recs) > l.cfg.MaxBatch {
				carry = r
				break
			}
			batch = append(batch, r)
			n += len(r.recs)
		}
		if timer != nil {
			timer.Stop()
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer func() { <-l.slots }()
			l.commit(batch)
		}()
	}
}

// commitStatusWait bounds the wait for one transaction's commit status.
const commitStatusWait = 15 * time.Second

// commit writes one batch, retrying what a lost race or a passing outage
// left unanswered.
func (l *Ledger) commit(batch []*request) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.BatchTimeout)
	defer cancel()
	pending := batch
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var err error
		pending, err = l.try(ctx, pending)
		if len(pending) == 0 {
			return
		}
		if attempt == maxAttempts || ctx.Err() != nil {
			for _, r := range pending {
				r.answer(nil, unavailable("append", err))
			}
			return
		}
		l.cfg.Logger.Printf("fabric: attempt %d of a batch of %d requests: %v; retrying", attempt, len(pending), err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay *= 2
	}
}

// try makes one attempt at a batch: it looks the records up, answers the
// requests it can (conflicts; records all stored), submits the new
// records in one transaction, and answers from the committed block. It
// returns the requests to try again, with the reason.
func (l *Ledger) try(ctx context.Context, reqs []*request) ([]*request, error) {
	// One entry per distinct ID; a later request with a different record
	// under an ID seen earlier in the batch conflicts.
	type item struct {
		leaf  []byte
		entry *fabricblock.Entry
	}
	items := map[evidence.ID]*item{}
	var ids []string
	live := reqs[:0:0]
	for _, r := range reqs {
		ok := true
		for i, rec := range r.recs {
			if it := items[rec.ID]; it != nil && string(it.leaf) != string(r.leaves[i]) {
				r.answer(nil, fmt.Errorf("%w: %s", node.ErrConflict, rec.ID))
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		for i, rec := range r.recs {
			if items[rec.ID] == nil {
				items[rec.ID] = &item{leaf: r.leaves[i]}
				ids = append(ids, rec.ID.String())
			}
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return nil, nil
	}
	out, err := l.evaluate(ctx, l.cc, "Lookup", strings.Join(ids, "\n"))
	if err != nil {
		return live, err
	}
	var entries []*fabricblock.Entry
	if err := json.Unmarshal(out, &entries); err != nil || len(entries) != len(ids) {
		return live, fmt.Errorf("lookup of %d IDs: %d answers, %v", len(ids), len(entries), err)
	}
	for i, s := range ids {
		id, _ := evidence.ParseID(s)
		items[id].entry = entries[i]
	}

	// Conflicts with the ledger fail their request; new records go in.
	var leaves [][]byte
	added := map[evidence.ID]bool{}
	reqs, live = live, live[:0]
	for _, r := range reqs {
		var conflict error
		for i, rec := range r.recs {
			if e := items[rec.ID].entry; e != nil && e.Record != string(r.leaves[i]) {
				conflict = fmt.Errorf("%w: %s", node.ErrConflict, rec.ID)
				break
			}
		}
		if conflict != nil {
			r.answer(nil, conflict)
			continue
		}
		for i, rec := range r.recs {
			if items[rec.ID].entry == nil && !added[rec.ID] {
				added[rec.ID] = true
				leaves = append(leaves, r.leaves[i])
			}
		}
		live = append(live, r)
	}

	var cb *cachedBlock
	var tp *txProof
	if len(leaves) > 0 {
		start := time.Now()
		_, commit, err := l.cc.SubmitAsyncWithContext(ctx, "PutBatch", client.WithArguments(fabricblock.JoinRecords(leaves)))
		if err != nil {
			return live, err
		}
		// A transaction lost with a Raft leader never reports a status:
		// wait a bounded time, then look the records up again and resubmit
		// what is missing (identical records are accepted again).
		sctx, scancel := context.WithTimeout(ctx, commitStatusWait)
		st, err := commit.StatusWithContext(sctx)
		scancel()
		if err != nil {
			return live, err
		}
		if !st.Successful {
			// Typically MVCC_READ_CONFLICT: a concurrent transaction wrote
			// one of these IDs first. The next lookup sees it.
			return live, fmt.Errorf("transaction %s in block %d: %s", st.TransactionID, st.BlockNumber, st.Code)
		}
		if cb, err = l.blockByNumber(ctx, st.BlockNumber); err != nil {
			return live, err
		}
		if tp, err = l.txProof(ctx, cb, st.TransactionID); err != nil {
			return live, err
		}
		if l.cfg.OnBatch != nil {
			l.cfg.OnBatch(st.BlockNumber, len(leaves), time.Since(start))
		}
	}

	// Answer from the new transaction or the stored entries.
	var retry []*request
	var lastErr error
	index := map[evidence.ID]int{}
	if tp != nil {
		for i, leaf := range tp.leaves {
			if r, err := evidence.ParseRecord(leaf); err == nil {
				index[r.ID] = i
			}
		}
	}
	for _, r := range live {
		rcs := make([]verifier.Receipt, len(r.recs))
		var err error
		for i, rec := range r.recs {
			switch {
			case tp != nil && tp.wrote[rec.ID]:
				rcs[i], err = l.receipt(cb, tp, index[rec.ID])
			case items[rec.ID].entry != nil:
				rcs[i], err = l.receiptOf(ctx, rec.ID, *items[rec.ID].entry)
			default:
				// Carried but not written by our transaction: another one
				// stored the identical record in between. Read its entry.
				rcs[i], err = l.receiptByID(ctx, rec.ID)
			}
			if err != nil {
				break
			}
		}
		if err != nil {
			if errors.Is(err, node.ErrNotFound) {
				err = fmt.Errorf("record vanished after commit: %w", err)
			}
			retry, lastErr = append(retry, r), err
			continue
		}
		r.answer(rcs, nil)
	}
	return retry, lastErr
}
