package web

import (
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/node/tlog/witnesstest"
)

// newWitnessedTestNode is newTestNode with a transparency log (origin
// "witnessed") that submits its checkpoints to nw real witnesses
// (witnesstest: omniwitness on 127.0.0.1), which it returns.
func newWitnessedTestNode(t *testing.T, nw int) (*testNode, *tlog.Log, []*witnesstest.Witness) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := node.LoadOrCreateKey(filepath.Join(dir, "node-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	const origin = "witnessed"
	lk, _, err := tlog.LoadOrCreateKey(filepath.Join(dir, "tlog-key"), origin)
	if err != nil {
		t.Fatal(err)
	}
	var ws []*witnesstest.Witness
	var cfgWs []tlog.Witness
	for range nw {
		w := witnesstest.Start(t, origin, lk.VerifierKey)
		tw, err := tlog.ParseWitness(w.URL + " " + w.VerifierKey)
		if err != nil {
			t.Fatal(err)
		}
		ws, cfgWs = append(ws, w), append(cfgWs, tw)
	}
	var wake atomic.Pointer[tlog.Log]
	led, err := embedded.Open(db, embedded.Config{Name: origin, Key: k, Dir: filepath.Join(dir, "blocks"),
		OnBlock: func(uint64, int, time.Duration) {
			if l := wake.Load(); l != nil {
				l.Wake()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close(); db.Close() })
	tl, err := tlog.Open(tlog.Config{DB: db, Hashes: filepath.Join(dir, tlog.HashesFile), Origin: origin, Key: lk,
		Source: tlog.LedgerSource(led), Witnesses: cfgWs, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tl.Close() })
	wake.Store(tl)
	key, _, err := platform.Add(dir, "acme", 0, "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	plats, err := platform.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := node.NewService(node.Config{Ledger: led, DB: db, Platforms: plats, Metrics: node.NewMetrics(prometheus.NewRegistry()), Log: tl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return &testNode{svc: svc, data: dir, key: key}, tl, ws
}

// cosignedBy waits until the receipt of id carries a log_proof whose
// checkpoint has exactly want cosignatures besides the log's own, and
// returns the log_proof.
func cosignedBy(t *testing.T, n *testNode, id string, want int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, b := n.do(t, "GET", "/api/v1/evidence/"+id, nil, "")
		lp := ""
		if code == 200 {
			lp = decode[struct {
				LogProof string `json:"log_proof"`
			}](t, b).LogProof
		}
		if lp != "" && strings.Count(lp, "\n\u2014 ")-1 == want {
			return lp
		}
		if time.Now().After(deadline) {
			t.Fatalf("record %s: no log_proof with %d cosignatures in 30 s: %d %q", id, want, code, lp)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
