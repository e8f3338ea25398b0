package node_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

type queueEnv struct {
	dir    string
	db     *store.DB
	ledger *ledgertest.Faulty
}

func newQueueEnv(t *testing.T) *queueEnv {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, _, _ := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	l, err := embedded.Open(db, embedded.Config{Name: "q", Key: key, Dir: filepath.Join(dir, "blocks")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); db.Close() })
	return &queueEnv{dir: dir, db: db, ledger: &ledgertest.Faulty{Ledger: l}}
}

func (e *queueEnv) service(t *testing.T, wait time.Duration) *node.Service {
	plats, _ := platform.Open(e.dir)
	s, err := node.NewService(node.Config{Ledger: e.ledger, DB: e.db, Platforms: plats, Queue: true, CommitWait: wait})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var acme = platform.Platform{Name: "acme"}

func sub(i int) []node.Submission {
	return []node.Submission{{Type: evidence.File, Digests: []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(fmt.Sprint(i)))}}}
}

func waitReceipt(t *testing.T, s *node.Service, id evidence.ID) node.Receipt {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		rc, err := s.Receipt(context.Background(), id)
		if err == nil {
			return rc
		}
		if !errors.Is(err, node.ErrPending) {
			t.Fatalf("receipt %s: %v", id, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still pending after 15s", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestQueueLedgerDown: while the ledger cannot commit, submissions are
// acknowledged as pending, survive a restart of the service, and drain in
// order once the ledger is back.
func TestQueueLedgerDown(t *testing.T) {
	e := newQueueEnv(t)
	s := e.service(t, 200*time.Millisecond)
	e.ledger.Down.Store(true)
	var ids []evidence.ID
	for i := 0; i < 20; i++ {
		_, err := s.Submit(context.Background(), acme, "", nil, sub(i))
		var pe *node.PendingError
		if !errors.As(err, &pe) || len(pe.IDs) != 1 {
			t.Fatalf("submission %d with the ledger down: %v, want pending", i, err)
		}
		ids = append(ids, pe.IDs[0])
	}
	// Idempotent retry of a pending submission stays pending, with no second record.
	_, err := s.Submit(context.Background(), acme, "k1", []byte("fp"), sub(100))
	var pe *node.PendingError
	if !errors.As(err, &pe) {
		t.Fatal(err)
	}
	_, err = s.Submit(context.Background(), acme, "k1", []byte("fp"), sub(100))
	var again *node.PendingError
	if !errors.As(err, &again) || again.IDs[0] != pe.IDs[0] {
		t.Fatalf("idempotent retry while pending: %v", err)
	}
	ids = append(ids, pe.IDs[0])
	if _, err := s.Receipt(context.Background(), ids[0]); !errors.Is(err, node.ErrPending) {
		t.Fatalf("Receipt of a queued record: %v", err)
	}
	v, err := s.Verify(context.Background(), ids[0], evidence.Sum(evidence.SHA256, []byte("0")))
	if err != nil || v.Outcome != verifier.OutcomePending {
		t.Fatalf("Verify of a queued record: %+v %v", v, err)
	}

	// The node restarts while the ledger is still down: nothing is lost.
	s.Close()
	s = e.service(t, 200*time.Millisecond)
	defer s.Close()
	if _, err := s.Receipt(context.Background(), ids[5]); !errors.Is(err, node.ErrPending) {
		t.Fatalf("after restart: %v", err)
	}
	e.ledger.Down.Store(false)
	var last uint64
	for i, id := range ids {
		rc := waitReceipt(t, s, id)
		if rc.BlockNumber < last {
			t.Fatalf("record %d landed in block %d, before block %d: the queue did not drain in order", i, rc.BlockNumber, last)
		}
		last = rc.BlockNumber
	}
	rc, err := s.Submit(context.Background(), acme, "k1", []byte("fp"), sub(100))
	if err != nil || rc[0].ID != pe.IDs[0].String() {
		t.Fatalf("idempotent retry after the drain: %v", err)
	}
	// With the ledger back a submission commits within the wait, given one
	// a loaded machine cannot miss (200 ms can be, under -race on 2 cores).
	s.Close()
	s = e.service(t, 10*time.Second)
	defer s.Close()
	if rc, err := s.Submit(context.Background(), acme, "", nil, sub(200)); err != nil || len(rc) != 1 {
		t.Fatalf("with the ledger back a submission commits at once: %v", err)
	}
}

// TestQueueSlowLedger: a commit slower than the wait is answered pending
// and lands shortly after.
func TestQueueSlowLedger(t *testing.T) {
	e := newQueueEnv(t)
	s := e.service(t, 30*time.Millisecond)
	defer s.Close()
	e.ledger.Slow.Store(int64(300 * time.Millisecond))
	_, err := s.Submit(context.Background(), acme, "", nil, sub(1))
	var pe *node.PendingError
	if !errors.As(err, &pe) {
		t.Fatalf("slow ledger: %v, want pending", err)
	}
	rc := waitReceipt(t, s, pe.IDs[0])
	if rc.ID != pe.IDs[0].String() {
		t.Fatal("wrong receipt")
	}
	// A fast ledger within a wait no pause of a loaded machine reaches: the
	// 30 ms above races a real commit's timer under -race on 2 cores.
	s.Close()
	s = e.service(t, 10*time.Second)
	defer s.Close()
	e.ledger.Slow.Store(0)
	if _, err := s.Submit(context.Background(), acme, "", nil, sub(2)); err != nil {
		t.Fatalf("fast ledger: %v", err)
	}
}
