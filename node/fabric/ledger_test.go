package fabric_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/fabric"
	"github.com/evidence-node/evidence-node/node/fabric/fabrictest"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// basePort is where this package's network runs (other packages' network
// tests use other ports, so they can run in parallel; all of them at 27000
// or above, where toolproc.FreePort draws no test server's port).
const basePort = 29000

var network *fabrictest.Network

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	n, err := fabrictest.Start(ctx, basePort, log.Printf)
	cancel()
	switch {
	case errors.Is(err, fabrictest.ErrNoNetwork):
	case err != nil:
		fmt.Fprintln(os.Stderr, "fabric network:", err)
		os.Exit(1)
	default:
		network = n
	}
	code := m.Run()
	if err := network.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop the fabric network:", err)
	}
	os.Exit(code)
}

func needNetwork(t testing.TB) *fabrictest.Network {
	t.Helper()
	if network == nil {
		t.Skip(fabrictest.ErrNoNetwork)
	}
	return network
}

func config(t testing.TB, org string) fabric.Config {
	n := needNetwork(t)
	return fabric.Config{Profile: n.Profile, Org: org, Chaincode: n.Chaincode, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func opener(cfg fabric.Config) ledgertest.Opener {
	return func() (node.Ledger, error) { return fabric.Open(cfg) }
}

func TestConformance(t *testing.T) {
	needNetwork(t)
	ledgertest.Run(t, func(t *testing.T) ledgertest.Opener { return opener(config(t, "")) })
}

// TestConformanceSmallBatches cuts many transactions, waiting to fill
// them, through the other organisation's peer.
func TestConformanceSmallBatches(t *testing.T) {
	needNetwork(t)
	ledgertest.Run(t, func(t *testing.T) ledgertest.Opener {
		cfg := config(t, "platform")
		cfg.MaxBatch, cfg.MaxWait, cfg.MaxInFlight = 7, 20*time.Millisecond, 3
		return opener(cfg)
	})
}

// TestAppendVerifyOffline is how a node of the court organisation uses
// the ledger: append a record, then check its receipt offline against the
// channel's trust roots.
func TestAppendVerifyOffline(t *testing.T) {
	l, err := fabric.Open(config(t, "court"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	id, _ := evidence.NewIDGenerator(nil, nil).New()
	rec := evidence.Record{ID: id, Type: evidence.Text, Platform: "acme", SubmittedAt: time.Now(),
		Digests: []evidence.Digest{evidence.Sum(evidence.SHA256, []byte("合同正文"))}}
	rcs, err := l.Append(ctx, []evidence.Record{rec})
	if err != nil {
		t.Fatal(err)
	}
	info, err := l.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifier.VerifyReceipt(rcs[0], info.TrustRoots); err != nil {
		t.Fatalf("receipt of block %d does not verify offline: %v", rcs[0].BlockNumber, err)
	}
}
