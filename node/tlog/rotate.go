package tlog

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/logproof"
)

// Rotating the log key (docs/transparency-log.md, "Rotating the log
// key"). With the node stopped, RotateKey makes a new key the log's: it
// signs every checkpoint from the log's size at the rotation on, and the
// key rotated away, kept in DATA/tlog-key.previous, signs them too (a
// second signature line), so witnesses and monitors that know only the
// old key go on cosigning and checking until their operators have the new
// one. RetireKey then ends the old key's range at the log's size: it
// signs nothing more, and a checkpoint of a larger size signed by it is
// refused by verifiers (logproof.ErrKeyRange). The history — every key
// with the sizes it signs — is kept in the store (T/keys) and listed in
// the trust roots (block.Log.Keys); a log never rotated has none.

// PreviousSuffix is appended to the key file's path for the key rotated
// away that still signs beside the new one.
const PreviousSuffix = ".previous"

var keyKeys = []byte("T/keys")

// keyHistory is the stored key history.
type keyHistory struct {
	V    int            `json:"v"`
	Keys []logproof.Key `json:"keys"`
}

// Errors of the key history (wrapped).
var (
	// ErrKeyNotCurrent: the key file is not the log's current key.
	ErrKeyNotCurrent = errors.New("tlog: the key file is not the transparency log's current key")
	// ErrRotationPending: a rotated-away key still signs; retire it
	// before the next rotation.
	ErrRotationPending = errors.New("tlog: the key rotated away last still signs beside the current one")
	// ErrNothingToRetire: no key rotated away signs any more.
	ErrNothingToRetire = errors.New("tlog: no rotated-away key signs beside the current one")
)

// KeyHistory returns the log's keys with the tree sizes each signs, oldest
// first; nil if the key was never rotated (the key file's key signs every
// size).
func KeyHistory(db *store.DB) ([]logproof.Key, error) {
	b, err := db.Get(keyKeys)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tlog: key history: %w", err)
	}
	var h keyHistory
	if err := json.Unmarshal(b, &h); err != nil || h.V != 1 || len(h.Keys) == 0 {
		return nil, fmt.Errorf("tlog: key history: not a key history (%v)", err)
	}
	return h.Keys, nil
}

func writeHistory(db *store.DB, keys []logproof.Key) error {
	b, err := json.Marshal(keyHistory{V: 1, Keys: keys})
	if err != nil {
		return err
	}
	var batch store.Batch
	batch.Set(keyKeys, b)
	if err := db.Write(&batch); err != nil {
		return fmt.Errorf("tlog: key history: %w", err)
	}
	return nil
}

// storedSize is the tree size of the log's latest checkpoint (0: none).
func storedSize(db *store.DB) (uint64, error) {
	b, err := db.Get(keyState)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("tlog: read state: %w", err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, fmt.Errorf("tlog: state: %w", err)
	}
	return st.Size, nil
}

// keyring is the log's keys: those checkpoints are checked against and
// those it signs with.
type keyring struct {
	// history is the stored key history (nil: never rotated); trust is
	// it, or the current key for every size.
	history []logproof.Key
	trust   []logproof.Key
	// held are the keys the log signs with, the current one first, each
	// with the sizes it signs.
	held []heldKey
}

type heldKey struct {
	key    Key
	signed logproof.Range
}

// newKeyring checks the key files against the history: cur must be its
// newest key (with no end to its range); a rotated-away key that still
// signs must be prev (DATA/tlog-key.previous). A prev the history has
// retired, or that is cur, is not used.
func newKeyring(history []logproof.Key, cur Key, prev *Key) (keyring, error) {
	r := keyring{history: history}
	if history == nil {
		if prev != nil && prev.VerifierKey != cur.VerifierKey {
			return r, fmt.Errorf("%w: the log's key was never rotated, but %s%s is there (an interrupted rotation: run evidencectl key rotate --which checkpoint again to complete it)",
				ErrKeyNotCurrent, KeyFile, PreviousSuffix)
		}
		r.trust = []logproof.Key{{Key: cur.VerifierKey, Signed: logproof.AnySize}}
		r.held = []heldKey{{cur, logproof.AnySize}}
		return r, nil
	}
	r.trust = history
	find := func(vkey string) *logproof.Key {
		for i := range history {
			if history[i].Key == vkey {
				return &history[i]
			}
		}
		return nil
	}
	newest := history[len(history)-1]
	if newest.Key != cur.VerifierKey || newest.Signed.Last != nil {
		switch k := find(cur.VerifierKey); {
		case prev != nil && prev.VerifierKey == newest.Key:
			return r, fmt.Errorf("%w: tlog-key is a new key and tlog-key%s the log's current one: a key rotation was interrupted: run evidencectl key rotate --which checkpoint again to complete it",
				ErrKeyNotCurrent, PreviousSuffix)
		case k != nil:
			return r, fmt.Errorf("%w: tlog-key is %s, which signs %s and was rotated away; the current key is %s: put it back",
				ErrKeyNotCurrent, cur.VerifierKey, k.Signed, newest.Key)
		default:
			return r, fmt.Errorf("%w: tlog-key is %s, not a key of this log (its current key is %s)", ErrKeyNotCurrent, cur.VerifierKey, newest.Key)
		}
	}
	r.held = []heldKey{{cur, newest.Signed}}
	for _, k := range history[:len(history)-1] {
		if k.Signed.Last != nil {
			continue
		}
		if prev == nil || prev.VerifierKey != k.Key {
			return r, fmt.Errorf("%w: key %s, rotated away, signs beside the current one until it is retired, but tlog-key%s does not hold it: put it back, or retire it (evidencectl key retire --which checkpoint)",
				ErrKeyNotCurrent, k.Key, PreviousSuffix)
		}
		r.held = append(r.held, heldKey{*prev, k.Signed})
	}
	if prev != nil && find(prev.VerifierKey) == nil {
		return r, fmt.Errorf("%w: tlog-key%s is %s, not a key of this log", ErrKeyNotCurrent, PreviousSuffix, prev.VerifierKey)
	}
	return r, nil
}

