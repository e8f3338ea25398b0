package tlog_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/node/tlog/witnesstest"
	"github.com/evidence-node/evidence-node/verifier/logproof"
)

func (e *env) logWith(ws ...tlog.Witness) *tlog.Log {
	e.t.Helper()
	l, err := tlog.Open(tlog.Config{DB: e.db, Hashes: e.hashes(), Origin: origin, Key: e.key, Source: tlog.LedgerSource(e.led), Witnesses: ws})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { l.Close() })
	if err := l.CatchUp(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return l
}

func witnessOf(t *testing.T, w *witnesstest.Witness) tlog.Witness {
	t.Helper()
	tw, err := tlog.ParseWitness(w.Spec())
	if err != nil {
		t.Fatal(err)
	}
	return tw
}

// cosignedBy opens the log's checkpoint note and returns the names of the
// trusted witnesses that cosigned it.
func cosignedBy(t *testing.T, l *tlog.Log, key tlog.Key, size uint64, witnessKeys ...string) []string {
	t.Helper()
	n, err := l.Cosigned(size)
	if err != nil {
		t.Fatal(err)
	}
	v, err := logproof.Open(n, origin, key.VerifierKey, witnessKeys)
	if err != nil {
		t.Fatalf("checkpoint %d: %v\n%s", size, err, n)
	}
	if v.Size != size {
		t.Fatalf("checkpoint of size %d, want %d", v.Size, size)
	}
	var names []string
	for _, c := range v.Cosignatures {
		names = append(names, c.Name)
	}
	return names
}

