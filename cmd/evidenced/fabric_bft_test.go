package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/verifier"
)

// TestFabricBFT runs the node on a BFT channel (four SmartBFT orderers of
// four organisations, three peer organisations endorsing two of three),
// whatever EVIDENCE_FABRIC_CONSENSUS says: end to end through the API, then
// the fault test of issue 16: one orderer killed (kill -9) under load, then
// a second organisation's peer stopped while it is still down. Every
// acknowledged record must be on the ledger exactly once, and receipts
// verify offline against blocks fetched with peer channel fetch (checkAcks).
// Bounded: 16 clients for at most a minute. Last, two organisations' new
// nodes compute their transparency logs from every block (the fault
// test's too) and get one log (checkSameLog).
//
//	EVIDENCE_FABRIC_NETWORK=1 go test -run TestFabricBFT -v ./cmd/evidenced/
func TestFabricBFT(t *testing.T) {
	e := startFabricConsensus(t, fabricBFTPort, "bft")
	t.Run("EndToEnd", func(t *testing.T) { testEndToEnd(t, e) })
	t.Run("OrdererKilledThenPeerStopped", func(t *testing.T) {
		if testing.Short() {
			t.Skip("Fabric fault tests")
		}
		if !e.net.Owned() {
			t.Skip("stops Fabric nodes: only on a network the test started")
		}
		const clients = 16
		start := time.Now()
		data := t.TempDir()
		key := addPlatform(t, data, "load-bft")
		p := startFabricNode(t, e, data, "127.0.0.1:0", "court")
		rec := filepath.Join(t.TempDir(), "acks.jsonl")
		// The load runs until the second fault's window has its receipts
		// (at most a minute); stop ends it then.
		b := startBench(t, p.url, key, clients, time.Minute, rec)
		time.Sleep(4 * time.Second)
		// The leader is the worst orderer to lose: the others must notice
		// and change views before ordering again.
		leader := e.raftLeader(t)
		before := b.acked(t)
		e.script(t, "stop-node", leader, "--kill")
		killed := time.Now()
		time.Sleep(6 * time.Second)
		mid := b.acked(t)
		e.script(t, "stop-node", "peer0.platform")
		stopped := time.Now()
		// At least 6 s with both down, and on until the receipts come
		// (up to 30 s): the view change (heartbeat and view-change
		// timeouts of 6 s each, network/config/configtx-bft.yaml) may
		// still be under way, and a loaded machine can miss a fixed window.
		var ok201b, ok202b int
		for deadline := stopped.Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			ok201b, ok202b = ackCounts(t, rec, mid, -1) // to the file's end
			if (ok201b >= 2*clients && time.Since(stopped) >= 6*time.Second) || time.Now().After(deadline) {
				break
			}
		}
		b.stop(t)
		r := b.wait(t)
		ok201a, ok202a := ackCounts(t, rec, before, mid)
		t.Logf("first 4 s: %d acknowledgements; %s (the BFT leader) killed: %d with a receipt, %d pending in %v; then peer0.platform stopped too: %d with a receipt, %d pending in %v",
			before, leader, ok201a, ok202a, stopped.Sub(killed).Round(time.Millisecond), ok201b, ok202b, time.Since(stopped).Round(time.Millisecond))
		if ok201b < 2*clients {
			t.Errorf("commits did not go on with one orderer of four and one organisation of three down: %d receipts, %d pending in 30 s", ok201b, ok202b)
		}
		for k, n := range r.Errors {
			t.Errorf("load generator: %d errors %q (all: %v)", n, k, r.Errors)
		}
		// Back up, so that checkAcks can fetch blocks from every peer
		// (peer0.platform catches up by itself).
		e.script(t, "start-node", "peer0.platform")
		e.script(t, "start-node", leader)
		rep := e.checkAcks(t, p.url, rec, 120*time.Second)
		if int64(rep.Pending) != r.Pending || int64(rep.Acked) != r.Records {
			t.Errorf("bench counted %d acknowledgements (%d pending), its record file %d (%d pending)", r.Records, r.Pending, rep.Acked, rep.Pending)
		}
		if rep.Acked < 10*clients {
			t.Errorf("load too small to mean anything: %d acknowledgements", rep.Acked)
		}
		t.Logf("BFT faults: %v in all", time.Since(start).Round(time.Millisecond))
	})
	t.Run("TwoNodesOneLog", func(t *testing.T) {
		start := time.Now()
		var (
			nodes []*proc
			rcs   []verifier.Receipt
		)
		for _, org := range []string{"court", "platform"} {
			data := t.TempDir()
			key := addPlatform(t, data, org+"-clerk")
			p := startFabricNode(t, e, data, "127.0.0.1:0", org)
			code, body := postJSON(t, p.url+"/api/v1/evidence", key, map[string]string{"type": "text", "text": "BFT record through " + org})
			var ack struct{ ID string }
			if json.Unmarshal(body, &ack); code != 201 && code != 202 {
				t.Fatalf("submit through %s: %d %s", org, code, body)
			}
			nodes = append(nodes, p)
			rcs = append(rcs, waitReceipt(t, p.url, ack.ID, 30*time.Second))
		}
		checkSameLog(t, nodes[0], nodes[1], rcs, 120*time.Second)
		t.Logf("two BFT nodes, one log: in %v", time.Since(start).Round(time.Millisecond))
	})
}
