package fabric

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// maxAttempts bounds how often one batch is tried (a transaction lost to a
// concurrent write of the same ID, MVCC_READ_CONFLICT, is retried).
const maxAttempts = 6

// commitStatusWait bounds the wait for one transaction's commit status.
const commitStatusWait = 15 * time.Second

// SubmitError means a batch's transaction was not endorsed or not accepted
// by the orderer: nothing of it is on the ledger. It matches
// node.ErrUnavailable.
type SubmitError struct {
	TxID string // empty when no proposal was made
	Err  error
}

func (e *SubmitError) Error() string {
	return fmt.Sprintf("fabric: submitting transaction %s: %v", e.TxID, e.Err)
}

// Unwrap gives node.ErrUnavailable and the gateway's error.
func (e *SubmitError) Unwrap() []error { return []error{node.ErrUnavailable, e.Err} }

// CommitError means a batch's transaction was ordered but not committed
// valid (Code, e.g. MVCC_READ_CONFLICT when a concurrent transaction wrote
// one of its IDs first), or its commit status did not come in time (Err).
// It matches node.ErrUnavailable.
type CommitError struct {
	TxID  string
	Block uint64
	Code  peer.TxValidationCode
	Err   error
}

func (e *CommitError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("fabric: commit status of transaction %s: %v", e.TxID, e.Err)
	}
	return fmt.Sprintf("fabric: transaction %s in block %d: %s", e.TxID, e.Block, e.Code)
}

// Unwrap gives node.ErrUnavailable and the gateway's error, if any.
func (e *CommitError) Unwrap() []error {
	if e.Err == nil {
		return []error{node.ErrUnavailable}
	}
	return []error{node.ErrUnavailable, e.Err}
}

// txIDOf returns the transaction ID a gateway error carries, if any.
func txIDOf(err error) string {
	var te *client.TransactionError
	if errors.As(err, &te) {
		return te.TransactionID
	}
	return ""
}

// Append implements node.Ledger. Records already on the ledger with the
// same encoding get their existing receipts; a different record under an
// existing ID fails the whole call with node.ErrConflict before anything is
// written. Once queued, Append waits for the outcome (bounded by
// Config.BatchTimeout), so it never reports a failure for records that
// reach the ledger.
func (l *Ledger) Append(ctx context.Context, recs []evidence.Record) ([]verifier.Receipt, error) {
	if len(recs) > MaxRequest {
		return nil, fmt.Errorf("fabric: %d records in one append (at most %d)", len(recs), MaxRequest)
	}
	return l.batcher.Append(ctx, recs)
}

// commit writes one batch, retrying what a lost race or a passing outage
// left unanswered.
func (l *Ledger) commit(batch []*node.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.BatchTimeout)
	defer cancel()
	pending := batch
	delay := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		var err error
		// The first attempt submits without looking the records up:
		// new records are the rule, and the chaincode refuses a
		// different record under an existing ID and skips an identical
		// one anyway. A refused or failed attempt looks them up first.
		pending, err = l.try(ctx, pending, attempt > 1)
		if len(pending) == 0 {
			return
		}
		if attempt == maxAttempts || ctx.Err() != nil {
			for _, r := range pending {
				r.Answer(nil, unavailable("append", err))
			}
			return
		}
		var ee *client.EndorseError
		if attempt == 1 && errors.As(err, &ee) {
			// Refused unlooked-up (typically a record conflicting with
			// a stored one): look the records up now, at once.
			continue
		}
		l.cfg.Logger.Warn("fabric: a batch failed; retrying", "component", "ledger", "attempt", attempt, "requests", len(pending), "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
		}
		delay *= 2
	}
}

// item is one distinct record ID of a batch: its leaf and, once looked
// up, its entry on the ledger (nil: not stored).
type item struct {
	leaf  []byte
	entry *fabricblock.Entry
}

