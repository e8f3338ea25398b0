package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// PendingError says records were durably queued in the node but are not
// on the ledger yet (the ledger did not commit within the wait, or cannot
// commit now). They will reach the ledger: the queue drains in order.
type PendingError struct {
	IDs []evidence.ID
}

func (e *PendingError) Error() string {
	return fmt.Sprintf("%d record(s) queued, not yet on the ledger", len(e.IDs))
}

// ErrPending is matched by every *PendingError (errors.Is).
var ErrPending = errors.New("pending")

// Is makes errors.Is(err, ErrPending) true.
func (e *PendingError) Is(target error) bool { return target == ErrPending }

// Queue keys: Q/<seq> holds a queued submission; P/<id> marks a record as
// pending and names its seq.
var (
	prefQueue   = []byte("S/Q/")
	prefPending = []byte("S/P/")
)

// DeletedPrefixes are the store key prefixes under which the node deletes
// keys: a queued submission and its pending marks go once they are
// committed; a webhook event once delivered, parked or redelivered, and
// old delivery attempts. Everything else in the store is only added or overwritten.
// A restore from incremental backups prunes these prefixes to the live
// keys the last backup lists (backup.Options.Track), since badger may have
// dropped a deletion's tombstone before the backup that should carry it.
// Code that deletes store keys under another prefix adds it here (or, in
// another package, to backup.DeletedPrefixes).
func DeletedPrefixes() [][]byte {
	return [][]byte{prefQueue, prefPending, prefHookDue, prefHookParked, prefHookLog}
}

// drainBatch is the most records the drainer appends at once (the
// ledgers' largest single request).
const drainBatch = 1000

type queued struct {
	Records [][]byte `json:"records"`
}

// queue is the durable submission queue: what a Service with queueing
// writes before it asks the ledger, so that nothing acknowledged (201 or
// 202) is lost when the ledger is down or slow, or the node crashes.
type queue struct {
	db     *store.DB
	ledger Ledger
	log    *slog.Logger

	mu       sync.Mutex
	next     uint64
	inflight map[uint64]bool
	wake     chan struct{}
	quit     chan struct{}
	done     chan struct{}
	depth    func(int)
}

