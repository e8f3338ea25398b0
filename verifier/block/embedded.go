package block

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/strict"
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
// by the compact JSON of the seal without its signature,
//
//	evidence-node/block-seal/v1\n{"ledger":S,"number":N,"block_hash":S,"time":S,"key_id":S}
//
// members in exactly this order, the number in decimal, each string
// written by appendSealString (the escapes Go's encoding/json.Marshal
// writes, spelled out there).
func (s Seal) SignedBytes() []byte {
	b := make([]byte, 0, len(sealDomain)+len(s.Ledger)+160)
	b = append(b, sealDomain...)
	b = append(b, `{"ledger":`...)
	b = appendSealString(b, s.Ledger)
	b = append(b, `,"number":`...)
	b = strconv.AppendUint(b, s.Number, 10)
	b = append(b, `,"block_hash":`...)
	b = appendSealString(b, s.BlockHash)
	b = append(b, `,"time":`...)
	b = appendSealString(b, s.Time)
	b = append(b, `,"key_id":`...)
	b = appendSealString(b, s.KeyID)
	return append(b, '}')
}

// appendSealString writes s as a JSON string the way encoding/json.Marshal
// did when the seal format was fixed (and does): '"' and '\' as \" and \\;
// U+0008, U+0009, U+000A, U+000C, U+000D as \b, \t, \n, \f, \r; the other
// characters below U+0020, and '<', '>', '&', U+2028, U+2029, as \u00XX or
// \u20XX with lower-case hex digits; an invalid UTF-8 byte as \ufffd;
// every other character as its UTF-8 bytes.
func appendSealString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, `\b`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\f':
				b = append(b, `\f`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}

// LedgerTime parses Time.
func (s Seal) LedgerTime() (time.Time, error) { return time.Parse(evidence.TimeLayout, s.Time) }

// Sign fills KeyID and Signature: a deterministic (RFC 6979) ECDSA
// signature, made low-S (s ≤ n/2), the only form Verify accepts.
func (s *Seal) Sign(key *ecdsa.PrivateKey) error {
	id, err := KeyID(&key.PublicKey)
	if err != nil {
		return err
	}
	return s.SignAs(key, id)
}

// SignAs is Sign for a caller that knows key's KeyID (computing it
// encodes the public key, a cost per block worth saving).
func (s *Seal) SignAs(key *ecdsa.PrivateKey, keyID string) error {
	s.KeyID = keyID
	d := sha256.Sum256(s.SignedBytes())
	sig, err := key.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		return fmt.Errorf("block: sign seal: %w", err)
	}
	if s.Signature, err = LowS(sig); err != nil {
		return fmt.Errorf("block: sign seal: %w", err)
	}
	return nil
}

// Errors of a seal's signature.
var (
	// ErrSignature means a seal's signature does not verify.
	ErrSignature = errors.New("block signature does not verify")
	// ErrSignatureEncoding means a signature that is not one DER
	// ECDSA-Sig-Value with 0 < r, s < n.
	ErrSignatureEncoding = errors.New("signature is not a DER ECDSA-Sig-Value")
	// ErrHighS means a signature whose s is above n/2: (r, n−s) is as
	// valid as (r, s), so only the low form is accepted.
	ErrHighS = errors.New("signature is not low-S (s > n/2)")
	// ErrSealTime means a seal time not written as YYYY-MM-DDThh:mm:ss.mmmZ.
	ErrSealTime = errors.New("seal time is not YYYY-MM-DDThh:mm:ss.mmmZ (UTC)")
)

type ecdsaSig struct{ R, S *big.Int }

// parseSig decodes an ECDSA-Sig-Value in DER (re-encoding must give the
// same bytes) with 0 < r, s < n of P-256.
func parseSig(sig []byte) (ecdsaSig, error) {
	var v ecdsaSig
	rest, err := asn1.Unmarshal(sig, &v)
	n := elliptic.P256().Params().N
	if err != nil || len(rest) != 0 || v.R == nil || v.S == nil || v.R.Sign() <= 0 || v.S.Sign() <= 0 || v.R.Cmp(n) >= 0 || v.S.Cmp(n) >= 0 {
		return v, ErrSignatureEncoding
	}
	if again, err := asn1.Marshal(v); err != nil || !bytes.Equal(again, sig) {
		return v, ErrSignatureEncoding
	}
	return v, nil
}

// LowS returns the low-S form of a DER ECDSA P-256 signature: with s > n/2,
// (r, n−s), re-encoded; else sig unchanged.
func LowS(sig []byte) ([]byte, error) {
	v, err := parseSig(sig)
	if err != nil {
		return nil, err
	}
	n := elliptic.P256().Params().N
	if v.S.Cmp(new(big.Int).Rsh(n, 1)) <= 0 {
		return sig, nil
	}
	v.S = new(big.Int).Sub(n, v.S)
	return asn1.Marshal(v)
}

