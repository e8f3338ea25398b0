package tsa_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/tsa"
	"github.com/evidence-node/evidence-node/node/tsa/tsatest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// node is an embedded ledger with a stamper on one store, as evidenced
// wires them.
type node struct {
	db      *store.DB
	ledger  *embedded.Ledger
	stamper *tsa.Stamper
	reg     *prometheus.Registry
	ids     *evidence.IDGenerator
}

func openNode(t *testing.T, dir string, key *ecdsa.PrivateKey, cfg tsa.Config) *node {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{db: db, reg: prometheus.NewRegistry(), ids: evidence.NewIDGenerator(nil, nil)}
	cfg.DB, cfg.Registerer = db, n.reg
	if cfg.MaxBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 50*time.Millisecond, 500*time.Millisecond
	}
	if n.stamper, err = tsa.Open(cfg); err != nil {
		db.Close()
		t.Fatal(err)
	}
	n.ledger, err = embedded.Open(db, embedded.Config{Name: "tsa-test", Key: key, Dir: filepath.Join(dir, "blocks"),
		OnSeal: n.stamper.StageEmbedded, OnBlock: func(uint64, int, time.Duration) { n.stamper.Wake() }})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *node) close() {
	n.ledger.Close()
	n.stamper.Close()
	n.db.Close()
}

// appendBlock commits one block of k records and returns their receipts.
func (n *node) appendBlock(t *testing.T, k int) []verifier.Receipt {
	t.Helper()
	var recs []evidence.Record
	for i := 0; i < k; i++ {
		id, _ := n.ids.New()
		recs = append(recs, evidence.Record{Version: evidence.RecordVersion, ID: id, Type: evidence.Text,
			Digests: []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(id.String()))}, Platform: "acme", SubmittedAt: time.Now()})
	}
	rcs, err := n.ledger.Append(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	return rcs
}

func (n *node) roots(t *testing.T) block.TrustRoots {
	info, err := n.ledger.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	info.TrustRoots.TSARoots = n.stamper.TSARoots()
	return info.TrustRoots
}