// try makes one attempt at a batch: with lookupFirst it looks the records
// up (lookup) and answers the requests that conflict; it collects the
// records not stored (partition), submits those in one transaction
// (submit), and answers from the committed block or the stored entries
// (answer). It returns the requests to try again, with the reason.
//
// Without lookupFirst every distinct record is submitted: a batch holding
// a record that conflicts with a stored one is refused by the chaincode
// (nothing is written) and tried again with lookupFirst; a record already
// stored identically is not written again and is answered from its entry.
func (l *Ledger) try(ctx context.Context, reqs []*node.Request, lookupFirst bool) ([]*node.Request, error) {
	items, ids, live := distinct(reqs)
	if len(live) == 0 {
		return nil, nil
	}
	if lookupFirst {
		if err := l.lookup(ctx, items, ids); err != nil {
			return live, err
		}
	}
	live, leaves := partition(live, items)
	var tx *committedTx
	if len(leaves) > 0 {
		var err error
		if tx, err = l.submit(ctx, leaves); err != nil {
			return live, err
		}
	}
	if !lookupFirst && tx != nil {
		// Records our transaction carried but did not write were stored
		// before (resubmissions): read their entries in one Lookup, not
		// one Get each. If that fails, answer reads them one by one.
		var stored []evidence.ID
		for _, id := range ids {
			if !tx.tp.wrote[id] {
				stored = append(stored, id)
			}
		}
		if len(stored) > 0 {
			if err := l.lookup(ctx, items, stored); err != nil {
				l.cfg.Logger.Debug("fabric: lookup of resubmitted records failed; reading them one by one", "component", "ledger", "records", len(stored), "err", err)
			}
		}
	}
	return l.answer(ctx, live, items, tx)
}

// distinct gives one item per distinct ID of a batch, in order; a request
// with a different record under an ID seen earlier in the batch is
// answered with node.ErrConflict and left out.
func distinct(reqs []*node.Request) (map[evidence.ID]*item, []evidence.ID, []*node.Request) {
	items := map[evidence.ID]*item{}
	var ids []evidence.ID
	var live []*node.Request
	for _, r := range reqs {
		if conflicts(r, func(i int, id evidence.ID) bool {
			it := items[id]
			return it != nil && string(it.leaf) != string(r.Leaves[i])
		}) {
			continue
		}
		for i, rec := range r.Records {
			if items[rec.ID] == nil {
				items[rec.ID] = &item{leaf: r.Leaves[i]}
				ids = append(ids, rec.ID)
			}
		}
		live = append(live, r)
	}
	return items, ids, live
}

// conflicts answers r with node.ErrConflict, naming the first of its
// records for which differs is true, and reports whether it did.
func conflicts(r *node.Request, differs func(i int, id evidence.ID) bool) bool {
	for i, rec := range r.Records {
		if differs(i, rec.ID) {
			r.Answer(nil, fmt.Errorf("%w: %s", node.ErrConflict, rec.ID))
			return true
		}
	}
	return false
}

// lookup fills each item's ledger entry (chaincode Lookup).
func (l *Ledger) lookup(ctx context.Context, items map[evidence.ID]*item, ids []evidence.ID) error {
	ss := make([]string, len(ids))
	for i, id := range ids {
		ss[i] = id.String()
	}
	out, err := l.evaluate(ctx, l.cc, fabricblock.FnLookup, strings.Join(ss, "\n"))
	if err != nil {
		return err
	}
	var entries []*fabricblock.Entry
	if err := strict.Decode(out, &entries); err != nil || len(entries) != len(ids) {
		return fmt.Errorf("lookup of %d IDs: %d answers, %v", len(ids), len(entries), err)
	}
	for i, e := range entries {
		if e != nil {
			if err := e.Check(); err != nil {
				return fmt.Errorf("lookup of %s: %w", ids[i], err)
			}
		}
	}
	for i, id := range ids {
		items[id].entry = entries[i]
	}
	return nil
}

