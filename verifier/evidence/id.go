// Package evidence defines the evidence format shared by the node, the
// chaincode and offline verifiers: the unified evidence ID, digests,
// evidence types, the on-ledger record and the receipt.
//
// Everything here is a pure function of its inputs: no network, no clock
// (callers pass time in), no database.
package evidence

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// The unified evidence ID (统一证据编号) is 16 bytes:
//
//	 0                   6                                  16
//	+-------------------+-----------------------------------+
//	| unix time, ms (48)|         random (80 bits)          |
//	+-------------------+-----------------------------------+
//
// written as 26 Crockford base32 characters (the first one is 0-7 because
// 26×5 = 130 bits) followed by one check character, computed with the Luhn
// mod 32 algorithm over the 26 values. The text form is 27 upper-case
// characters; it sorts in time order, and parsing accepts lower case,
// spaces and hyphens, and reads I and L as 1 and O as 0. See docs/evidence-id.md.
const (
	// IDLen is the length of the canonical text form.
	IDLen     = 27
	idBodyLen = 26
	idBytes   = 16
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

var crockfordValue = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(crockford); i++ {
		t[crockford[i]] = int8(i)
		t[crockford[i]|0x20] = int8(i) // lower case
	}
	for _, c := range "Ii" + "Ll" {
		t[c] = 1
	}
	t['O'], t['o'] = 0, 0
	return t
}()

// ID is a unified evidence ID. The zero ID is invalid.
type ID [idBytes]byte

// Errors returned (wrapped in an *IDError) by ParseID.
var (
	// ErrIDChecksum means the ID is well formed but its check character does
	// not match: almost certainly a typing or copying mistake.
	ErrIDChecksum = errors.New("checksum mismatch (the ID was probably mistyped)")
	// ErrIDLength means the ID has the wrong number of characters.
	ErrIDLength = errors.New("wrong length")
	// ErrIDChar means the ID holds a character that cannot appear in an ID.
	ErrIDChar = errors.New("invalid character")
)

// IDError describes a string that is not a valid evidence ID.
type IDError struct {
	Input string
	Err   error
}

func (e *IDError) Error() string {
	in := e.Input
	if len(in) > 64 {
		in = in[:64] + "…"
	}
	return fmt.Sprintf("evidence ID %q: %v", in, e.Err)
}

func (e *IDError) Unwrap() error { return e.Err }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// Time returns the millisecond timestamp encoded in the ID.
func (id ID) Time() time.Time {
	var b [8]byte
	copy(b[2:], id[:6])
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b[:]))).UTC()
}

// String returns the canonical 27-character form.
func (id ID) String() string {
	var out [IDLen]byte
	id.encodeBody(out[:idBodyLen])
	out[idBodyLen] = crockford[luhnCheck(out[:idBodyLen])]
	return string(out[:])
}

