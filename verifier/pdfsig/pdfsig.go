// Package pdfsig checks the signature that binds every byte of a signed
// PDF: the node signs each certificate and evidence package with a PAdES
// baseline B-B signature (ISO 32000 signature dictionary, SubFilter
// ETSI.CAdES.detached, a detached CMS SignedData) whose ByteRange covers the
// whole file but the signature's own /Contents string.
//
// Verify reads only what it must, from the end of the file: the last
// /ByteRange, the signature dictionary holding it and the CMS in its
// /Contents. It accepts a signature only if
//
//   - the ByteRange is [0 a b c] with b+c the file's length: the signed
//     bytes run from the first byte to the last, and the one gap [a, b) is
//     exactly the dictionary's /Contents hex string (so nothing was appended
//     after signing, not even an incremental update);
//   - the CMS is strict DER in the profile the node writes (below), so that
//     every byte of it is either checked against a fixed value or signed;
//   - its messageDigest attribute is the SHA-256 of the signed bytes and its
//     signature over the signed attributes verifies with the signer
//     certificate's ECDSA P-256 key.
//
// It does not decide whom to trust: it returns the signer certificate and
// its key ID (block.KeyID) for the caller to look up in the trust roots.
//
// The CMS profile (RFC 5652, ETSI EN 319 122-1 CAdES-B-B):
//
//	ContentInfo { id-signedData, [0] SignedData {
//	  version 1, digestAlgorithms { sha-256 }, encapContentInfo { id-data } (detached),
//	  certificates [0] { signer certificate, then any issuers },   no crls,
//	  signerInfos { SignerInfo {
//	    version 1, sid issuerAndSerialNumber, digestAlgorithm sha-256,
//	    signedAttrs [0] { content-type id-data, message-digest, signing-certificate-v2, … },
//	    signatureAlgorithm ecdsa-with-SHA256, signature } } } }   no unsigned attributes
//
// signing-certificate-v2 must name, by SHA-256, the signer certificate first
// and every other certificate the CMS carries. The /Contents hex string is
// the DER followed by zero bytes only, in hex digits of one letter case with
// no white space: that is what the node writes, and a looser reading would
// let a flipped bit (a→A, a digit turned into a space) go unseen.
//
// It uses the standard library and golang.org/x/crypto/cryptobyte alone, so
// a court can vendor it with the verifier.
package pdfsig

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/evidence-node/evidence-node/verifier/block"
)

// Bounds on what Verify reads, whatever the input.
const (
	// MaxContents is the longest /Contents hex string read (512 KiB of
	// CMS): the node's is a few kilobytes.
	MaxContents = 1 << 20
	// MaxTail is how far the signature dictionary may end before the end
	// of the file: the incremental update that carries it (field, catalog,
	// cross-reference and trailer) is a few kilobytes.
	MaxTail = 1 << 20
	// MaxDict bounds the signature dictionary's other entries.
	MaxDict = 64 << 10
	// MaxCertificates bounds the certificates a CMS may carry.
	MaxCertificates = 8
)

// SubFilter is the signature dictionary's /SubFilter of a PAdES signature.
const SubFilter = "ETSI.CAdES.detached"

// Errors, by what failed. Verify wraps them with detail; test with
// errors.Is.
var (
	// ErrNotSigned: no signature dictionary at the end of the file.
	ErrNotSigned = errors.New("pdfsig: the PDF is not signed (no signature dictionary at its end)")
	// ErrNotWholeFile: the signature does not cover every byte but its own
	// /Contents (bytes appended after signing, an incremental update after
	// the signature, or a ByteRange that leaves something out).
	ErrNotWholeFile = errors.New("pdfsig: the signature does not cover the whole file")
	// ErrMalformed: the signature dictionary or its CMS does not parse as
	// the profile requires.
	ErrMalformed = errors.New("pdfsig: malformed signature")
	// ErrUnsupported: well formed, but not the profile (another SubFilter,
	// algorithm or key type).
	ErrUnsupported = errors.New("pdfsig: unsupported signature")
	// ErrSignerCertificate: the CMS does not carry the certificate its
	// signer names, or the signed signing-certificate-v2 attribute does
	// not name the certificates it carries.
	ErrSignerCertificate = errors.New("pdfsig: signer certificate mismatch")
	// ErrDigestMismatch: the signed bytes are not those that were signed.
	ErrDigestMismatch = errors.New("pdfsig: the document was changed after signing (digest mismatch)")
	// ErrBadSignature: the signature over the signed attributes does not
	// verify with the signer certificate's key.
	ErrBadSignature = errors.New("pdfsig: the signature does not verify")
)

