package block

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/evidence-node/evidence-node/verifier/logproof"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// KeyAlgorithm names the only seal signature algorithm so far.
const KeyAlgorithm = "ecdsa-p256-sha256"

// Key is a public key that may sign block seals.
type Key struct {
	// ID is KeyID(public key): receipts and seals name keys by it, so keys
	// can rotate without breaking old receipts.
	ID        string `json:"key_id"`
	Algorithm string `json:"algorithm"`
	// PublicKey is the PEM "PUBLIC KEY" (PKIX) block.
	PublicKey string `json:"public_key"`
	// Sealed is the range of blocks the key seals on the embedded ledger:
	// a seal by it of a block outside the range is refused (ErrKeyRange).
	// A key rotated away has both ends; the key sealing new blocks has no
	// last. Absent: no range is recorded (trust roots from before key
	// rotation), any block.
	Sealed *BlockRange `json:"sealed,omitempty"`
}

// BlockRange is a range of block numbers, First to Last inclusive; with
// no Last, every block from First on.
type BlockRange struct {
	First uint64  `json:"first"`
	Last  *uint64 `json:"last,omitempty"`
}

// Contains reports whether block n is in the range.
func (r BlockRange) Contains(n uint64) bool { return n >= r.First && (r.Last == nil || n <= *r.Last) }

func (r BlockRange) String() string {
	if r.Last == nil {
		return fmt.Sprintf("blocks %d on", r.First)
	}
	return fmt.Sprintf("blocks %d to %d", r.First, *r.Last)
}

// Ledger kinds: which ledger a block, a receipt or trust roots belong to,
// and so how a raw block is encoded.
const (
	KindEmbedded = "embedded" // the embedded ledger: block.Embedded JSON
	KindFabric   = "fabric"   // Hyperledger Fabric: protobuf common.Block
)

// TrustRoots are what a verifier trusts for one ledger.
type TrustRoots struct {
	Ledger string `json:"ledger"`
	// Kind is KindEmbedded or KindFabric.
	Kind string `json:"kind"`
	Keys []Key  `json:"keys"`
	// Fabric holds the channel's organisations for Kind "fabric".
	Fabric *Fabric `json:"fabric,omitempty"`
	// Signers are the keys that sign the node's documents (certificates,
	// evidence packages): the PDF signature of a package must be made by
	// one of them. On the embedded ledger the node's key seals blocks too.
	Signers []Key `json:"signers,omitempty"`
	// TSARoots are the certificates (PEM) of the time-stamping
	// authorities whose RFC 3161 tokens a verifier accepts: a token's
	// signing certificate must chain to one of them (TSARootsDER).
	TSARoots []string `json:"tsa_roots,omitempty"`
	// Log is the ledger's transparency log: receipts' log proofs are
	// checked against it (nil: none is checked).
	Log *Log `json:"log,omitempty"`
}

// Log names a transparency log and whom a verifier trusts for it
// (docs/transparency-log.md).
type Log struct {
	// Origin is the checkpoints' origin line (the ledger name); Key the
	// log's note verifier key (Ed25519): the key that signs its new
	// checkpoints.
	Origin string `json:"origin"`
	Key    string `json:"key"`
	// Keys is the log's key history once its key was rotated: every key
	// that signs or signed its checkpoints, with the tree sizes each
	// signs (logproof.OpenKeys: a checkpoint signed by a key outside its
	// range is refused). Absent: Key signs every size.
	Keys []logproof.Key `json:"keys,omitempty"`
	// Witnesses are the cosignature/v1 verifier keys of the witnesses
	// whose cosignatures count; Quorum how many of them must have
	// cosigned a receipt's checkpoint (0: none needed). A node lists the
	// witnesses it submits to; a verifier may trust others
	// (evidencectl verify-package --witness-key).
	Witnesses []string `json:"witnesses,omitempty"`
	Quorum    int      `json:"quorum,omitempty"`
}

// Trust is what the log's checkpoints are checked against.
func (l Log) Trust() logproof.Trust {
	return logproof.Trust{Origin: l.Origin, Key: l.Key, Keys: l.Keys, Witnesses: l.Witnesses, Quorum: l.Quorum}
}

// ErrUntrustedKey is returned when a seal names a key not in the roots.
var ErrUntrustedKey = errors.New("signing key is not among the trust roots")

// ErrKeyRange is returned when a seal is by a trusted key, for a block
// outside the range of blocks the trust roots say the key sealed (a key
// rotated away seals nothing after its range).
var ErrKeyRange = errors.New("the key does not seal this block")

// KeyID returns the key ID of a public key: the first 16 bytes of the
// SHA-256 of its PKIX DER encoding, in hex.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("block: key id: %w", err)
	}
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:16]), nil
}

