package fabric_test

import (
	"errors"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/fabric"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// TestNodeRestarts stops and restarts Fabric nodes under the ledger: one
// orderer (the others go on), one other organisation's peer (any two of
// three organisations endorse: appends go on), both other organisations'
// peers (appends fail as unavailable, reads go on), and
// the node's own peer (everything fails as unavailable); after each
// restart the same Ledger works again without being reopened.
func TestNodeRestarts(t *testing.T) {
	n := needNetwork(t)
	if !n.Owned() {
		t.Skip("stops nodes: only on a network the test started")
	}
	l, err := fabric.Open(config(t, "court"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendOne := func(seed string) error {
		_, err := l.Append(ctxT(t), []evidence.Record{ledgertest.Record(t, seed)})
		return err
	}
	script := func(name, nodeName string) {
		t.Helper()
		start := time.Now()
		if _, err := n.Script(ctxT(t), name, nodeName); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %s: %v", name, nodeName, time.Since(start).Round(time.Millisecond))
	}
	old := ledgertest.Record(t, "before")
	if _, err := l.Append(ctxT(t), []evidence.Record{old}); err != nil {
		t.Fatal(err)
	}

	script("stop-node", "orderer0")
	if err := appendOne("one orderer down"); err != nil {
		t.Fatalf("with one orderer down: %v", err)
	}
	script("start-node", "orderer0")

	script("stop-node", "peer0.platform")
	if err := appendOne("one endorser down"); err != nil {
		t.Fatalf("with one organisation's peer of three down: %v", err)
	}
	script("stop-node", "peer0.notary")
	start := time.Now()
	if err := appendOne("endorser down"); !errors.Is(err, node.ErrUnavailable) {
		t.Fatalf("with two endorsing organisations of three down: %v, want ErrUnavailable", err)
	}
	t.Logf("append failed as unavailable after %v", time.Since(start).Round(time.Millisecond))
	if _, err := l.Receipt(ctxT(t), old.ID); err != nil {
		t.Fatalf("reading with the other peer down: %v", err)
	}
	script("start-node", "peer0.platform")
	script("start-node", "peer0.notary")
	// appendAgain appends until it works, for up to 30 s: the gateway
	// learns of restarted peers through discovery (gossip alive
	// messages), a few seconds after they are up; until then it finds no
	// combination for the policy.
	appendAgain := func(what string) {
		t.Helper()
		start := time.Now()
		var err error
		for time.Since(start) < 30*time.Second {
			if err = appendOne(what); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: append works again %v after the restart", what, time.Since(start).Round(time.Millisecond))
	}
	appendAgain("endorsers back")

	script("stop-node", "peer0.court")
	if _, err := l.Receipt(ctxT(t), old.ID); !errors.Is(err, node.ErrUnavailable) {
		t.Fatalf("reading with the node's peer down: %v, want ErrUnavailable", err)
	}
	script("start-node", "peer0.court")
	appendAgain("own peer back")
	if _, err := l.Receipt(ctxT(t), old.ID); err != nil {
		t.Fatal(err)
	}
}