// TestRealWitnesses (issue 12, acceptance 2): two real omniwitnesses
// cosign every checkpoint; one that is down holds nothing up and cosigns
// again once it is back; its cosignatures persist over a restart of the
// log.
func TestRealWitnesses(t *testing.T) {
	e := newEnv(t)
	w1 := witnesstest.Start(t, origin, e.key.VerifierKey)
	w2 := witnesstest.Start(t, origin, e.key.VerifierKey)
	rcs := e.appendBlocks("a", 3, 4)
	l := e.logWith(witnessOf(t, w1), witnessOf(t, w2))
	ctx := context.Background()
	if err := l.WitnessNow(ctx); err != nil {
		t.Fatal(err)
	}
	if got := cosignedBy(t, l, e.key, 7, w1.VerifierKey, w2.VerifierKey); len(got) != 2 {
		t.Fatalf("size 7 cosigned by %v, want both witnesses", got)
	}
	// Each following checkpoint, with a consistency proof from the last.
	for i, size := range []uint64{8, 108, 400} {
		rcs = append(rcs, e.appendBlocks(strings.Repeat("b", i+1), int(size)-len(rcs))...)
		if err := l.CatchUp(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.WitnessNow(ctx); err != nil {
			t.Fatal(err)
		}
		if got := cosignedBy(t, l, e.key, size, w1.VerifierKey, w2.VerifierKey); len(got) != 2 {
			t.Fatalf("size %d cosigned by %v", size, got)
		}
	}
	checkLog(t, l, e.key, rcs)

	// Witness 2 is down: the log goes on, witness 1 cosigns.
	w2.Stop()
	rcs = append(rcs, e.appendBlocks("c", 5)...)
	if err := l.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.WitnessNow(ctx); err == nil || errors.Is(err, tlog.ErrRefused) {
		t.Fatalf("with a witness down: %v, want it unreachable", err)
	}
	if got := cosignedBy(t, l, e.key, 405, w1.VerifierKey, w2.VerifierKey); len(got) != 1 || got[0] != w1.Name {
		t.Fatalf("size 405 cosigned by %v, want %s alone", got, w1.Name)
	}
	inc, err := l.Include(rcs[404])
	if err != nil || inc.Checkpoint.Size != 405 {
		t.Fatalf("inclusion with a witness down: %v %d", err, inc.Checkpoint.Size)
	}
	// A record of size 8's step proves to the checkpoint of 8, cosigned
	// by both: receipts keep their first cosigned checkpoint.
	inc, err = l.Include(rcs[7])
	if err != nil || inc.Checkpoint.Size != 8 || !strings.Contains(string(inc.Checkpoint.Note), w2.Name) {
		t.Fatalf("record 7: %v size %d\n%s", err, inc.Checkpoint.Size, inc.Checkpoint.Note)
	}

	// The log restarts (its record of each witness's size from the
	// store), witness 2 comes back and catches up with one proof.
	l.Close()
	w2.Restart(t)
	l = e.logWith(witnessOf(t, w1), witnessOf(t, w2))
	if err := l.WitnessNow(ctx); err != nil {
		t.Fatal(err)
	}
	if got := cosignedBy(t, l, e.key, 405, w1.VerifierKey, w2.VerifierKey); len(got) != 2 {
		t.Fatalf("size 405 after witness 2 is back: %v", got)
	}
	// Served checkpoint: the latest, with both lines.
	n, err := l.CheckpointNote()
	if err != nil {
		t.Fatal(err)
	}
	if v, err := logproof.Open(n, origin, e.key.VerifierKey, []string{w1.VerifierKey, w2.VerifierKey}); err != nil || len(v.Cosignatures) != 2 {
		t.Fatalf("served checkpoint: %v %+v", err, v)
	}
	// Not trusting a witness: its line is ignored, not an error.
	if v, err := logproof.Open(n, origin, e.key.VerifierKey, []string{w1.VerifierKey}); err != nil || len(v.Cosignatures) != 1 {
		t.Fatalf("trusting one witness: %v %+v", err, v)
	}
}

func TestParseWitness(t *testing.T) {
	const key = "witness.example+dd8a8a84+BNOqIKZRpQRzNQrbrMgDS9xI5aBI86bHBFvi4UQyt7CE"
	if _, err := tlog.ParseWitness("https://w.example/prefix " + key); err != nil {
		t.Errorf("good witness: %v", err)
	}
	for _, s := range []string{"", "https://w.example", key, "ftp://w.example " + key, "https://u@w.example " + key,
		"https://w.example?x=1 " + key, "https://w.example not-a-key", "https://w.example " + key + " extra"} {
		if _, err := tlog.ParseWitness(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// TestCheckpointAgeMetric: evidence_tlog_checkpoint_age_seconds (the
// witness alert's metric) is 0 while the newest checkpoint is cosigned,
// grows while the only witness is down and a newer checkpoint waits, and
// is 0 again once the witness, back, cosigns it.
func TestCheckpointAgeMetric(t *testing.T) {
	e := newEnv(t)
	w := witnesstest.Start(t, origin, e.key.VerifierKey)
	e.appendBlocks("a", 3)
	reg := prometheus.NewRegistry()
	l, err := tlog.Open(tlog.Config{DB: e.db, Hashes: e.hashes(), Origin: origin, Key: e.key, Source: tlog.LedgerSource(e.led), Witnesses: []tlog.Witness{witnessOf(t, w)}, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	age := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "evidence_tlog_checkpoint_age_seconds" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("evidence_tlog_checkpoint_age_seconds not exported")
		return 0
	}
	if err := l.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.WitnessNow(ctx); err != nil {
		t.Fatal(err)
	}
	if a := age(); a != 0 {
		t.Fatalf("the newest checkpoint is cosigned: age %v, want 0", a)
	}
	w.Stop()
	e.appendBlocks("b", 2)
	if err := l.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	l.WitnessNow(ctx) // fails: the witness is down
	time.Sleep(50 * time.Millisecond)
	if a := age(); a < 0.05 {
		t.Fatalf("a checkpoint waiting for the only witness: age %v, want ≥ 0.05 s", a)
	}
	w.Restart(t)
	if err := l.WitnessNow(ctx); err != nil {
		t.Fatal(err)
	}
	if a := age(); a != 0 {
		t.Fatalf("cosigned again: age %v, want 0", a)
	}
}