// NewKey describes an ECDSA P-256 public key as a trust root.
func NewKey(pub *ecdsa.PublicKey) (Key, error) {
	if pub.Curve != elliptic.P256() {
		return Key{}, errors.New("block: only P-256 keys are supported")
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return Key{}, err
	}
	id, err := KeyID(pub)
	if err != nil {
		return Key{}, err
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return Key{ID: id, Algorithm: KeyAlgorithm, PublicKey: string(p)}, nil
}

// Public parses the key and checks that its ID matches it. The PEM must be
// exactly one "PUBLIC KEY" block as encoding/pem writes it (64-character
// lines, LF), with nothing before or after it (strict.PEM).
func (k Key) Public() (*ecdsa.PublicKey, error) {
	if k.Algorithm != KeyAlgorithm {
		return nil, fmt.Errorf("key %s: algorithm %q not supported", k.ID, k.Algorithm)
	}
	der, err := strict.PEM(k.PublicKey, "PUBLIC KEY", true)
	if err != nil {
		return nil, fmt.Errorf("key %s: public_key: %w", k.ID, err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", k.ID, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("key %s: not an ECDSA P-256 key", k.ID)
	}
	id, err := KeyID(ec)
	if err != nil {
		return nil, err
	}
	if id != k.ID {
		return nil, fmt.Errorf("key %s: the public key's ID is %s", k.ID, id)
	}
	return ec, nil
}

// FindSigner returns the document signer with the given ID.
func (t TrustRoots) FindSigner(id string) (Key, error) {
	for _, k := range t.Signers {
		if k.ID == id {
			return k, nil
		}
	}
	return Key{}, fmt.Errorf("%w: %s does not sign this ledger's documents", ErrUntrustedKey, id)
}

// Find returns the key with the given ID.
func (t TrustRoots) Find(id string) (Key, error) {
	for _, k := range t.Keys {
		if k.ID == id {
			return k, nil
		}
	}
	return Key{}, fmt.Errorf("%w: %s", ErrUntrustedKey, id)
}

// ErrTrustRoots is wrapped by every error of ParseTrustRoots.
var ErrTrustRoots = errors.New("invalid trust roots")

// ParseTrustRoots decodes a trust-roots document strictly (strict.Decode)
// and checks it: a ledger name; kind embedded or fabric; every key with a lower-case hex
// key_id of 32 digits, a known algorithm and a PEM public key whose ID is
// key_id (Key.Public); a fabric part for kind fabric only, with PEM
// certificates without surrounding text. Errors wrap ErrTrustRoots.
func ParseTrustRoots(b []byte) (TrustRoots, error) {
	var t TrustRoots
	if err := strict.Decode(b, &t); err != nil {
		return TrustRoots{}, fmt.Errorf("%w: %w", ErrTrustRoots, err)
	}
	if err := t.Validate(); err != nil {
		return TrustRoots{}, err
	}
	return t, nil
}

// Validate checks trust roots as ParseTrustRoots does.
func (t TrustRoots) Validate() error {
	if t.Ledger == "" {
		return fmt.Errorf("%w: no ledger name", ErrTrustRoots)
	}
	switch t.Kind {
	case KindEmbedded:
		if t.Fabric != nil {
			return fmt.Errorf("%w: fabric organisations in the roots of an embedded ledger", ErrTrustRoots)
		}
	case KindFabric:
		if t.Fabric == nil {
			return fmt.Errorf("%w: kind fabric without the channel's organisations", ErrTrustRoots)
		}
	default:
		return fmt.Errorf("%w: kind %q (want embedded or fabric)", ErrTrustRoots, t.Kind)
	}
	for i, k := range t.Keys {
		if len(k.ID) != 32 {
			return fmt.Errorf("%w: keys.%d.key_id: want 32 lower-case hex digits", ErrTrustRoots, i)
		}
		if _, err := strict.Hex(k.ID); err != nil {
			return fmt.Errorf("%w: keys.%d.key_id: %w", ErrTrustRoots, i, err)
		}
		if _, err := k.Public(); err != nil {
			return fmt.Errorf("%w: keys.%d: %w", ErrTrustRoots, i, err)
		}
		if r := k.Sealed; r != nil && r.Last != nil && *r.Last < r.First {
			return fmt.Errorf("%w: keys.%d.sealed: last %d before first %d", ErrTrustRoots, i, *r.Last, r.First)
		}
	}
	if _, err := t.TSARootsDER(); err != nil {
		return fmt.Errorf("%w: %w", ErrTrustRoots, err)
	}
	if t.Log != nil && t.Log.Keys != nil {
		if err := logproof.CheckKeys(t.Log.Key, t.Log.Keys); err != nil {
			return fmt.Errorf("%w: log: %w", ErrTrustRoots, err)
		}
	}
	if t.Fabric != nil {
		for _, orgs := range [][]MSP{t.Fabric.Orderers, t.Fabric.Orgs} {
			for _, m := range orgs {
				for _, certs := range [][]string{m.RootCerts, m.IntermediateCerts} {
					for j, c := range certs {
						if _, err := strict.PEM(c, "CERTIFICATE", false); err != nil {
							return fmt.Errorf("%w: %s certificate %d: %w", ErrTrustRoots, m.ID, j, err)
						}
					}
				}
			}
		}
		seen := map[uint32]bool{}
		for i, c := range t.Fabric.Consenters {
			if seen[c.ID] {
				return fmt.Errorf("%w: consenters.%d: consenter ID %d twice", ErrTrustRoots, i, c.ID)
			}
			seen[c.ID] = true
			if c.MSPID == "" {
				return fmt.Errorf("%w: consenters.%d: no msp_id", ErrTrustRoots, i)
			}
			if _, err := strict.PEM(c.Cert, "CERTIFICATE", false); err != nil {
				return fmt.Errorf("%w: consenters.%d certificate: %w", ErrTrustRoots, i, err)
			}
		}
	}
	return nil
}