// Grouped returns the ID in three hyphen-separated groups of nine, easier to
// read and copy from paper. ParseID accepts it.
func (id ID) Grouped() string {
	s := id.String()
	return s[0:9] + "-" + s[9:18] + "-" + s[18:27]
}

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseID.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// encodeBody writes the 128 bits as 26 base32 digits, most significant first.
func (id ID) encodeBody(dst []byte) {
	hi := binary.BigEndian.Uint64(id[0:8])
	lo := binary.BigEndian.Uint64(id[8:16])
	for i := idBodyLen - 1; i >= 0; i-- {
		dst[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
}

// luhnCheck returns the Luhn mod 32 check value for the body digits.
func luhnCheck(body []byte) int {
	sum, factor := 0, 2
	for i := len(body) - 1; i >= 0; i-- {
		a := factor * int(crockfordValue[body[i]])
		sum += a/32 + a%32
		factor = 3 - factor
	}
	return (32 - sum%32) % 32
}

// isSeparator reports whether r is a character ParseID ignores.
func isSeparator(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '-', '_', '\u3000', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', '\uff0d':
		return true
	}
	return false
}

// ParseID parses an evidence ID. It ignores spaces and hyphens, accepts
// lower case, and reads I/L as 1 and O as 0. Errors are *IDError wrapping
// ErrIDLength, ErrIDChar or ErrIDChecksum; the last means a mistyped ID.
func ParseID(s string) (ID, error) {
	var body [IDLen]byte
	n := 0
	for _, r := range s {
		if isSeparator(r) {
			continue
		}
		if r >= 0x80 || crockfordValue[r] < 0 {
			return ID{}, &IDError{Input: s, Err: fmt.Errorf("%w %q", ErrIDChar, r)}
		}
		if n == IDLen {
			return ID{}, &IDError{Input: s, Err: fmt.Errorf("%w: more than %d characters", ErrIDLength, IDLen)}
		}
		body[n] = crockford[crockfordValue[r]]
		n++
	}
	if n != IDLen {
		return ID{}, &IDError{Input: s, Err: fmt.Errorf("%w: %d characters, want %d", ErrIDLength, n, IDLen)}
	}
	if crockfordValue[body[0]] > 7 {
		return ID{}, &IDError{Input: s, Err: fmt.Errorf("%w: first character must be 0-7", ErrIDChar)}
	}
	if crockford[luhnCheck(body[:idBodyLen])] != body[idBodyLen] {
		return ID{}, &IDError{Input: s, Err: ErrIDChecksum}
	}
	var hi, lo uint64
	for i := 0; i < idBodyLen; i++ {
		v := uint64(crockfordValue[body[i]])
		hi = hi<<5 | lo>>59
		lo = lo<<5 | v
	}
	var id ID
	binary.BigEndian.PutUint64(id[0:8], hi)
	binary.BigEndian.PutUint64(id[8:16], lo)
	if id.IsZero() {
		return ID{}, &IDError{Input: s, Err: fmt.Errorf("%w: the zero ID", ErrIDChar)}
	}
	return id, nil
}

// Canonical returns s in canonical form if it parses, or "" if not.
func Canonical(s string) string {
	id, err := ParseID(s)
	if err != nil {
		return ""
	}
	return id.String()
}

// IDGenerator makes IDs that are unique without coordination (80 random
// bits) and strictly increasing for one generator: within the same
// millisecond the random part is incremented. Safe for concurrent use.
type IDGenerator struct {
	mu     sync.Mutex
	now    func() time.Time
	rand   io.Reader
	lastMS uint64
	last   ID
}

// NewIDGenerator returns a generator reading the clock now (time.Now if nil)
// and randomness from r (crypto/rand if nil).
func NewIDGenerator(now func() time.Time, r io.Reader) *IDGenerator {
	if now == nil {
		now = time.Now
	}
	if r == nil {
		r = rand.Reader
	}
	return &IDGenerator{now: now, rand: r}
}

// New returns a new ID.
func (g *IDGenerator) New() (ID, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := uint64(g.now().UnixMilli())
	if ms > 1<<48-1 {
		return ID{}, errors.New("evidence: clock beyond the year 10889")
	}
	var id ID
	if ms <= g.lastMS && !g.last.IsZero() {
		// Same (or earlier: clock stepped back) millisecond: keep order by
		// incrementing the previous ID's random part.
		id = g.last
		if !increment(id[6:]) {
			// 80 bits overflowed: move to the next millisecond.
			g.lastMS++
			if _, err := io.ReadFull(g.rand, id[6:]); err != nil {
				return ID{}, fmt.Errorf("evidence: reading randomness: %w", err)
			}
			putMS(&id, g.lastMS)
		}
	} else {
		putMS(&id, ms)
		if _, err := io.ReadFull(g.rand, id[6:]); err != nil {
			return ID{}, fmt.Errorf("evidence: reading randomness: %w", err)
		}
		id[6] &= 0x7f // leave room to increment within a millisecond
		g.lastMS = ms
	}
	g.last = id
	return id, nil
}

func putMS(id *ID, ms uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], ms)
	copy(id[:6], b[2:])
}

// increment adds one to the big-endian number in b; false on overflow.
func increment(b []byte) bool {
	for i := len(b) - 1; i >= 0; i-- {
		b[i]++
		if b[i] != 0 {
			return true
		}
	}
	return false
}
