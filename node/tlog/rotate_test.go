package tlog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/node/tlog/witnesstest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/logproof"
)

func (e *env) logKeys(key tlog.Key, prev *tlog.Key, ws ...tlog.Witness) (*tlog.Log, error) {
	l, err := tlog.Open(tlog.Config{DB: e.db, Hashes: e.hashes(), Origin: origin, Key: key, Previous: prev, Source: tlog.LedgerSource(e.led), Witnesses: ws})
	if err != nil {
		return nil, err
	}
	e.t.Cleanup(func() { l.Close() })
	return l, l.CatchUp(context.Background())
}

// TestKeyRotationRealWitnesses: the log key is rotated with the log
// stopped. Real omniwitnesses configured with the old key go on cosigning
// the checkpoints signed by both keys; after their operators give them
// the new key (one is left with the old key) the old key is retired: the
// updated witnesses cosign the new key's checkpoints, the one left behind
// refuses, every receipt's proof (before, during, after) verifies against
// the trust roots with the key history, and a checkpoint the retired key
// signs after its range is refused (logproof.ErrKeyRange).
func TestKeyRotationRealWitnesses(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	keyPath := filepath.Join(e.dir, "tlog-key")
	k1 := e.key
	w1 := witnesstest.Start(t, origin, k1.VerifierKey)
	w2 := witnesstest.Start(t, origin, k1.VerifierKey) // its operator never updates it
	rcs := e.appendBlocks("a", 3)
	l := e.logWith(witnessOf(t, w1), witnessOf(t, w2))
	if err := l.WitnessNow(ctx); err != nil {
		t.Fatal(err)
	}
	before := l.TrustRoot()
	if before.Keys != nil {
		t.Fatalf("a log never rotated lists keys: %+v", before.Keys)
	}
	l.Close()

	rot, err := tlog.RotateKey(e.db, keyPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rot.Old.Key != k1.VerifierKey || rot.New.Signed.First != 3 || rot.New.Signed.Last != nil || rot.Old.Signed.Last != nil || len(rot.Keys) != 2 {
		t.Fatalf("rotation: %+v", rot)
	}
	if _, err := tlog.RotateKey(e.db, keyPath, nil); !errors.Is(err, tlog.ErrRotationPending) {
		t.Fatalf("a second rotation before retiring: %v", err)
	}
	k2, created, err := tlog.LoadOrCreateKey(keyPath, origin)
	if err != nil || created || k2.VerifierKey == k1.VerifierKey {
		t.Fatalf("the new key: %v %v", err, created)
	}
	prev, err := tlog.LoadPreviousKey(keyPath, origin)
	if err != nil || prev == nil || prev.VerifierKey != k1.VerifierKey {
		t.Fatalf("the previous key: %v %v", err, prev)
	}
	// The key files must agree with the history.
	if _, err := e.logKeys(k2, nil); !errors.Is(err, tlog.ErrKeyNotCurrent) {
		t.Fatalf("opened without the previous key: %v", err)
	}
	if _, err := e.logKeys(k1, nil); !errors.Is(err, tlog.ErrKeyNotCurrent) {
		t.Fatalf("opened with the old key as the current one: %v", err)
	}

	// Both keys sign; the witnesses that know only k1 cosign.
	l, err = e.logKeys(k2, prev, witnessOf(t, w1), witnessOf(t, w2))
	if err != nil {
		t.Fatal(err)
	}
	rcs = append(rcs, e.appendBlocks("b", 2)...)
	if err := l.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.WitnessNow(ctx); err != nil {
		t.Fatalf("witnesses with the old key after the rotation: %v", err)
	}
	n, err := l.Cosigned(5)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{k1.VerifierKey, k2.VerifierKey} {
		if v, err := logproof.Open(n, origin, k, []string{w1.VerifierKey, w2.VerifierKey}); err != nil || len(v.Cosignatures) != 2 {
			t.Fatalf("checkpoint 5 under %s: %v %+v\n%s", k, err, v, n)
		}
	}
	if ks := l.SigningKeys(); len(ks) != 2 || ks[0] != k2.VerifierKey || ks[1] != k1.VerifierKey {
		t.Fatalf("signing keys after the rotation: %v", ks)
	}
	during := l.TrustRoot()
	if len(during.Keys) != 2 || during.Key != k2.VerifierKey || during.Keys[1].Key != k2.VerifierKey || during.Keys[1].Signed.First != 3 {
		t.Fatalf("trust roots after the rotation: %+v", during)
	}
	l.Close()

	// w1's operator takes the new key; the old one is retired.
	w1.SetLogKey(t, k2.VerifierKey)
	if rot, err = tlog.RetireKey(e.db, keyPath, filepath.Join(e.dir, "retired-keys")); err != nil {
		t.Fatal(err)
	}
	if rot.Old.Key != k1.VerifierKey || rot.Old.Signed.Last == nil || *rot.Old.Signed.Last != 5 {
		t.Fatalf("retirement: %+v", rot)
	}
	if _, err := tlog.RetireKey(e.db, keyPath, filepath.Join(e.dir, "retired-keys")); !errors.Is(err, tlog.ErrNothingToRetire) {
		t.Fatalf("retiring twice: %v", err)
	}
	if p, err := tlog.LoadPreviousKey(keyPath, origin); err != nil || p != nil {
		t.Fatalf("the retired key is still the previous key: %v %v", err, p)
	}
	if _, err := e.logKeys(k1, nil); !errors.Is(err, tlog.ErrKeyNotCurrent) || !strings.Contains(err.Error(), "rotated away") {
		t.Fatalf("opened with the retired key: %v", err)
	}
	l, err = e.logKeys(k2, nil, witnessOf(t, w1), witnessOf(t, w2))
	if err != nil {
		t.Fatal(err)
	}
	rcs = append(rcs, e.appendBlocks("c", 4)...)
	if err := l.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	// w2 knows only the retired key: it does not cosign the new key's
	// checkpoint (omniwitness answers 500, "note has no verifiable
	// signatures").
	if err := l.WitnessNow(ctx); err == nil || !strings.Contains(err.Error(), w2.Name) || strings.Contains(err.Error(), w1.Name) {
		t.Fatalf("after the retirement: %v, want %s alone to fail", err, w2.Name)
	}
	if got := cosignedBy(t, l, k2, 9, w1.VerifierKey, w2.VerifierKey); len(got) != 1 || got[0] != w1.Name {
		t.Fatalf("checkpoint 9 cosigned by %v, want %s", got, w1.Name)
	}
	n, err = l.Cosigned(9)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := logproof.Open(n, origin, k1.VerifierKey, nil); err == nil {
		t.Fatalf("checkpoint 9 verifies under the retired key:\n%s", n)
	}
	if ks := l.SigningKeys(); len(ks) != 1 || ks[0] != k2.VerifierKey {
		t.Fatalf("signing keys after the retirement: %v", ks)
	}
	after := l.TrustRoot()
	if len(after.Keys) != 2 || after.Keys[0].Signed.String() != "sizes 0 to 5" || after.Keys[1].Signed.String() != "sizes 3 on" {
		t.Fatalf("trust roots after the retirement: %+v", after.Keys)
	}

	// Every receipt verifies against the roots with the history; those
	// made before the retirement against the roots from before the
	// rotation too (a verifier that never heard of it).
	if err := l.Prove(rcs); err != nil {
		t.Fatal(err)
	}
	roots := func(lg *block.Log) block.TrustRoots {
		r := block.TrustRoots{Ledger: origin, Kind: block.KindEmbedded, Log: lg}
		if err := r.Validate(); err != nil {
			t.Fatalf("trust roots %+v: %v", lg, err)
		}
		return r
	}
	for i, rc := range rcs {
		li, err := verifier.VerifyLogProof(rc, roots(after))
		if err != nil || li == nil {
			t.Fatalf("receipt %d against the roots after the retirement: %v", i, err)
		}
		if i < 5 {
			if _, err := verifier.VerifyLogProof(rc, roots(before)); err != nil {
				t.Fatalf("receipt %d against the roots before the rotation: %v", i, err)
			}
		}
	}

	// The retired key signs a checkpoint of the log's size: refused.
	b, err := os.ReadFile(filepath.Join(e.dir, "retired-keys", tlog.RetiredKeyFile(k1.VerifierKey)))
	if err != nil {
		t.Fatal(err)
	}
	old, err := tlog.ParseKey(strings.TrimSpace(string(b)))
	if err != nil || old.VerifierKey != k1.VerifierKey {
		t.Fatalf("the retired key's file: %v", err)
	}
	cp, err := l.Latest()
	if err != nil {
		t.Fatal(err)
	}
	forged, err := note.Sign(&note.Note{Text: tlog.CheckpointBody(origin, cp.Size, cp.Root)}, old.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := logproof.OpenKeys(forged, origin, after.Keys, nil); !errors.Is(err, logproof.ErrKeyRange) {
		t.Fatalf("a checkpoint of size %d by the retired key: %v", cp.Size, err)
	}
}

// TestKeyRotationInterrupted: a rotation that stopped after the new key
// file was written (the history not yet) keeps the log from opening,
// saying so, and running it again completes it with that key; a
// retirement that stopped before moving the old key's file leaves a log
// that opens (the retired key signs nothing), and running it again moves
// the file.
func TestKeyRotationInterrupted(t *testing.T) {
	e := newEnv(t)
	keyPath := filepath.Join(e.dir, "tlog-key")
	k1 := e.key
	e.appendBlocks("a", 2)
	e.log().Close()

	// The rotation's file steps, by hand: the old key to .previous, a
	// new key in tlog-key; no history written.
	old, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath+tlog.PreviousSuffix, old, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(keyPath)
	k2, created, err := tlog.LoadOrCreateKey(keyPath, origin) // a new key file
	if err != nil || !created {
		t.Fatal(err, created)
	}
	prev, err := tlog.LoadPreviousKey(keyPath, origin)
	if err != nil || prev == nil {
		t.Fatal(err)
	}
	if _, err := e.logKeys(k2, prev); !errors.Is(err, tlog.ErrKeyNotCurrent) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("an interrupted rotation: %v", err)
	}
	rot, err := tlog.RotateKey(e.db, keyPath, nil)
	if err != nil || !rot.Completed || rot.New.Key != k2.VerifierKey || rot.Old.Key != k1.VerifierKey || rot.New.Signed.First != 2 {
		t.Fatalf("completing the rotation: %v %+v", err, rot)
	}
	l, err := e.logKeys(k2, prev)
	if err != nil {
		t.Fatal(err)
	}
	e.appendBlocks("b", 1)
	if err := l.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.Close()

	// The retirement: history written, the file moved back as if the
	// move had not happened.
	retired := filepath.Join(e.dir, "retired-keys")
	if _, err := tlog.RetireKey(e.db, keyPath, retired); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(retired, tlog.RetiredKeyFile(k1.VerifierKey))
	if err := os.Rename(moved, keyPath+tlog.PreviousSuffix); err != nil {
		t.Fatal(err)
	}
	if l, err = e.logKeys(k2, prev); err != nil {
		t.Fatalf("a log whose retired key's file was not moved yet: %v", err)
	}
	l.Close()
	rot, err = tlog.RetireKey(e.db, keyPath, retired)
	if err != nil || rot.Old.Key != k1.VerifierKey || rot.Old.Signed.String() != "sizes 0 to 3" {
		t.Fatalf("retiring again: %v %+v", err, rot)
	}
	if _, err := os.Stat(moved); err != nil {
		t.Fatalf("the retired key's file: %v", err)
	}
	if p, err := tlog.LoadPreviousKey(keyPath, origin); p != nil || err != nil {
		t.Fatalf("tlog-key.previous after the retirement: %v %v", p, err)
	}
}
