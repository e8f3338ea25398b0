package logproof

import (
	"errors"
	"fmt"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// Key is a log key a verifier trusts and the checkpoints it signs: those
// whose tree size is in Signed. A log whose key was rotated has several:
// the key rotated away signs up to the size its operator retired it at,
// the new one from the size of the log at the rotation on (the two
// overlap while both sign, so that witnesses that know only the old key
// keep cosigning; docs/transparency-log.md, "Rotating the log key").
type Key struct {
	// Key is the note verifier key (Ed25519).
	Key    string `json:"key"`
	Signed Range  `json:"signed"`
}

// Range is a range of tree sizes, First to Last inclusive; with no Last,
// every size from First on.
type Range struct {
	First uint64  `json:"first"`
	Last  *uint64 `json:"last,omitempty"`
}

// Holds reports whether a checkpoint of size is in the range.
func (r Range) Holds(size uint64) bool {
	return size >= r.First && (r.Last == nil || size <= *r.Last)
}

func (r Range) String() string {
	if r.Last == nil {
		return fmt.Sprintf("sizes %d on", r.First)
	}
	return fmt.Sprintf("sizes %d to %d", r.First, *r.Last)
}

// AnySize is the range of a log key that was never rotated.
var AnySize = Range{}

// ErrKeyRange means a checkpoint is signed by a trusted log key whose
// range does not hold its tree size (a key retired after a rotation signs
// no larger checkpoint).
var ErrKeyRange = errors.New("the log key does not sign checkpoints of this size")

// ErrKeys means a list of log keys is malformed.
var ErrKeys = errors.New("log keys")

// CheckKeys checks a log's key list as trust roots give it: at least
// one; each an Ed25519 note verifier key, none twice; no range ending
// before it starts; and current (the key signing new checkpoints) among
// them with no end to its range.
func CheckKeys(current string, keys []Key) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: none", ErrKeys)
	}
	seen := map[string]bool{}
	found := false
	for i, k := range keys {
		if _, err := newLogVerifier(k.Key); err != nil {
			return fmt.Errorf("%w: keys.%d: %v", ErrKeys, i, err)
		}
		if seen[k.Key] {
			return fmt.Errorf("%w: keys.%d: %s given twice", ErrKeys, i, clip(k.Key))
		}
		seen[k.Key] = true
		if r := k.Signed; r.Last != nil && *r.Last < r.First {
			return fmt.Errorf("%w: keys.%d.signed: last %d before first %d", ErrKeys, i, *r.Last, r.First)
		}
		if k.Key == current {
			if k.Signed.Last != nil {
				return fmt.Errorf("%w: the log's key %s signs %s only: the current key's range has no end", ErrKeys, clip(current), k.Signed)
			}
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%w: the log's key %s is not among its keys", ErrKeys, clip(current))
	}
	return nil
}

// ParseLogKey checks a log's note verifier key (Ed25519) and returns its
// name.
func ParseLogKey(vkey string) (string, error) {
	v, err := newLogVerifier(vkey)
	if err != nil {
		return "", err
	}
	return v.Name(), nil
}

func newLogVerifier(vkey string) (note.Verifier, error) {
	// note.NewVerifier knows Ed25519 keys only.
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("log key %q: %v", clip(vkey), err)
	}
	return v, nil
}

// OpenKeys checks a signed checkpoint as Open does, against a log whose
// keys are keys: every signature line by one of them must verify and be
// by a key whose range holds the checkpoint's size (else ErrKeyRange,
// naming the key and its range), and at least one must be there. This is
// the one rule for a rotated log key; Open is it for a single key trusted
// for every size. All errors are ErrCheckpoint.
func OpenKeys(signed []byte, origin string, keys []Key, witnessKeys []string) (Verified, error) {
	if len(signed) > MaxCheckpoint {
		return Verified{}, fmt.Errorf("%w: %d bytes (at most %d)", ErrCheckpoint, len(signed), MaxCheckpoint)
	}
	if len(keys) == 0 {
		return Verified{}, fmt.Errorf("%w: no log key", ErrCheckpoint)
	}
	type logKey struct {
		v note.Verifier
		k Key
	}
	var lks []logKey
	var vs []note.Verifier
	for _, k := range keys {
		lv, err := newLogVerifier(k.Key)
		if err != nil {
			return Verified{}, fmt.Errorf("%w: %v", ErrCheckpoint, err)
		}
		lks = append(lks, logKey{lv, k})
		vs = append(vs, lv)
	}
	isLog := func(name string, hash uint32) *logKey {
		for i := range lks {
			if lks[i].v.Name() == name && lks[i].v.KeyHash() == hash {
				return &lks[i]
			}
		}
		return nil
	}
	keyOf := map[uint32]string{}
	for _, k := range witnessKeys {
		wv, err := fnote.NewVerifierForCosignatureV1(k)
		if err != nil {
			return Verified{}, fmt.Errorf("%w: witness key %q: %v", ErrCheckpoint, k, err)
		}
		if isLog(wv.Name(), wv.KeyHash()) != nil {
			return Verified{}, fmt.Errorf("%w: witness key %q collides with a log key", ErrCheckpoint, k)
		}
		vs = append(vs, wv)
		keyOf[wv.KeyHash()] = k
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	c, err := ParseBody(n.Text)
	if err != nil {
		return Verified{}, err
	}
	if c.Origin != origin {
		return Verified{}, fmt.Errorf("%w: origin %q, want %q", ErrCheckpoint, c.Origin, origin)
	}
	v := Verified{Checkpoint: c}
	logSigned := false
	for _, s := range n.Sigs {
		if lk := isLog(s.Name, s.Hash); lk != nil {
			if !lk.k.Signed.Holds(c.Size) {
				return Verified{}, fmt.Errorf("%w: %w: the checkpoint of size %d is signed by log key %s+%08x, which signs %s", ErrCheckpoint, ErrKeyRange, c.Size, s.Name, s.Hash, lk.k.Signed)
			}
			logSigned = true
			continue
		}
		t, err := fnote.CoSigV1Timestamp(s)
		if err != nil {
			return Verified{}, fmt.Errorf("%w: cosignature by %s: %v", ErrCheckpoint, s.Name, err)
		}
		v.Cosignatures = append(v.Cosignatures, Cosignature{Name: s.Name, Key: keyOf[s.Hash], Time: t})
	}
	if !logSigned {
		return Verified{}, fmt.Errorf("%w: not signed by the log key %s", ErrCheckpoint, lks[len(lks)-1].v.Name())
	}
	return v, nil
}
