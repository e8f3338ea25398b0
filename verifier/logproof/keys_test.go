package logproof_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-node/evidence-node/verifier/logproof"
)

func newLogKey(t *testing.T) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func last(n uint64) *uint64 { return &n }

// TestOpenKeys: after a rotation at size 5 and the old key's retirement
// at size 8, a checkpoint verifies when every log key that signed it
// signs its size: the old key alone up to 5, both from 5 to 8, the new
// key alone after; the old key alone after 8, or the new one before 5,
// is ErrKeyRange.
func TestOpenKeys(t *testing.T) {
	oldS, oldK := newLogKey(t)
	newS, newK := newLogKey(t)
	_, otherK := newLogKey(t)
	keys := []logproof.Key{
		{Key: oldK, Signed: logproof.Range{First: 0, Last: last(8)}},
		{Key: newK, Signed: logproof.Range{First: 5}},
	}
	f := newFixture(t, 12, 0)
	cp := func(size uint64, signers ...note.Signer) []byte {
		t.Helper()
		n, err := note.Sign(&note.Note{Text: logproof.Checkpoint{Origin: origin, Size: size, Root: f.tree.HashAt(size)}.Body()}, signers...)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, c := range []struct {
		desc    string
		size    uint64
		signers []note.Signer
		keys    []logproof.Key
		want    error
	}{
		{"old key, before the rotation", 3, []note.Signer{oldS}, keys, nil},
		{"old key, at the rotation", 5, []note.Signer{oldS}, keys, nil},
		{"both keys, between rotation and retirement", 7, []note.Signer{newS, oldS}, keys, nil},
		{"new key alone, between rotation and retirement", 7, []note.Signer{newS}, keys, nil},
		{"both keys at the retirement", 8, []note.Signer{newS, oldS}, keys, nil},
		{"new key after the retirement", 11, []note.Signer{newS}, keys, nil},
		{"the retired key after its range", 9, []note.Signer{oldS}, keys, logproof.ErrKeyRange},
		{"the retired key beside the new one after its range", 9, []note.Signer{newS, oldS}, keys, logproof.ErrKeyRange},
		{"the new key before its range", 4, []note.Signer{newS}, keys, logproof.ErrKeyRange},
		{"a key not in the roots", 7, []note.Signer{oldS}, []logproof.Key{{Key: otherK, Signed: logproof.AnySize}}, logproof.ErrCheckpoint},
		{"old key, trusted for every size (no history)", 11, []note.Signer{oldS}, []logproof.Key{{Key: oldK, Signed: logproof.AnySize}}, nil},
	} {
		_, err := logproof.OpenKeys(cp(c.size, c.signers...), origin, c.keys, nil)
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: %v", c.desc, err)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%s: %v, want %v", c.desc, err, c.want)
		case c.want != nil && !errors.Is(err, logproof.ErrCheckpoint):
			t.Errorf("%s: %v is not ErrCheckpoint", c.desc, err)
		}
	}
	// Through VerifyProof and Trust.Keys: a proof to a checkpoint the
	// retired key alone signed after its range.
	p, err := f.tree.InclusionProof(2, 9)
	if err != nil {
		t.Fatal(err)
	}
	doc := logproof.Proof{Index: 2, Hashes: p, Checkpoint: cp(9, oldS)}.Marshal()
	if _, _, err := logproof.VerifyProof(f.leaves[2], doc, logproof.Trust{Origin: origin, Key: newK, Keys: keys}); !errors.Is(err, logproof.ErrKeyRange) {
		t.Errorf("a proof to a checkpoint by the retired key: %v", err)
	}
	// Trusting the old key alone (a verifier from before the rotation),
	// a checkpoint both keys signed verifies: the new key's line is
	// unknown to it and ignored.
	if _, err := logproof.Open(cp(7, newS, oldS), origin, oldK, nil); err != nil {
		t.Errorf("both keys' checkpoint under the old key alone: %v", err)
	}
}

func TestCheckKeys(t *testing.T) {
	_, a := newLogKey(t)
	_, b := newLogKey(t)
	good := []logproof.Key{{Key: a, Signed: logproof.Range{Last: last(8)}}, {Key: b, Signed: logproof.Range{First: 5}}}
	if err := logproof.CheckKeys(b, good); err != nil {
		t.Fatalf("good keys: %v", err)
	}
	for _, c := range []struct {
		desc string
		cur  string
		keys []logproof.Key
	}{
		{"none", b, []logproof.Key{}},
		{"the current key is not listed", b, good[:1]},
		{"the current key's range ends", a, good},
		{"a key twice", b, []logproof.Key{good[1], good[1]}},
		{"last before first", b, []logproof.Key{{Key: a, Signed: logproof.Range{First: 9, Last: last(8)}}, good[1]}},
		{"not a note key", b, []logproof.Key{{Key: "not-a-key"}, good[1]}},
	} {
		if err := logproof.CheckKeys(c.cur, c.keys); !errors.Is(err, logproof.ErrKeys) {
			t.Errorf("%s: %v", c.desc, err)
		}
	}
}

// FuzzVerifyProof: any tlog-proof text, checked against a rotated log
// (two keys with overlapping ranges): no panic, and an accepted proof's
// checkpoint is signed only by log keys whose range holds its size, and
// reads back the same.
func FuzzVerifyProof(f *testing.F) {
	oldS, oldK := fixedKey(f, "fuzz old")
	newS, newK := fixedKey(f, "fuzz new")
	keys := []logproof.Key{{Key: oldK, Signed: logproof.Range{Last: last(6)}}, {Key: newK, Signed: logproof.Range{First: 4}}}
	leaf := []byte(`{"record":0}`)
	root := logproof.LeafHash(leaf)
	for _, size := range []uint64{1, 5, 7} {
		for _, ss := range [][]note.Signer{{oldS}, {newS}, {newS, oldS}} {
			cp, err := note.Sign(&note.Note{Text: logproof.Checkpoint{Origin: origin, Size: size, Root: root}.Body()}, ss...)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(leaf, logproof.Proof{Index: 0, Checkpoint: cp}.Marshal())
		}
	}
	f.Fuzz(func(t *testing.T, leaf []byte, text string) {
		v, p, err := logproof.VerifyProof(leaf, text, logproof.Trust{Origin: origin, Key: newK, Keys: keys})
		if err != nil {
			return
		}
		n, err := note.Open(p.Checkpoint, note.VerifierList(mustVerifier(t, oldK), mustVerifier(t, newK)))
		if err != nil {
			t.Fatalf("accepted, but note.Open: %v", err)
		}
		for _, s := range n.Sigs {
			for _, k := range keys {
				if mustVerifier(t, k.Key).KeyHash() == s.Hash && !k.Signed.Holds(v.Size) {
					t.Fatalf("accepted a checkpoint of size %d signed by a key of %s", v.Size, k.Signed)
				}
			}
		}
		if q, err := logproof.ParseProof(p.Marshal()); err != nil || q.Index != p.Index || string(q.Checkpoint) != string(p.Checkpoint) {
			t.Fatalf("does not read back: %v", err)
		}
	})
}

func fixedKey(f *testing.F, label string) (note.Signer, string) {
	seed := sha256.Sum256([]byte(label))
	pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(origin, pub)
	if err != nil {
		f.Fatal(err)
	}
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%s+%s", origin, strings.Split(vkey, "+")[1], encode(append([]byte{1}, seed[:]...)))
	s, err := note.NewSigner(skey)
	if err != nil {
		f.Fatal(err)
	}
	return s, vkey
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
