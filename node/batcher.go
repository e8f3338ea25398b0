package node

import (
	"context"
	"sync"
	"time"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Request is one Append waiting in a Batcher: its records and their
// canonical encodings (the Merkle leaves), checked by Leaves.
type Request struct {
	Records []evidence.Record
	Leaves  [][]byte
	done    chan appendResult
}

type appendResult struct {
	receipts []verifier.Receipt
	err      error
}

// Answer gives the request its outcome: the receipts of its records in
// order, or why it failed. A batch writer answers every request of a
// batch exactly once.
func (r *Request) Answer(rcs []verifier.Receipt, err error) {
	r.done <- appendResult{receipts: rcs, err: err}
}

// BatcherConfig configures a Batcher.
type BatcherConfig struct {
	// MaxRecords cuts a batch once it holds this many records. A request
	// that would take a batch past it waits for the next one; a single
	// request larger than it goes alone (requests are never split).
	MaxRecords int
	// MaxWait is how long a batch that is not full lingers for more
	// requests: always when LingerIdle, else only while another batch is
	// being written (an idle ledger writes at once, for the lowest latency;
	// under load few large batches are cut rather than many small ones).
	MaxWait    time.Duration
	LingerIdle bool
	// MaxInFlight is how many batches are written at once (default 1: one
	// writer, batches in order).
	MaxInFlight int
}

// Batcher gathers the records of concurrent Appends into batches, one
// block or one transaction each: the batching loop every Ledger shares.
type Batcher struct {
	cfg   BatcherConfig
	write func([]*Request)

	mu     sync.RWMutex // read-held while queueing, write-held to close
	closed bool
	in     chan *Request
	quit   chan struct{}
	done   chan struct{}
	slots  chan struct{}
	wg     sync.WaitGroup
}

// NewBatcher starts a Batcher that hands each batch to write, which must
// answer every request in it (Request.Answer). Close stops it.
func NewBatcher(cfg BatcherConfig, write func(batch []*Request)) *Batcher {
	if cfg.MaxRecords <= 0 {
		cfg.MaxRecords = 1000
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 1
	}
	b := &Batcher{cfg: cfg, write: write, in: make(chan *Request, 4096), quit: make(chan struct{}),
		done: make(chan struct{}), slots: make(chan struct{}, cfg.MaxInFlight)}
	go b.run()
	return b
}

// Append queues recs as one request and returns its outcome. Invalid
// records and an ID given twice fail at once (Leaves). If ctx ends before
// the request is queued, Append returns ctx's error and nothing is
// written; once queued, it waits for the outcome whatever ctx does, so a
// caller never reports a failure for records that reach the ledger. After
// Close it fails with ErrClosed.
func (b *Batcher) Append(ctx context.Context, recs []evidence.Record) ([]verifier.Receipt, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	leaves, err := Leaves(recs)
	if err != nil {
		return nil, err
	}
	req := &Request{Records: recs, Leaves: leaves, done: make(chan appendResult, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case b.in <- req:
	case <-ctx.Done():
		b.mu.RUnlock()
		return nil, ctx.Err()
	}
	b.mu.RUnlock()
	res := <-req.done
	return res.receipts, res.err
}

// Close stops taking requests, writes those already queued, and waits
// for every batch in flight.
func (b *Batcher) Close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.quit)
	}
	b.mu.Unlock()
	<-b.done
}

func (b *Batcher) run() {
	defer close(b.done)
	var carry *Request
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-b.in:
			case <-b.quit:
				// Closed: no request can be queued any more; write what was.
				select {
				case first = <-b.in:
				default:
					b.wg.Wait()
					return
				}
			}
		}
		b.slots <- struct{}{} // requests pile up in b.in while every slot is busy
		batch := []*Request{first}
		n := len(first.Records)
		var timeout <-chan time.Time
		var timer *time.Timer
		if b.cfg.MaxWait > 0 && (b.cfg.LingerIdle || len(b.slots) > 1) {
			timer = time.NewTimer(b.cfg.MaxWait)
			timeout = timer.C
		}
	fill:
		for n < b.cfg.MaxRecords {
			var r *Request
			if timeout == nil {
				select {
				case r = <-b.in:
				default:
					break fill
				}
			} else {
				select {
				case r = <-b.in:
				case <-timeout:
					break fill
				case <-b.quit:
					break fill
				}
			}
			if n+len(r.Records) > b.cfg.MaxRecords {
				carry = r
				break
			}
			batch = append(batch, r)
			n += len(r.Records)
		}
		if timer != nil {
			timer.Stop()
		}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer func() { <-b.slots }()
			b.write(batch)
		}()
	}
}