// SigningKeys are the verifier keys of the keys that sign the log's new
// checkpoints: the current one, and after a rotation the old one until it
// is retired.
func (l *Log) SigningKeys() []string {
	var out []string
	for _, h := range l.ring.held {
		if h.signed.Last == nil {
			out = append(out, h.key.VerifierKey)
		}
	}
	return out
}

// signersFor are the held keys that sign a checkpoint of size.
func (r keyring) signersFor(size uint64) []note.Signer {
	var out []note.Signer
	for _, h := range r.held {
		if h.signed.Holds(size) {
			out = append(out, h.key.Signer)
		}
	}
	return out
}

// NewKey makes a new log key of the key name name (KeyName of the origin).
func NewKey(name string) (Key, error) {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return Key{}, fmt.Errorf("tlog: generate key: %w", err)
	}
	return ParseKey(skey)
}

// ReadKey reads a log key file (a note signer key of mode 0600) of the key
// name name.
func ReadKey(path, name string) (Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("tlog: read key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return Key{}, fmt.Errorf("tlog: key file %s has mode %v; it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	k, err := ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return Key{}, fmt.Errorf("tlog: %s: %w", path, err)
	}
	if k.Signer.Name() != name {
		return Key{}, fmt.Errorf("tlog: %s is a key named %q, not %q", path, k.Signer.Name(), name)
	}
	return k, nil
}

// LoadPreviousKey reads the rotated-away key that signs beside the
// current one, path+PreviousSuffix (path: the key file), nil if there is
// none.
func LoadPreviousKey(path, origin string) (*Key, error) {
	k, err := ReadKey(path+PreviousSuffix, KeyName(origin))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &k, nil
}

// Rotation says what RotateKey or RetireKey changed.
type Rotation struct {
	// Old is the key rotated away (or retired), New the current key,
	// each with the sizes it signs; Keys the whole history after it.
	Old, New logproof.Key
	Keys     []logproof.Key
	// Completed: the rotation had been interrupted, and was completed
	// with the new key already in the key file.
	Completed bool
}

