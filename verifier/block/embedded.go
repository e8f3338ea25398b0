package block

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// EmbeddedVersion is the version of the embedded block encoding.
const EmbeddedVersion = 1

// sealDomain separates seal signatures from any other use of the key.
const sealDomain = "evidence-node/block-seal/v1\n"

// Seal is the embedded ledger's signature over a block: it binds the block
// hash to the ledger name and the ledger time (which the header does not
// carry) under a named key.
type Seal struct {
	Ledger    string `json:"ledger"`
	Number    uint64 `json:"number"`
	BlockHash string `json:"block_hash"` // hex
	Time      string `json:"time"`       // evidence.TimeLayout
	KeyID     string `json:"key_id"`
	// Signature is ASN.1 DER ECDSA over SHA-256(SignedBytes()).
	Signature []byte `json:"signature"`
}

// SignedBytes is what the seal's signature covers: a domain string followed
// by the compact JSON of the seal without its signature.
func (s Seal) SignedBytes() []byte {
	c := s
	c.Signature = nil
	b, _ := json.Marshal(struct {
		Ledger    string `json:"ledger"`
		Number    uint64 `json:"number"`
		BlockHash string `json:"block_hash"`
		Time      string `json:"time"`
		KeyID     string `json:"key_id"`
	}{c.Ledger, c.Number, c.BlockHash, c.Time, c.KeyID})
	return append([]byte(sealDomain), b...)
}

// LedgerTime parses Time.
func (s Seal) LedgerTime() (time.Time, error) { return time.Parse(evidence.TimeLayout, s.Time) }

// Sign fills KeyID and Signature.
func (s *Seal) Sign(key *ecdsa.PrivateKey) error {
	id, err := KeyID(&key.PublicKey)
	if err != nil {
		return err
	}
	s.KeyID = id
	d := sha256.Sum256(s.SignedBytes())
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		return fmt.Errorf("block: sign seal: %w", err)
	}
	s.Signature = sig
	return nil
}

// ErrSignature means a seal's signature does not verify.
var ErrSignature = errors.New("block signature does not verify")

// Verify checks the seal against header h and the trust roots: same
// number, same block hash, a trusted key, a valid signature.
func (s Seal) Verify(h Header, roots TrustRoots) error {
	if s.Number != h.Number {
		return fmt.Errorf("seal is for block %d, not block %d", s.Number, h.Number)
	}
	if want := hex.EncodeToString(h.Hash()); s.BlockHash != want {
		return fmt.Errorf("seal is for block hash %s, not %s", s.BlockHash, want)
	}
	if roots.Ledger != "" && s.Ledger != roots.Ledger {
		return fmt.Errorf("seal is for ledger %q, the trust roots are for %q", s.Ledger, roots.Ledger)
	}
	if _, err := s.LedgerTime(); err != nil {
		return fmt.Errorf("seal time: %w", err)
	}
	k, err := roots.Find(s.KeyID)
	if err != nil {
		return err
	}
	pub, err := k.Public()
	if err != nil {
		return err
	}
	d := sha256.Sum256(s.SignedBytes())
	if !ecdsa.VerifyASN1(pub, d[:], s.Signature) {
		return fmt.Errorf("%w (key %s)", ErrSignature, s.KeyID)
	}
	return nil
}

// Embedded is a block of the embedded ledger. Its data hash is the RFC 6962
// Merkle tree hash over Records (each a canonical record encoding).
type Embedded struct {
	Version int      `json:"v"`
	Header  Header   `json:"header"`
	Records [][]byte `json:"records"`
	Seal    Seal     `json:"seal"`
}

// DataHash returns the RFC 6962 Merkle tree hash of leaves.
func DataHash(leaves [][]byte) []byte {
	h := rfc6962.DefaultHasher
	if len(leaves) == 0 {
		return h.EmptyRoot()
	}
	hashes := make([][]byte, len(leaves))
	for i, l := range leaves {
		hashes[i] = h.HashLeaf(l)
	}
	return treeHash(hashes)
}

// treeHash is MTH over already hashed leaves (RFC 6962 §2.1).
func treeHash(hs [][]byte) []byte {
	if len(hs) == 1 {
		return hs[0]
	}
	k := splitPoint(len(hs))
	return rfc6962.DefaultHasher.HashChildren(treeHash(hs[:k]), treeHash(hs[k:]))
}

// splitPoint is the largest power of two smaller than n (n > 1).
func splitPoint(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// AuditPaths returns the RFC 6962 audit path (PATH(m, D[n])) of every
// leaf, computed in one pass.
func AuditPaths(leaves [][]byte) [][][]byte {
	h := rfc6962.DefaultHasher
	hashes := make([][]byte, len(leaves))
	for i, l := range leaves {
		hashes[i] = h.HashLeaf(l)
	}
	paths := make([][][]byte, len(leaves))
	var walk func(lo, hi int) []byte
	walk = func(lo, hi int) []byte {
		if hi-lo == 1 {
			return hashes[lo]
		}
		k := lo + splitPoint(hi-lo)
		left, right := walk(lo, k), walk(k, hi)
		for i := lo; i < k; i++ {
			paths[i] = append(paths[i], right)
		}
		for i := k; i < hi; i++ {
			paths[i] = append(paths[i], left)
		}
		return h.HashChildren(left, right)
	}
	if len(leaves) > 0 {
		walk(0, len(leaves))
	}
	return paths
}

// Hash is the block hash (the header hash).
func (b Embedded) Hash() []byte { return b.Header.Hash() }

// Verify checks the block on its own: version, data hash over the records,
// and the seal against the trust roots.
func (b Embedded) Verify(roots TrustRoots) error {
	if b.Version != EmbeddedVersion {
		return fmt.Errorf("block %d: version %d not supported", b.Header.Number, b.Version)
	}
	if len(b.Records) == 0 {
		return fmt.Errorf("block %d: no records", b.Header.Number)
	}
	if got := DataHash(b.Records); !bytes.Equal(got, b.Header.DataHash) {
		return fmt.Errorf("block %d: data hash %x does not match its records (%x)", b.Header.Number, b.Header.DataHash, got)
	}
	if err := b.Seal.Verify(b.Header, roots); err != nil {
		return fmt.Errorf("block %d: %w", b.Header.Number, err)
	}
	return nil
}

// Marshal returns the block's JSON encoding.
func (b Embedded) Marshal() ([]byte, error) { return json.Marshal(b) }

// ParseEmbedded decodes an embedded block (no checks beyond syntax).
func ParseEmbedded(data []byte) (Embedded, error) {
	var b Embedded
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return Embedded{}, fmt.Errorf("block: decode embedded block: %w", err)
	}
	return b, nil
}
