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
}

// ErrUntrustedKey is returned when a seal names a key not in the roots.
var ErrUntrustedKey = errors.New("signing key is not among the trust roots")

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

// Public parses the key and checks that its ID matches it.
func (k Key) Public() (*ecdsa.PublicKey, error) {
	if k.Algorithm != KeyAlgorithm {
		return nil, fmt.Errorf("key %s: algorithm %q not supported", k.ID, k.Algorithm)
	}
	b, _ := pem.Decode([]byte(k.PublicKey))
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("key %s: no PEM PUBLIC KEY block", k.ID)
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
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
