package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/emmansun/gmsm/sm3"
)

// Algorithm names a digest algorithm.
type Algorithm string

// The supported digest algorithms.
const (
	SHA256 Algorithm = "sha256" // FIPS 180-4 SHA-256, the default
	SM3    Algorithm = "sm3"    // GB/T 32905-2016 SM3
)

// Algorithms returns the supported algorithms in canonical order (a new
// slice each time: callers may keep or change it).
func Algorithms() []Algorithm { return []Algorithm{SHA256, SM3} }

// ErrAlgorithm is returned for an unknown digest algorithm.
var ErrAlgorithm = errors.New("unknown digest algorithm (want sha256 or sm3)")

// ParseAlgorithm accepts "sha256", "SHA-256", "sm3", "SM3"; "" means SHA256.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "") {
	case "", "sha256":
		return SHA256, nil
	case "sm3":
		return SM3, nil
	}
	return "", fmt.Errorf("%w: %q", ErrAlgorithm, s)
}

// Size is the digest length in bytes (32 for both).
func (a Algorithm) Size() int {
	switch a {
	case SHA256, SM3:
		return 32
	}
	return 0
}

// New returns a fresh hash for a, or nil for an unknown algorithm.
func (a Algorithm) New() hash.Hash {
	switch a {
	case SHA256:
		return sha256.New()
	case SM3:
		return sm3.New()
	}
	return nil
}

// Valid reports whether a is a supported algorithm.
func (a Algorithm) Valid() bool { return a.Size() != 0 }

// Digest is an algorithm and the digest bytes.
type Digest struct {
	Algorithm Algorithm
	Value     []byte
}

// Hex is the lower-case hex form of the digest bytes.
func (d Digest) Hex() string { return hex.EncodeToString(d.Value) }

// Base64 is the standard padded base64 form (as courts' pages show it).
func (d Digest) Base64() string { return base64.StdEncoding.EncodeToString(d.Value) }

// String is "alg:hex".
func (d Digest) String() string { return string(d.Algorithm) + ":" + d.Hex() }

// Equal reports whether both algorithm and bytes are equal.
func (d Digest) Equal(o Digest) bool {
	return d.Algorithm == o.Algorithm && bytes.Equal(d.Value, o.Value)
}

// Validate checks the algorithm and the length.
func (d Digest) Validate() error {
	if !d.Algorithm.Valid() {
		return fmt.Errorf("%w: %q", ErrAlgorithm, d.Algorithm)
	}
	if len(d.Value) != d.Algorithm.Size() {
		return fmt.Errorf("%s digest has %d bytes, want %d", d.Algorithm, len(d.Value), d.Algorithm.Size())
	}
	return nil
}

// ErrDigestFormat is returned by ParseDigest for text that is neither the
// hex nor the base64 form of a digest of the right length.
var ErrDigestFormat = errors.New("digest must be 64 hex digits or 44 base64 characters")

// ParseDigest parses a digest of algorithm alg written as hex (any case) or
// base64 (standard or URL alphabet, padded or not). An "alg:" prefix is
// accepted and must agree with alg.
func ParseDigest(alg Algorithm, s string) (Digest, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ':'); i > 0 {
		a, err := ParseAlgorithm(s[:i])
		if err != nil {
			return Digest{}, err
		}
		if a != alg {
			return Digest{}, fmt.Errorf("digest is %s, but the algorithm is %s", a, alg)
		}
		s = s[i+1:]
	}
	if !alg.Valid() {
		return Digest{}, fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	n := alg.Size()
	if len(s) == 2*n {
		if b, err := hex.DecodeString(s); err == nil {
			return Digest{Algorithm: alg, Value: b}, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil && len(b) == n {
			return Digest{Algorithm: alg, Value: b}, nil
		}
	}
	return Digest{}, fmt.Errorf("%w (%s)", ErrDigestFormat, alg)
}

// Sum returns the digest of b.
func Sum(alg Algorithm, b []byte) Digest {
	h := alg.New()
	if h == nil {
		return Digest{Algorithm: alg}
	}
	h.Write(b)
	return Digest{Algorithm: alg, Value: h.Sum(nil)}
}

// BufferSize is the read size HashReader uses. Small reads (32 KiB) cost
// SHA-256 most of its speed on cold files; 1 MiB keeps it near memory speed.
const BufferSize = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, BufferSize); return &b }}

// HashReader reads r to the end and returns its digests, one per algorithm
// in the order given, and the byte count. Memory use is constant: one
// buffer. With several algorithms each runs on its own goroutine over the
// same buffer.
func HashReader(r io.Reader, algs ...Algorithm) ([]Digest, int64, error) {
	if len(algs) == 0 {
		algs = []Algorithm{SHA256}
	}
	hs := make([]hash.Hash, len(algs))
	for i, a := range algs {
		if hs[i] = a.New(); hs[i] == nil {
			return nil, 0, fmt.Errorf("%w: %q", ErrAlgorithm, a)
		}
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var total int64
	var wg sync.WaitGroup
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			total += int64(n)
			chunk := buf[:n]
			if len(hs) == 1 {
				hs[0].Write(chunk)
			} else {
				wg.Add(len(hs) - 1)
				for _, h := range hs[1:] {
					go func(h hash.Hash) { h.Write(chunk); wg.Done() }(h)
				}
				hs[0].Write(chunk)
				wg.Wait()
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, total, err
		}
	}
	out := make([]Digest, len(algs))
	for i, h := range hs {
		out[i] = Digest{Algorithm: algs[i], Value: h.Sum(nil)}
	}
	return out, total, nil
}

// Type is the evidence type (存证类型).
type Type string

// The evidence types.
const (
	File Type = "file" // 文件: the bytes of a file
	Text Type = "text" // 文本: the exact UTF-8 bytes of a text
)

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return t == File || t == Text }

// Label is the Chinese label courts' pages use.
func (t Type) Label() string {
	switch t {
	case File:
		return "文件"
	case Text:
		return "文本"
	}
	return string(t)
}