// DigestMismatchError is an ErrDigestMismatch with both digests.
type DigestMismatchError struct {
	Signed, Computed [sha256.Size]byte
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("%v: signed SHA-256 %x, the file's %x", ErrDigestMismatch, e.Signed, e.Computed)
}

// Unwrap makes errors.Is(err, ErrDigestMismatch) hold.
func (e *DigestMismatchError) Unwrap() error { return ErrDigestMismatch }

// Result is a signature that verified.
type Result struct {
	// Certificate is the signer's.
	Certificate *x509.Certificate
	// PublicKey is the certificate's key, which made the signature.
	PublicKey *ecdsa.PublicKey
	// KeyID is block.KeyID(PublicKey): look it up in the trust roots.
	KeyID string
	// Chain is the other certificates the signature carries, in order
	// (the signer's issuers, if the signer gave them). Not verified here.
	Chain []*x509.Certificate
	// Digest is the SHA-256 of the signed bytes.
	Digest [sha256.Size]byte
	// ByteRange is the signed ranges: [0, ByteRange[1]) and
	// [ByteRange[2], ByteRange[2]+ByteRange[3]).
	ByteRange [4]int64
	// SubFilter, Filter and the texts below are from the signature
	// dictionary; they are signed, but they are the signer's claims.
	SubFilter, Filter string
	// Time is the signature dictionary's /M, the signer's claimed signing
	// time (zero if absent); not a trusted time.
	Time                                time.Time
	Name, Reason, Location, ContactInfo string
}

// Verify checks the signature of the last revision of a signed PDF (see
// the package comment). Whatever the input, it looks for the signature
// only in the last few megabytes of doc (MaxTail, MaxContents, MaxDict),
// parses a bounded number of tokens, hashes doc once and allocates
// O(MaxContents).
func Verify(doc []byte) (Result, error) {
	sd, err := findSignature(doc)
	if err != nil {
		return Result{}, err
	}
	a, b := sd.byteRange[1], sd.byteRange[2]
	cms, err := decodeContents(doc[a+1 : b-1])
	if err != nil {
		return Result{}, err
	}
	sig, err := parseCMS(cms)
	if err != nil {
		return Result{}, err
	}
	if sd.subFilter != SubFilter {
		return Result{}, fmt.Errorf("%w: SubFilter /%s, want /%s", ErrUnsupported, sd.subFilter, SubFilter)
	}
	h := sha256.New()
	h.Write(doc[:a])
	h.Write(doc[b:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	if !bytes.Equal(sum[:], sig.messageDigest) {
		e := &DigestMismatchError{Computed: sum}
		copy(e.Signed[:], sig.messageDigest)
		return Result{}, e
	}
	if err := sig.verify(); err != nil {
		return Result{}, err
	}
	pub := sig.signer.PublicKey.(*ecdsa.PublicKey) // checked by verify
	id, err := block.KeyID(pub)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return Result{
		Certificate: sig.signer, PublicKey: pub, KeyID: id, Chain: sig.others, Digest: sum,
		ByteRange: sd.byteRange, SubFilter: sd.subFilter, Filter: sd.filter,
		Time: sd.time, Name: sd.name, Reason: sd.reason, Location: sd.location, ContactInfo: sd.contactInfo,
	}, nil
}

// decodeContents decodes the /Contents hex digits (without the angle
// brackets) into the CMS DER, checking the form the package comment
// requires.
func decodeContents(h []byte) ([]byte, error) {
	if len(h) == 0 || len(h)%2 != 0 {
		return nil, fmt.Errorf("%w: /Contents has %d hex digits, want a positive even number", ErrMalformed, len(h))
	}
	upper, lower := false, false
	out := make([]byte, len(h)/2)
	for i := 0; i < len(h); i += 2 {
		hi, ok1 := nibble(h[i], &upper, &lower)
		lo, ok2 := nibble(h[i+1], &upper, &lower)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w: /Contents has a byte that is not a hex digit at %d", ErrMalformed, i)
		}
		out[i/2] = hi<<4 | lo
	}
	if upper && lower {
		return nil, fmt.Errorf("%w: /Contents mixes upper and lower case hex digits", ErrMalformed)
	}
	return out, nil
}

func nibble(c byte, upper, lower *bool) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		*lower = true
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		*upper = true
		return c - 'A' + 10, true
	}
	return 0, false
}