func openQueue(db *store.DB, l Ledger, logger *slog.Logger, depth func(int)) (*queue, error) {
	q := &queue{db: db, ledger: l, log: logger, inflight: map[uint64]bool{}, depth: depth,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	switch k, err := db.LastKey(prefQueue); {
	case err == nil && len(k) == len(prefQueue)+8:
		q.next = binary.BigEndian.Uint64(k[len(prefQueue):]) + 1
	case err == nil:
		return nil, fmt.Errorf("queue: corrupt key %x", k)
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	go q.drain()
	q.kick()
	return q, nil
}

func seqKey(seq uint64) []byte {
	k := append([]byte(nil), prefQueue...)
	return binary.BigEndian.AppendUint64(k, seq)
}

func pendingKey(id evidence.ID) []byte { return append(append([]byte(nil), prefPending...), id[:]...) }

// add puts records in the batch b as one queued submission and returns
// its sequence number; the caller writes b.
func (q *queue) add(b *store.Batch, recs [][]byte, ids []evidence.ID) uint64 {
	q.mu.Lock()
	seq := q.next
	q.next++
	q.inflight[seq] = true
	q.mu.Unlock()
	v, _ := json.Marshal(queued{Records: recs})
	b.Set(seqKey(seq), v)
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	for _, id := range ids {
		b.Set(pendingKey(id), s[:])
	}
	return seq
}

// commit appends the queued submission seq to the ledger and, once it is
// there, removes it from the queue.
func (q *queue) commit(ctx context.Context, seq uint64, recs []evidence.Record) ([]verifier.Receipt, error) {
	rcs, err := q.ledger.Append(ctx, recs)
	if err == nil {
		q.forget([]uint64{seq}, recs)
	}
	return rcs, err
}

// forget removes committed submissions and their pending marks.
func (q *queue) forget(seqs []uint64, recs []evidence.Record) {
	var b store.Batch
	for _, seq := range seqs {
		b.Delete(seqKey(seq))
	}
	for _, r := range recs {
		b.Delete(pendingKey(r.ID))
	}
	if err := q.db.Write(&b); err != nil {
		q.log.Warn("queue: removing committed submissions failed (they will be appended again, harmlessly)", "component", "queue", "seqs", seqs, "err", err)
	}
}

// finished says the submit path is done with seq (it committed).
func (q *queue) finished(seq uint64) {
	q.mu.Lock()
	delete(q.inflight, seq)
	q.mu.Unlock()
}

// release hands seq to the drainer (its first attempt failed or is slow).
func (q *queue) release(seq uint64) {
	q.mu.Lock()
	delete(q.inflight, seq)
	q.mu.Unlock()
	q.kick()
}

func (q *queue) kick() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// isPending reports whether id is queued and not yet committed.
func (q *queue) isPending(id evidence.ID) (bool, error) {
	return q.db.Has(pendingKey(id))
}

// drain appends queued submissions in order, retrying with back-off while
// the ledger is unavailable.
func (q *queue) drain() {
	defer close(q.done)
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-q.quit:
			return
		case <-q.wake:
		case <-time.After(backoff):
		}
		n, err := q.drainOnce()
		if q.depth != nil {
			q.depth(n)
		}
		if err != nil {
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = time.Second
	}
}

// drainOnce appends every queued submission not in flight, in order, and
// returns how many remain queued.
func (q *queue) drainOnce() (int, error) {
	type item struct {
		seq  uint64
		recs []evidence.Record
	}
	var items []item
	err := q.db.Scan(prefQueue, nil, func(k, v []byte) (bool, error) {
		seq := binary.BigEndian.Uint64(k[len(prefQueue):])
		q.mu.Lock()
		busy := q.inflight[seq]
		q.mu.Unlock()
		if busy {
			return true, nil
		}
		var qd queued
		if err := json.Unmarshal(v, &qd); err != nil {
			return false, fmt.Errorf("queue: submission %d: %w", seq, err)
		}
		it := item{seq: seq}
		for _, b := range qd.Records {
			r, err := evidence.ParseRecord(b)
			if err != nil {
				return false, fmt.Errorf("queue: submission %d: %w", seq, err)
			}
			it.recs = append(it.recs, r)
		}
		items = append(items, it)
		return len(items) < 256, nil
	})
	if err != nil {
		q.log.Error("queue: reading the queue", "component", "queue", "err", err)
		return 0, err
	}
	// Consecutive submissions go to the ledger together, up to
	// drainBatch records per append, keeping their order: a backlog drains
	// at the ledger's batch rate, not one submission per transaction.
	for start := 0; start < len(items); {
		select {
		case <-q.quit:
			return len(items) - start, nil
		default:
		}
		end, n := start, 0
		for end < len(items) && (end == start || n+len(items[end].recs) <= drainBatch) {
			n += len(items[end].recs)
			end++
		}
		group := items[start:end]
		var recs []evidence.Record
		for _, it := range group {
			recs = append(recs, it.recs...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := q.ledger.Append(ctx, recs)
		cancel()
		switch {
		case err == nil:
			seqs := make([]uint64, len(group))
			for i, it := range group {
				seqs[i] = it.seq
			}
			q.forget(seqs, recs)
		case errors.Is(err, ErrConflict) && len(group) > 1:
			// Find the submission that can never be written: one by one.
			for _, it := range group {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				_, err := q.commit(ctx, it.seq, it.recs)
				cancel()
				if errors.Is(err, ErrConflict) {
					q.log.Error("queue: a submission can never be committed, set aside", "component", "queue", "seq", it.seq, "err", err)
					q.setAside(it.seq, err)
				} else if err != nil {
					return len(items) - start, err
				}
			}
		case errors.Is(err, ErrConflict):
			// A record of this submission conflicts with the ledger: it can
			// never be written. Set it aside (S/D/<seq>) and say so loudly.
			q.log.Error("queue: a submission can never be committed, set aside", "component", "queue", "seq", group[0].seq, "err", err)
			q.setAside(group[0].seq, err)
		default:
			return len(items) - start, err
		}
		if q.depth != nil {
			q.depth(len(items) - end)
		}
		start = end
	}
	if len(items) == 256 {
		q.kick()
	}
	return 0, nil
}

var prefDead = []byte("S/D/")

// setAside moves submission seq, which can never be committed, out of
// the queue: its records are no longer pending, and are marked failed
// (why) for the webhook events that tell their platforms.
func (q *queue) setAside(seq uint64, why error) {
	v, err := q.db.Get(seqKey(seq))
	if err != nil {
		return
	}
	var b store.Batch
	b.Set(binary.BigEndian.AppendUint64(append([]byte(nil), prefDead...), seq), v)
	b.Delete(seqKey(seq))
	var qd queued
	if json.Unmarshal(v, &qd) == nil {
		for _, raw := range qd.Records {
			if r, err := evidence.ParseRecord(raw); err == nil {
				b.Delete(pendingKey(r.ID))
				b.Set(key(prefFailed, r.ID[:]), []byte(why.Error()))
			}
		}
	}
	if err := q.db.Write(&b); err != nil {
		q.log.Error("queue: setting a submission aside failed", "component", "queue", "seq", seq, "err", err)
	}
}

func (q *queue) close() {
	select {
	case <-q.quit:
	default:
		close(q.quit)
	}
	<-q.done
}
