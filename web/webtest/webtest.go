// Package webtest starts a real evidence node in the test's process: the
// embedded ledger on badger in a temporary directory, the node service and
// the HTTP API, served on a loopback port. For tests of programs that talk
// to a node over HTTP (the Go client, its examples), with its
// transparency log.
package webtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/web"
)

// Node is a running node.
type Node struct {
	// URL is the node's base URL, http://127.0.0.1:PORT.
	URL string
	// Key is the API key of platform "acme".
	Key string
	// Data is the data directory.
	Data string
	// Log is the node's transparency log; LogKey its note verifier key,
	// Origin its checkpoints' origin (the ledger name, "webtest").
	Log    *tlog.Log
	LogKey string
	Origin string
}

// Options tune a node.
type Options struct {
	// Quota and Period of platform "acme" (0: no cap).
	Quota  int64
	Period string
	// Limits and TrustedProxies are web.Config's (zero: no limits, no
	// proxy trusted).
	Limits         web.Limits
	TrustedProxies []netip.Prefix
}

// Start starts a node in a temporary directory, stopped in t.Cleanup.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	n, stop, err := Run(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("webtest: %v", err)
		}
	})
	return n
}

// Run starts a node with its data in dir (for examples, which have no
// testing.T); stop stops it.
func Run(dir string, o Options) (n *Node, stop func() error, err error) {
	db, err := store.Open(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		return nil, nil, err
	}
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	closers = append(closers, db.Close)
	fail := func(err error) (*Node, func() error, error) {
		closeAll()
		return nil, nil, err
	}
	k, _, err := node.LoadOrCreateKey(filepath.Join(dir, "node-key.pem"))
	if err != nil {
		return fail(err)
	}
	reg := prometheus.NewRegistry()
	metrics := node.NewMetrics(reg)
	var wake atomic.Pointer[tlog.Log]
	onBlock := func(n uint64, records int, took time.Duration) {
		metrics.ObserveBlock(n, records, took)
		if l := wake.Load(); l != nil {
			l.Wake()
		}
	}
	led, err := embedded.Open(db, embedded.Config{Name: "webtest", Key: k, Dir: filepath.Join(dir, "blocks"), OnBlock: onBlock})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, led.Close)
	lk, _, err := tlog.LoadOrCreateKey(filepath.Join(dir, tlog.KeyFile), "webtest")
	if err != nil {
		return fail(err)
	}
	tl, err := tlog.Open(tlog.Config{DB: db, Hashes: filepath.Join(dir, tlog.HashesFile), Origin: "webtest", Key: lk, Source: tlog.LedgerSource(led)})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, tl.Close)
	wake.Store(tl)
	key, _, err := platform.Add(dir, "acme", o.Quota, o.Period, time.Now())
	if err != nil {
		return fail(err)
	}
	plats, err := platform.Open(dir)
	if err != nil {
		return fail(err)
	}
	svc, err := node.NewService(node.Config{Ledger: led, DB: db, Platforms: plats, Metrics: metrics, PDFDir: filepath.Join(dir, "pdf"), Log: tl})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() error { svc.Close(); return nil })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	app := web.New(web.Config{Service: svc, Log: tl, Registry: reg, MaxUpload: 64 << 20, PublicURL: "http://" + ln.Addr().String(),
		Limits: o.Limits, TrustedProxies: o.TrustedProxies})
	go func() { done <- web.Serve(ctx, app, ln, 5*time.Second, nil) }()
	closers = append(closers, func() error {
		cancel()
		if err := <-done; err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		return nil
	})
	return &Node{URL: "http://" + ln.Addr().String(), Key: key, Data: dir, Log: tl, LogKey: lk.VerifierKey, Origin: "webtest"}, closeAll, nil
}