// waitStamped stamps rcs until each has want tokens, or fails after a
// generous deadline (a bound on the test, not a speed assertion).
func (n *node) waitStamped(t *testing.T, rcs []verifier.Receipt, want int) []verifier.Receipt {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := append([]verifier.Receipt(nil), rcs...)
		if err := n.stamper.Stamp(out); err != nil {
			t.Fatal(err)
		}
		done := true
		for _, rc := range out {
			done = done && len(rc.Timestamps) == want
		}
		if done {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("tokens did not arrive: %d of %d, time_source %q", len(out[0].Timestamps), want, out[0].TimeSource)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name, tsaURL string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelIs(m, "tsa", tsaURL) {
				if m.Gauge != nil {
					sum += m.Gauge.GetValue()
				}
				if m.Counter != nil {
					sum += m.Counter.GetValue()
				}
			}
		}
	}
	return sum
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestStamper: two real TSAs under two CAs stamp every block; the
// receipts verify offline with their tokens; blocks show them; a TSA
// outage delays its tokens and nothing else; requests pending at a stop
// are fetched after a restart.
func TestStamper(t *testing.T) {
	a := tsatest.Start(t, tsatest.Options{})
	b := tsatest.Start(t, tsatest.Options{Key: tsatest.RSA2048})
	roots, err := tsa.ParseRoots(append(append([]byte(nil), a.CA.PEM...), b.CA.PEM...))
	if err != nil {
		t.Fatal(err)
	}
	dir, key := t.TempDir(), newKey(t)
	cfg := tsa.Config{TSAs: []string{a.URL, b.URL}, Roots: roots}
	n := openNode(t, dir, key, cfg)

	rcs := n.appendBlock(t, 3)
	// Right after the commit, trusted time is pending.
	first := append([]verifier.Receipt(nil), rcs...)
	if err := n.stamper.Stamp(first); err != nil {
		t.Fatal(err)
	}
	if tt := first[0].TrustedTime(); tt != verifier.TrustedPending && tt != verifier.TrustedStamped {
		t.Fatalf("trusted time %s right after the commit", tt)
	}
	got := n.waitStamped(t, rcs, 2)
	rootsNow := n.roots(t)
	for _, rc := range got {
		if _, err := verifier.VerifyReceipt(rc, rootsNow); err != nil {
			t.Fatalf("receipt with tokens: %v", err)
		}
		if rc.TimeSource != verifier.TimeSourceNodeStamped {
			t.Errorf("time_source %q", rc.TimeSource)
		}
	}
	names := got[0].Timestamps[0].TSA + " " + got[0].Timestamps[1].TSA
	if !strings.Contains(names, a.Cert.Subject.CommonName) || !strings.Contains(names, b.Cert.Subject.CommonName) {
		t.Errorf("tokens from %s, want both TSAs", names)
	}
	// The block shows them.
	blk, err := n.ledger.Block(context.Background(), rcs[0].BlockNumber)
	if err != nil {
		t.Fatal(err)
	}
	bts, err := n.stamper.BlockTimestamps(blk, rootsNow)
	if err != nil || len(bts) != 1 || bts[0].TrustedTime != verifier.TrustedStamped || len(bts[0].Timestamps) != 2 {
		t.Fatalf("block timestamps %+v, %v", bts, err)
	}
	// Checked against other TSA roots, the tokens fail as untrusted.
	other := rootsNow
	other.TSARoots = []string{string(tsatest.NewCA(t).PEM)}
	if _, err := verifier.VerifyReceipt(got[0], other); !errors.Is(err, verifier.ErrTimestampUntrusted) {
		t.Errorf("against another CA: %v", err)
	}

	// Outage: TSA b stops; blocks keep committing; a's tokens arrive, b's
	// wait; b back: they arrive.
	b.Stop()
	var during [][]verifier.Receipt
	for i := 0; i < 5; i++ {
		during = append(during, n.appendBlock(t, 2))
	}
	for _, rcs := range during {
		got := n.waitStamped(t, rcs, 1)
		if got[0].Timestamps[0].TSA != a.Cert.Subject.CommonName {
			t.Errorf("during the outage a token from %q", got[0].Timestamps[0].TSA)
		}
	}
	if w := gauge(t, n.reg, "evidence_timestamps_awaiting", b.URL); w < 5 {
		t.Errorf("awaiting b: %v, want ≥ 5", w)
	}
	deadline := time.Now().Add(30 * time.Second)
	for gauge(t, n.reg, "evidence_timestamp_errors_total", b.URL) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if gauge(t, n.reg, "evidence_timestamp_errors_total", b.URL) == 0 {
		t.Error("no error counted for the stopped TSA")
	}
	b.Restart(t)
	for _, rcs := range during {
		n.waitStamped(t, rcs, 2)
	}

	// Stop with requests pending (b down again), reopen: they are fetched.
	b.Stop()
	late := n.appendBlock(t, 1)
	n.waitStamped(t, late, 1)
	n.close()
	b.Restart(t)
	n = openNode(t, dir, key, cfg)
	defer n.close()
	if w := gauge(t, n.reg, "evidence_timestamps_awaiting", b.URL); w > 1 {
		t.Errorf("after reopening, %v awaiting b", w)
	}
	for _, rc := range n.waitStamped(t, late, 2) {
		if _, err := verifier.VerifyReceipt(rc, n.roots(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStamperRefusesUntrustedTokens: a TSA whose certificate does not
// chain to the configured roots gets no token stored; the failure is
// counted as invalid; a TSA dropped from the configuration leaves its
// requests behind.
func TestStamperRefusesUntrustedTokens(t *testing.T) {
	a := tsatest.Start(t, tsatest.Options{})
	roots, err := tsa.ParseRoots(tsatest.NewCA(t).PEM)
	if err != nil {
		t.Fatal(err)
	}
	dir, key := t.TempDir(), newKey(t)
	n := openNode(t, dir, key, tsa.Config{TSAs: []string{a.URL}, Roots: roots})
	rcs := n.appendBlock(t, 1)
	deadline := time.Now().Add(30 * time.Second)
	for gauge(t, n.reg, "evidence_timestamp_errors_total", a.URL) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	mfs, _ := n.reg.Gather()
	invalid := 0.0
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "evidence_timestamp_errors_total" && labelIs(m, "reason", tsa.ReasonInvalid) {
				invalid += m.Counter.GetValue()
			}
		}
	}
	if invalid == 0 {
		t.Fatal("no invalid token counted")
	}
	out := append([]verifier.Receipt(nil), rcs...)
	if err := n.stamper.Stamp(out); err != nil || out[0].TrustedTime() != verifier.TrustedPending {
		t.Fatalf("stamp: %v, %s", err, out[0].TrustedTime())
	}
	n.close()

	// Reopened with another TSA only: the old one's requests are dropped.
	b := tsatest.Start(t, tsatest.Options{})
	n = openNode(t, dir, key, tsa.Config{TSAs: []string{b.URL}, Roots: []string{string(b.CA.PEM)}})
	defer n.close()
	if w := gauge(t, n.reg, "evidence_timestamps_awaiting", a.URL); w != 0 {
		t.Errorf("dropped TSA still counted: %v", w)
	}
	n.waitStamped(t, n.appendBlock(t, 1), 1)
}

func TestConfig(t *testing.T) {
	ca := string(tsatest.NewCA(t).PEM)
	for _, tc := range []struct {
		cfg  tsa.Config
		want string
	}{
		{tsa.Config{Roots: []string{ca}}, "no TSA URL"},
		{tsa.Config{TSAs: []string{"ftp://x"}, Roots: []string{ca}}, "http(s) URL"},
		{tsa.Config{TSAs: []string{"http://a", "http://a"}, Roots: []string{ca}}, "twice"},
		{tsa.Config{TSAs: []string{"http://a"}}, "no TSA root"},
		{tsa.Config{TSAs: []string{"http://a"}, Roots: []string{"x"}}, "roots"},
		{tsa.Config{TSAs: strings.Split(strings.Repeat("http://a,", 9)[:8*9], ","), Roots: []string{ca}}, "at most"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.cfg.TSAs, err, tc.want)
		}
	}
	if _, err := tsa.ParseRoots([]byte(ca + "junk")); err == nil {
		t.Error("junk after the PEM accepted")
	}
	if got, err := tsa.ParseRoots([]byte(ca + ca)); err != nil || len(got) != 2 {
		t.Errorf("two roots: %d, %v", len(got), err)
	}
}