// checkSig refuses a signature that is not DER or not low-S.
func checkSig(sig []byte) error {
	v, err := parseSig(sig)
	if err != nil {
		return err
	}
	if v.S.Cmp(new(big.Int).Rsh(elliptic.P256().Params().N, 1)) > 0 {
		return ErrHighS
	}
	return nil
}

// Verify checks the seal against header h and the trust roots: same
// number, same block hash, the time in its one form, a trusted key whose
// sealed range (if the roots give one) holds the block, a DER low-S
// signature that verifies.
func (s Seal) Verify(h Header, roots TrustRoots) error {
	if s.Number != h.Number {
		return fmt.Errorf("seal is for block %d, not block %d", s.Number, h.Number)
	}
	if _, err := strict.Hex(s.BlockHash); err != nil {
		return fmt.Errorf("seal block_hash: %w", err)
	}
	if _, err := strict.Hex(s.KeyID); err != nil {
		return fmt.Errorf("seal key_id: %w", err)
	}
	if want := hex.EncodeToString(h.Hash()); s.BlockHash != want {
		return fmt.Errorf("seal is for block hash %s, not %s", s.BlockHash, want)
	}
	if roots.Ledger != "" && s.Ledger != roots.Ledger {
		return fmt.Errorf("seal is for ledger %q, the trust roots are for %q", s.Ledger, roots.Ledger)
	}
	if t, err := s.LedgerTime(); err != nil || t.UTC().Format(evidence.TimeLayout) != s.Time {
		return fmt.Errorf("%w: %q", ErrSealTime, s.Time)
	}
	k, err := roots.Find(s.KeyID)
	if err != nil {
		return err
	}
	if k.Sealed != nil && !k.Sealed.Contains(s.Number) {
		return fmt.Errorf("%w: key %s seals %s, not block %d", ErrKeyRange, s.KeyID, k.Sealed, s.Number)
	}
	pub, err := k.Public()
	if err != nil {
		return err
	}
	if err := checkSig(s.Signature); err != nil {
		return fmt.Errorf("%w (key %s)", err, s.KeyID)
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

// LeafHash is the RFC 6962 leaf hash of a canonical record encoding,
// SHA-256(0x00 || leaf): an embedded record's transaction ID and the
// chaincode's name for a stored record (as hex).
func LeafHash(leaf []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(leaf) }

// LeafHex is LeafHash in lower-case hex, as entries and transaction IDs
// carry it.
func LeafHex(leaf []byte) string { return hex.EncodeToString(LeafHash(leaf)) }

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
	_, paths := Tree(leaves)
	return paths
}

// Tree returns the RFC 6962 tree hash of leaves (DataHash) and the audit
// path of every leaf (AuditPaths), in one pass that hashes each leaf and
// each node once. The hashes share one allocation, as do the paths.
func Tree(leaves [][]byte) (root []byte, paths [][][]byte) {
	n := len(leaves)
	if n == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), [][][]byte{}
	}
	depth := 0 // the longest path: ceil(log2 n)
	for 1<<depth < n {
		depth++
	}
	// n leaf hashes and n-1 node hashes.
	slab := make([]byte, 0, (2*n-1)*sha256.Size)
	var scratch []byte
	sum := func(prefix byte, parts ...[]byte) []byte {
		scratch = append(scratch[:0], prefix)
		for _, p := range parts {
			scratch = append(scratch, p...)
		}
		d := sha256.Sum256(scratch)
		at := len(slab)
		slab = append(slab, d[:]...)
		return slab[at:len(slab):len(slab)]
	}
	hashes := make([][]byte, n)
	for i, l := range leaves {
		hashes[i] = sum(rfc6962.RFC6962LeafHashPrefix, l)
	}
	steps := make([][]byte, n*depth)
	paths = make([][][]byte, n)
	for i := range paths {
		if depth > 0 { // a single leaf's path stays nil
			paths[i] = steps[i*depth : i*depth : (i+1)*depth]
		}
	}
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
		return sum(rfc6962.RFC6962NodeHashPrefix, left, right)
	}
	return walk(0, n), paths
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

// ParseEmbedded decodes an embedded block strictly (strict.Decode: exact
// names, no duplicates, no unknown members at any level, canonical base64
// records, lower-case hex hashes, nothing after the value); it checks
// nothing else (see Verify).
func ParseEmbedded(data []byte) (Embedded, error) {
	var b Embedded
	if err := strict.Decode(data, &b); err != nil {
		return Embedded{}, fmt.Errorf("block: decode embedded block: %w", err)
	}
	return b, nil
}
