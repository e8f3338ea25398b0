package web

import (
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

// newQueuedTestNode is newTestNode with the durable queue on and the
// ledger behind a fault switch.
func newQueuedTestNode(t *testing.T) (*testNode, *ledgertest.Faulty) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, _, _ := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	l, err := embedded.Open(db, embedded.Config{Name: "p", Key: k, Dir: filepath.Join(dir, "blocks")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(); db.Close() })
	key, _, _ := platform.Add(dir, "acme", 0, "", time.Now())
	plats, _ := platform.Open(dir)
	led := &ledgertest.Faulty{Ledger: l}
	svc, err := node.NewService(node.Config{Ledger: led, DB: db, Platforms: plats, Queue: true, CommitWait: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return &testNode{app: New(Config{Service: svc, PublicURL: "http://127.0.0.1:8080"}), svc: svc, data: dir, key: key}, led
}

// TestPendingAnswers: with the queue on and the ledger down, submissions
// get 202 pending, GET says pending, and the receipt appears once the
// ledger is back.
func TestPendingAnswers(t *testing.T) {
	n, led := newQueuedTestNode(t)
	key := n.key
	led.Down.Store(true)
	code, b := n.json(t, "POST", "/api/v1/evidence", map[string]string{"digest": evidence.Sum(evidence.SHA256, []byte("a")).Hex()}, auth(key))
	p := decode[Pending](t, b)
	if code != 202 || p.Status != "pending" || evidence.Canonical(p.ID) == "" {
		t.Fatalf("submit with the ledger down: %d %s", code, b)
	}
	code, b = n.json(t, "POST", "/api/v1/evidence/batch", map[string]any{"items": []map[string]string{{"digest": evidence.Sum(evidence.SHA256, []byte("b")).Hex()}}}, auth(key))
	if bp := decode[BatchPending](t, b); code != 202 || len(bp.IDs) != 1 {
		t.Fatalf("batch with the ledger down: %d %s", code, b)
	}
	if code, b = n.do(t, "GET", "/api/v1/evidence/"+p.ID, nil, ""); code != 202 {
		t.Fatalf("GET pending: %d %s", code, b)
	}
	led.Down.Store(false)
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, b = n.do(t, "GET", "/api/v1/evidence/"+p.ID, nil, "")
		if code == 200 {
			break
		}
		if code != 202 || time.Now().After(deadline) {
			t.Fatalf("GET after the ledger is back: %d %s", code, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rc := decode[verifier.Receipt](t, b); rc.ID != p.ID || rc.BlockHash == "" {
		t.Fatalf("receipt: %s", b)
	}
}