// RotateKey rotates the log key of a stopped node: the key in keyFile
// (the current one) moves to keyFile+PreviousSuffix and keeps signing
// beside the new key next (nil: one made now), which is written to
// keyFile (and its verifier key to keyFile+".pub") and signs from the
// log's current size on. It refuses while an earlier rotation's old key
// still signs (ErrRotationPending: RetireKey first). A rotation
// interrupted after the new key file was written is completed by running
// it again (next nil, or that key).
func RotateKey(db *store.DB, keyFile string, next *Key) (Rotation, error) {
	history, err := KeyHistory(db)
	if err != nil {
		return Rotation{}, err
	}
	size, err := storedSize(db)
	if err != nil {
		return Rotation{}, err
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return Rotation{}, fmt.Errorf("tlog: the current key: %w", err)
	}
	cur, err := ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return Rotation{}, fmt.Errorf("tlog: %s: %w", keyFile, err)
	}
	name := cur.Signer.Name()
	prev, err := ReadKey(keyFile+PreviousSuffix, name)
	hasPrev := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Rotation{}, err
	}
	var current logproof.Key // the history's current key
	if history == nil {
		current = logproof.Key{Key: cur.VerifierKey, Signed: logproof.AnySize}
		if hasPrev && prev.VerifierKey != cur.VerifierKey {
			// Interrupted after the new key file was written: prev is
			// the log's key, cur the new one.
			current = logproof.Key{Key: prev.VerifierKey, Signed: logproof.AnySize}
		}
	} else {
		current = history[len(history)-1]
		for _, k := range history[:len(history)-1] {
			if k.Signed.Last == nil {
				return Rotation{}, fmt.Errorf("%w: key %s signs %s; retire it first (evidencectl key retire --which checkpoint), once every witness has the current key %s",
					ErrRotationPending, k.Key, k.Signed, current.Key)
			}
		}
	}
	completing := current.Key != cur.VerifierKey
	if completing {
		if !hasPrev || prev.VerifierKey != current.Key {
			return Rotation{}, fmt.Errorf("%w: %s is %s; the log's current key is %s", ErrKeyNotCurrent, keyFile, cur.VerifierKey, current.Key)
		}
		if next != nil && next.VerifierKey != cur.VerifierKey {
			return Rotation{}, fmt.Errorf("tlog: an interrupted rotation to %s is to be completed first (run it again without a new key)", cur.VerifierKey)
		}
		n := cur
		next, cur = &n, prev
	} else {
		if next == nil {
			k, err := NewKey(name)
			if err != nil {
				return Rotation{}, err
			}
			next = &k
		}
		if next.Signer.Name() != name {
			return Rotation{}, fmt.Errorf("tlog: the new key is named %q, the log's %q", next.Signer.Name(), name)
		}
		for _, k := range append(history, current) {
			if k.Key == next.VerifierKey {
				return Rotation{}, fmt.Errorf("tlog: the new key %s is a key of this log already", next.VerifierKey)
			}
		}
		// The old key first, kept where the node reads it to sign beside
		// the new one; then the new key file (from here a start refuses
		// until the rotation is completed by running it again).
		if err := store.WriteFile(keyFile+PreviousSuffix, b, 0o600); err != nil {
			return Rotation{}, fmt.Errorf("tlog: write the previous key: %w", err)
		}
		skey, err := signerKeyText(next)
		if err != nil {
			return Rotation{}, err
		}
		if err := store.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
			return Rotation{}, fmt.Errorf("tlog: write the new key: %w", err)
		}
	}
	if err := store.WriteFile(keyFile+".pub", []byte(next.VerifierKey+"\n"), 0o644); err != nil {
		return Rotation{}, fmt.Errorf("tlog: write verifier key: %w", err)
	}
	nk := logproof.Key{Key: next.VerifierKey, Signed: logproof.Range{First: size}}
	keys := append(history, nk)
	if history == nil {
		keys = []logproof.Key{current, nk}
	}
	if err := writeHistory(db, keys); err != nil {
		return Rotation{}, err
	}
	return Rotation{Old: current, New: nk, Keys: keys, Completed: completing}, nil
}

// RetireKey ends the range of the rotated-away key that still signs at
// the log's current size (it signs nothing after it) and moves its key
// file (keyFile+PreviousSuffix) into retiredDir, for the operator to
// archive or destroy; the node must be stopped. ErrNothingToRetire if no
// such key signs. Run again after an interruption, it moves the file.
func RetireKey(db *store.DB, keyFile, retiredDir string) (Rotation, error) {
	history, err := KeyHistory(db)
	if err != nil {
		return Rotation{}, err
	}
	size, err := storedSize(db)
	if err != nil {
		return Rotation{}, err
	}
	if history == nil {
		return Rotation{}, fmt.Errorf("%w: the log's key was never rotated", ErrNothingToRetire)
	}
	rot := Rotation{New: history[len(history)-1]}
	idx := -1
	for i, k := range history[:len(history)-1] {
		if k.Signed.Last == nil {
			idx = i
		}
	}
	if idx >= 0 {
		last := max(size, history[idx].Signed.First)
		history[idx].Signed.Last = &last
		if err := writeHistory(db, history); err != nil {
			return Rotation{}, err
		}
		rot.Old = history[idx]
	}
	rot.Keys = history
	// The old key's file, if it is still there.
	b, err := os.ReadFile(keyFile + PreviousSuffix)
	if errors.Is(err, fs.ErrNotExist) {
		if idx < 0 {
			return rot, ErrNothingToRetire
		}
		return rot, nil
	}
	if err != nil {
		return rot, err
	}
	k, err := ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return rot, fmt.Errorf("tlog: %s: %w", keyFile+PreviousSuffix, err)
	}
	if idx < 0 {
		for _, h := range history {
			if h.Key == k.VerifierKey {
				rot.Old = h
			}
		}
	}
	if rot.Old.Key != k.VerifierKey {
		return rot, fmt.Errorf("tlog: %s holds %s, not the retired key %s", keyFile+PreviousSuffix, k.VerifierKey, rot.Old.Key)
	}
	if err := store.WriteFile(filepath.Join(retiredDir, RetiredKeyFile(k.VerifierKey)), b, 0o600); err != nil {
		return rot, err
	}
	if err := os.Remove(keyFile + PreviousSuffix); err != nil {
		return rot, err
	}
	return rot, nil
}

// RetiredKeyFile is the name a retired log key's file gets:
// tlog-key-<key hash>.
func RetiredKeyFile(vkey string) string {
	f := strings.SplitN(vkey, "+", 3)
	if len(f) < 2 {
		return KeyFile + "-unknown"
	}
	return KeyFile + "-" + f[1]
}

// signerKeyText is the note signer key text of k (as the key file holds
// it).
func signerKeyText(k *Key) (string, error) {
	if k.skey == "" {
		return "", errors.New("tlog: the new key has no signer key text")
	}
	return k.skey, nil
}