// partition answers the requests holding a record that differs from the
// one stored under its ID (node.ErrConflict), and returns the others with
// the leaves of the records not yet stored, each once.
func partition(reqs []*node.Request, items map[evidence.ID]*item) ([]*node.Request, [][]byte) {
	var live []*node.Request
	var leaves [][]byte
	added := map[evidence.ID]bool{}
	for _, r := range reqs {
		if conflicts(r, func(i int, id evidence.ID) bool {
			e := items[id].entry
			return e != nil && !e.Holds(r.Leaves[i])
		}) {
			continue
		}
		for i, rec := range r.Records {
			if items[rec.ID].entry == nil && !added[rec.ID] {
				added[rec.ID] = true
				leaves = append(leaves, r.Leaves[i])
			}
		}
		live = append(live, r)
	}
	return live, leaves
}

// committedTx is a batch transaction this node submitted, committed and
// checked.
type committedTx struct {
	cb *cachedBlock
	tp *txProof
}

// submit writes leaves in one PutBatch transaction and reads the
// committed block back, checked against the trust roots.
func (l *Ledger) submit(ctx context.Context, leaves [][]byte) (*committedTx, error) {
	start := time.Now()
	_, commit, err := l.cc.SubmitAsyncWithContext(ctx, fabricblock.FnPutBatch, client.WithArguments(fabricblock.JoinRecords(leaves)))
	if err != nil {
		return nil, &SubmitError{TxID: txIDOf(err), Err: err}
	}
	// A transaction lost with a Raft leader never reports a status: wait a
	// bounded time, then look the records up again and resubmit what is
	// missing (identical records are accepted again).
	sctx, scancel := context.WithTimeout(ctx, commitStatusWait)
	st, err := commit.StatusWithContext(sctx)
	scancel()
	if err != nil {
		return nil, &CommitError{TxID: commit.TransactionID(), Err: err}
	}
	if !st.Successful {
		// Typically MVCC_READ_CONFLICT: a concurrent transaction wrote one
		// of these IDs first. The next lookup sees it.
		return nil, &CommitError{TxID: st.TransactionID, Block: st.BlockNumber, Code: st.Code}
	}
	cb, err := l.blockByNumber(ctx, st.BlockNumber)
	if err != nil {
		return nil, err
	}
	tp, err := l.txProof(ctx, cb, st.TransactionID)
	if err != nil {
		return nil, err
	}
	if l.cfg.OnBatch != nil {
		l.cfg.OnBatch(st.BlockNumber, len(leaves), time.Since(start))
	}
	return &committedTx{cb: cb, tp: tp}, nil
}

// answer gives each request its receipts: from the new transaction for
// the records it wrote, from the stored entries for the others. Requests
// whose receipts cannot be read now are returned to try again.
func (l *Ledger) answer(ctx context.Context, reqs []*node.Request, items map[evidence.ID]*item, tx *committedTx) ([]*node.Request, error) {
	var retry []*node.Request
	var lastErr error
	announced := map[string]bool{}
	for _, r := range reqs {
		rcs := make([]verifier.Receipt, len(r.Records))
		var err error
		for i, rec := range r.Records {
			switch {
			case tx != nil && tx.tp.wrote[rec.ID]:
				rcs[i], err = l.receipt(tx.cb, tx.tp, tx.tp.index[rec.ID])
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
		l.announce(rcs, announced)
		r.Answer(rcs, nil)
	}
	return retry, lastErr
}

// announce calls Config.OnTx once for each transaction of rcs not in
// done, and adds it there.
func (l *Ledger) announce(rcs []verifier.Receipt, done map[string]bool) {
	if l.cfg.OnTx == nil {
		return
	}
	for _, rc := range rcs {
		if done[rc.TxID] {
			continue
		}
		done[rc.TxID] = true
		if err := l.cfg.OnTx(rc.TxID, rc.Proof.BatchRoot, rc.BlockNumber, rc.LedgerTime); err != nil {
			l.cfg.Logger.Error("asking for the trusted timestamps of a transaction failed", "component", "fabric", "tx_id", rc.TxID, "err", err)
		}
	}
}
