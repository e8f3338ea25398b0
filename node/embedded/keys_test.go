package embedded

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var ids = evidence.NewIDGenerator(time.Now, nil)

func appendBlocks(t *testing.T, l *Ledger, n int) []verifier.Receipt {
	t.Helper()
	var out []verifier.Receipt
	for i := range n {
		id, err := ids.New()
		if err != nil {
			t.Fatal(err)
		}
		r := evidence.Record{ID: id, Type: evidence.File, Digests: []evidence.Digest{evidence.Sum(evidence.SHA256, fmt.Append(nil, i))},
			Platform: "keys", SubmittedAt: time.Now()}
		rcs, err := l.Append(context.Background(), []evidence.Record{r})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rcs...)
	}
	return out
}

func sealed(k block.Key) string {
	if k.Sealed == nil {
		return "none"
	}
	return k.Sealed.String()
}

// TestKeyRotation: blocks sealed by one key, then another; the trust
// roots name both with the blocks each sealed, every receipt verifies
// against them, the whole ledger checks, and the retired key cannot seal
// again. A key that sealed nothing before it was replaced is no trust
// root.
func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	open := func(k *ecdsa.PrivateKey) (*Ledger, error) {
		return Open(db, Config{Name: "keys", Key: k, Dir: filepath.Join(dir, "blocks")})
	}
	k1, k2, k3 := newKey(t), newKey(t), newKey(t)
	l, err := open(k1)
	if err != nil {
		t.Fatal(err)
	}
	rcs := appendBlocks(t, l, 3)
	l.Close()
	// Rotated with the node stopped (evidencectl key rotate), then opened.
	ch, err := RegisterKey(db, &k2.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Retired == nil || !ch.Added || len(ch.Keys) != 2 || sealed(*ch.Retired) != "blocks 0 to 2" {
		t.Fatalf("rotation: %+v", ch)
	}
	if l, err = open(k2); err != nil {
		t.Fatal(err)
	}
	rcs = append(rcs, appendBlocks(t, l, 2)...)
	info, _ := l.Info(context.Background())
	if got := fmt.Sprint(sealed(info.TrustRoots.Keys[0]), "; ", sealed(info.TrustRoots.Keys[1])); got != "blocks 0 to 2; blocks 3 on" {
		t.Fatalf("trust roots after the rotation: %s", got)
	}
	rb, _ := json.Marshal(info.TrustRoots)
	roots, err := block.ParseTrustRoots(rb)
	if err != nil {
		t.Fatalf("the trust roots do not read strictly: %v\n%s", err, rb)
	}
	for _, rc := range rcs {
		if _, err := verifier.VerifyReceipt(rc, roots); err != nil {
			t.Fatalf("receipt of block %d: %v", rc.BlockNumber, err)
		}
	}
	// A seal by the old key of a block after its range is refused.
	forged := rcs[4]
	seal := *forged.Proof.Seal
	if err := seal.Sign(k1); err != nil {
		t.Fatal(err)
	}
	if err := seal.Verify(forged.Proof.Header, roots); !errors.Is(err, block.ErrKeyRange) {
		t.Fatalf("block 4 sealed by the retired key: %v", err)
	}
	l.Close()
	if _, err := open(k1); !errors.Is(err, ErrRetiredKey) {
		t.Fatalf("opened with the retired key: %v", err)
	}
	r, err := Check(db, filepath.Join(dir, "blocks"), nil)
	if err != nil || !r.OK() {
		t.Fatalf("check after the rotation: %v %v", err, r.Problems)
	}

	// Two rotations with no block between: the middle key sealed nothing.
	if _, err := RegisterKey(db, &k3.PublicKey); err != nil {
		t.Fatal(err)
	}
	k4 := newKey(t)
	ch, err = RegisterKey(db, &k4.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Retired == nil || ch.Retired.Sealed != nil || len(ch.Keys) != 3 {
		t.Fatalf("a key that sealed nothing: %+v", ch)
	}
	k3id, _ := block.KeyID(&k3.PublicKey)
	for _, k := range ch.Keys {
		if k.ID == k3id {
			t.Fatalf("a key that sealed nothing is a trust root: %+v", ch.Keys)
		}
	}
	if l, err = open(k4); err != nil {
		t.Fatal(err)
	}
	appendBlocks(t, l, 1)
	l.Close()
	if r, err := Check(db, filepath.Join(dir, "blocks"), nil); err != nil || !r.OK() {
		t.Fatalf("check after the second rotation: %v %v", err, r.Problems)
	}
}

// TestKeyRangesBackfilled: keys recorded before ranges existed (no sealed
// member) get the blocks they sealed from the stored headers.
func TestKeyRangesBackfilled(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k1, k2 := newKey(t), newKey(t)
	for i, k := range []*ecdsa.PrivateKey{k1, k2} {
		l, err := Open(db, Config{Name: "old", Key: k, Dir: filepath.Join(dir, "blocks")})
		if err != nil {
			t.Fatal(err)
		}
		appendBlocks(t, l, 2+i)
		l.Close()
	}
	// As the store looked before: keys without ranges.
	recs, _ := loadKeys(db)
	for _, r := range recs {
		old, _ := json.Marshal(block.Key{ID: r.ID, Algorithm: r.Algorithm, PublicKey: r.PublicKey})
		if err := db.Set(keyKey(r.ID), old); err != nil {
			t.Fatal(err)
		}
	}
	l, err := Open(db, Config{Name: "old", Key: k2, Dir: filepath.Join(dir, "blocks")})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	info, _ := l.Info(context.Background())
	if got := fmt.Sprint(sealed(info.TrustRoots.Keys[0]), "; ", sealed(info.TrustRoots.Keys[1])); got != "blocks 0 to 1; blocks 2 on" {
		t.Fatalf("ranges backfilled: %s", got)
	}
}
