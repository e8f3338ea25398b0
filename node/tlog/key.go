package tlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-node/evidence-node/node/store"
)

// Key is the log's Ed25519 checkpoint key.
type Key struct {
	Signer note.Signer
	// VerifierKey is the note verifier key "<name>+<hash>+<base64(0x01 ||
	// public key)>": what witnesses and verifiers are given.
	VerifierKey string

	skey string // the signer key text, as the key file holds it
}

// KeyName is the note key name for a log origin: the origin with every
// character a note key name may not hold (space, '+', controls) as '-'.
func KeyName(origin string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == '+' || r == 0x7f {
			return '-'
		}
		return r
	}, origin)
}

// LoadOrCreateKey reads the log key from path (a note signer key, as
// note.GenerateKey writes it), creating it for origin with mode 0600 if
// the file does not exist, and writes the verifier key beside it
// (path+".pub"). It refuses a key file others can read, or one made for
// another origin.
func LoadOrCreateKey(path, origin string) (Key, bool, error) {
	name := KeyName(origin)
	created := false
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		skey, _, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			return Key{}, false, fmt.Errorf("tlog: generate key: %w", err)
		}
		if err := store.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
			return Key{}, false, fmt.Errorf("tlog: write key: %w", err)
		}
		b, created = []byte(skey+"\n"), true
	} else if err != nil {
		return Key{}, false, fmt.Errorf("tlog: read key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return Key{}, false, fmt.Errorf("tlog: key file %s has mode %v; it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	k, err := ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return Key{}, false, fmt.Errorf("tlog: %s: %w", path, err)
	}
	if k.Signer.Name() != name {
		return Key{}, false, fmt.Errorf("tlog: %s is the key of log %q, not %q", path, k.Signer.Name(), name)
	}
	if err := store.WriteFile(path+".pub", []byte(k.VerifierKey+"\n"), 0o644); err != nil {
		return Key{}, false, fmt.Errorf("tlog: write verifier key: %w", err)
	}
	return k, created, nil
}

// ParseKey reads a note signer key of algorithm Ed25519.
func ParseKey(skey string) (Key, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return Key{}, fmt.Errorf("not a note signer key: %w", err)
	}
	// PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)> (base64 has '+' too)
	f := strings.SplitN(skey, "+", 5)
	if len(f) != 5 {
		return Key{}, errors.New("not a note signer key")
	}
	raw, err := base64.StdEncoding.DecodeString(f[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 0x01 {
		return Key{}, errors.New("not an Ed25519 note signer key")
	}
	vkey, err := note.NewEd25519VerifierKey(s.Name(), ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey))
	if err != nil {
		return Key{}, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil || v.KeyHash() != s.KeyHash() {
		return Key{}, fmt.Errorf("derived verifier key %q does not match the signer key", vkey)
	}
	return Key{Signer: s, VerifierKey: vkey, skey: skey}, nil
}
