package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/evidence-node/evidence-node/verifier/strict"
)

// Record encoding versions. The version decides two rules: what
// the metadata member commits to, and which characters doc_ref may hold.
//
//   - Version 1: "meta_digest" is SHA-256(metadata), unsalted (a guessable
//     metadata value can be found from it); doc_ref refuses only Unicode Cc
//     and U+2028, U+2029.
//   - Version 2: "meta_commitment" is MetaCommitment(salt, metadata) with
//     a random salt kept off-ledger; doc_ref refuses every character of
//     Refused (ValidateText).
//
// Readers accept both; the node writes RecordVersion.
const (
	RecordVersion1 = 1
	RecordVersion2 = 2
	// RecordVersion is the version the node writes.
	RecordVersion = RecordVersion2
)

// TimeLayout is how times are written in records and receipts: RFC 3339,
// UTC, always three fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Limits on record fields.
const (
	MaxPlatformLen = 64
	MaxDocRefLen   = 256
)

// Record is what goes on the ledger for one piece of evidence. It holds no
// personal data: the platform's private metadata is represented only by a
// digest (version 1) or a salted commitment (version 2), and the content
// only by its digests.
type Record struct {
	// Version is the record encoding version (RecordVersion1 when zero).
	Version int
	ID      ID
	Type    Type
	// Digests holds one digest per algorithm, the one the platform asked
	// for (the primary digest) first. When the node saw the content itself
	// it records both SHA-256 and SM3.
	Digests []Digest
	// Platform is the submitting platform's registered name.
	Platform string
	// DocRef is the platform's own reference for the document (optional).
	DocRef string
	// MetaDigest stands for the private metadata kept off-ledger by the
	// submitting node (optional, 32 bytes): in version 1 its SHA-256
	// ("meta_digest"), in version 2 MetaCommitment(salt, metadata)
	// ("meta_commitment").
	MetaDigest []byte
	// SubmittedAt is when the node accepted the submission (milliseconds).
	SubmittedAt time.Time
}

// Ver returns the record's encoding version (1 for the zero Version).
func (r Record) Ver() int {
	if r.Version == 0 {
		return RecordVersion1
	}
	return r.Version
}

// Primary returns the primary digest.
func (r Record) Primary() Digest {
	if len(r.Digests) == 0 {
		return Digest{}
	}
	return r.Digests[0]
}

// DigestFor returns the record's digest for alg, if it has one.
func (r Record) DigestFor(alg Algorithm) (Digest, bool) {
	for _, d := range r.Digests {
		if d.Algorithm == alg {
			return d, true
		}
	}
	return Digest{}, false
}

// ErrRecord is wrapped by every record validation or decoding error.
var ErrRecord = errors.New("invalid record")

// Reasons a record is refused, wrapped together with ErrRecord.
var (
	// ErrRecordVersion: a version this package does not read.
	ErrRecordVersion = errors.New("record version not supported")
	// ErrDocRef: a doc_ref the record's version does not allow.
	ErrDocRef = errors.New("document reference not allowed")
	// ErrPlatform: not a valid platform name.
	ErrPlatform = errors.New("platform name not allowed")
	// ErrMetaMember: the metadata member of the other version
	// ("meta_digest" in version 2, "meta_commitment" in version 1).
	ErrMetaMember = errors.New("metadata member of another record version")
)

// recordError wraps ErrRecord and, when given, a more precise reason.
type recordError struct {
	reason error
	msg    string
}

func (e *recordError) Error() string { return ErrRecord.Error() + ": " + e.msg }
func (e *recordError) Unwrap() []error {
	if e.reason == nil {
		return []error{ErrRecord}
	}
	return []error{ErrRecord, e.reason}
}

func recordErr(format string, args ...any) error {
	return &recordError{msg: fmt.Sprintf(format, args...)}
}

// recordErrW is recordErr that also wraps the errors among args (%w).
func recordErrW(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &recordError{reason: err, msg: err.Error()}
}

// Validate checks every field.
func (r Record) Validate() error {
	v := r.Ver()
	if v != RecordVersion1 && v != RecordVersion2 {
		return recordErrW("%w: version %d (this verifier reads versions 1 and 2)", ErrRecordVersion, v)
	}
	if r.ID.IsZero() {
		return recordErr("missing ID")
	}
	if !r.Type.Valid() {
		return recordErr("type %q (want file or text)", r.Type)
	}
	if n := len(Algorithms()); len(r.Digests) == 0 || len(r.Digests) > n {
		return recordErr("%d digests (want 1 to %d)", len(r.Digests), n)
	}
	seen := map[Algorithm]bool{}
	for _, d := range r.Digests {
		if err := d.Validate(); err != nil {
			return recordErr("%v", err)
		}
		if seen[d.Algorithm] {
			return recordErr("two %s digests", d.Algorithm)
		}
		seen[d.Algorithm] = true
	}
	if err := ValidatePlatform(r.Platform); err != nil {
		return recordErrW("%w", err)
	}
	docRef := ValidateDocRef
	if v == RecordVersion1 {
		docRef = validateDocRefV1
	}
	if err := docRef(r.DocRef); err != nil {
		return recordErrW("%w", err)
	}
	if r.MetaDigest != nil && len(r.MetaDigest) != 32 {
		return recordErr("metadata digest has %d bytes, want 32", len(r.MetaDigest))
	}
	if r.SubmittedAt.IsZero() || r.SubmittedAt.Year() < 2000 || r.SubmittedAt.Year() > 9999 {
		return recordErr("submission time %v out of range", r.SubmittedAt)
	}
	return nil
}

// ValidatePlatform checks a platform name, the one rule for it: 1 to 64
// bytes of a-z, 0-9, '.', '_', '-', the first one a letter or a digit
// (regular expression ^[a-z0-9][a-z0-9._-]{0,63}$). Errors wrap
// ErrPlatform.
func ValidatePlatform(name string) error {
	if len(name) == 0 || len(name) > MaxPlatformLen {
		return fmt.Errorf("%w: a platform name has 1 to %d characters", ErrPlatform, MaxPlatformLen)
	}
	for i, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("%w: %q: use lower-case letters, digits, '.', '_', '-', starting with a letter or digit", ErrPlatform, name)
		}
	}
	return nil
}

// ValidateDocRef checks a document reference as the node accepts it and
// version 2 records hold it: at most 256 bytes, and plain visible text
// (ValidateText: valid UTF-8, no Unicode Cc, Cf, Zl or Zp character, so no
// bidirectional overrides such as U+202E and no invisible characters such
// as U+200B). Errors wrap ErrDocRef and, for a refused character, ErrText.
func ValidateDocRef(s string) error {
	if len(s) > MaxDocRefLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrDocRef, MaxDocRefLen)
	}
	if err := ValidateText(s); err != nil {
		return fmt.Errorf("%w: %w", ErrDocRef, err)
	}
	return nil
}

// validateDocRefV1 is the doc_ref rule of version 1 records: at most 256
// bytes of UTF-8 without Unicode Cc characters, U+2028 or U+2029.
func validateDocRefV1(s string) error {
	if len(s) > MaxDocRefLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrDocRef, MaxDocRefLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not valid UTF-8", ErrDocRef)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return fmt.Errorf("%w: contains a control character", ErrDocRef)
		}
	}
	return nil
}

// MetaSaltSize is the length of a metadata salt: 32 random bytes.
const MetaSaltSize = 32

// metaDomain starts every metadata commitment.
const metaDomain = "evidence-node/metadata-commitment/v2\n"

// ErrMetaSalt means a salt of the wrong length.
var ErrMetaSalt = errors.New("metadata salt must be 32 bytes")

// MetaCommitment is the metadata member of a version 2 record:
//
//	SHA-256("evidence-node/metadata-commitment/v2\n" ‖ salt ‖ metadata)
//
// with salt exactly MetaSaltSize bytes and metadata the exact bytes the
// node keeps (and returns to the platform). The fixed-length prefix and
// salt make the encoding unambiguous; without the salt, which stays
// off-ledger, a guessable metadata value cannot be tested against it.
func MetaCommitment(salt, metadata []byte) ([]byte, error) {
	if len(salt) != MetaSaltSize {
		return nil, ErrMetaSalt
	}
	h := sha256.New()
	h.Write([]byte(metaDomain))
	h.Write(salt)
	h.Write(metadata)
	return h.Sum(nil), nil
}

// ErrMetaMismatch means metadata (and salt) that the record does not
// commit to.
var ErrMetaMismatch = errors.New("the metadata does not match the record")

// CheckMetadata checks that the record commits to metadata: version 1,
// SHA-256(metadata) (salt must be empty); version 2,
// MetaCommitment(salt, metadata).
func (r Record) CheckMetadata(salt, metadata []byte) error {
	if r.MetaDigest == nil {
		return fmt.Errorf("%w: the record has no metadata", ErrMetaMismatch)
	}
	var want []byte
	switch r.Ver() {
	case RecordVersion1:
		if len(salt) != 0 {
			return fmt.Errorf("%w: a version 1 record has no salt", ErrMetaMismatch)
		}
		s := sha256.Sum256(metadata)
		want = s[:]
	default:
		c, err := MetaCommitment(salt, metadata)
		if err != nil {
			return err
		}
		want = c
	}
	if !bytes.Equal(want, r.MetaDigest) {
		return ErrMetaMismatch
	}
	return nil
}

// wireDigest is the JSON form of a digest inside a record.
type wireDigest struct {
	Alg Algorithm `json:"alg"`
	Hex string    `json:"hex"`
}

// wireRecord is what ParseRecord decodes.
type wireRecord struct {
	V              int          `json:"v"`
	ID             string       `json:"id"`
	Type           Type         `json:"type"`
	Digests        []wireDigest `json:"digests"`
	Platform       string       `json:"platform"`
	DocRef         string       `json:"doc_ref,omitempty"`
	MetaDigest     *string      `json:"meta_digest,omitempty"`
	MetaCommitment *string      `json:"meta_commitment,omitempty"`
	SubmittedAt    string       `json:"submitted_at"`
}

// Canonical returns the record's canonical encoding, the Merkle leaf:
//
//	{"v":V,"id":"…","type":"…","digests":[{"alg":"…","hex":"…"},…],"platform":"…",
//	 "doc_ref":"…","meta_digest"|"meta_commitment":"…","submitted_at":"…"}
//
// compact (no whitespace), members in exactly this order, doc_ref and the
// metadata member omitted when empty ("meta_digest" in version 1,
// "meta_commitment" in version 2); hex in lower case; the time in
// TimeLayout, UTC; the version and nothing else as a number. In strings
// exactly two characters are escaped, '"' as \" and '\' as \\; every
// other character is written as its UTF-8 bytes (Validate leaves no
// control characters to escape). It validates the record first.
func (r Record) Canonical() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 320)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.Ver()), 10)
	b = append(b, `,"id":"`...)
	b = append(b, r.ID.String()...)
	b = append(b, `","type":`...)
	b = appendCanonicalString(b, string(r.Type))
	b = append(b, `,"digests":[`...)
	for i, d := range r.Digests {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"alg":`...)
		b = appendCanonicalString(b, string(d.Algorithm))
		b = append(b, `,"hex":"`...)
		b = hex.AppendEncode(b, d.Value)
		b = append(b, `"}`...)
	}
	b = append(b, `],"platform":`...)
	b = appendCanonicalString(b, r.Platform)
	if r.DocRef != "" {
		b = append(b, `,"doc_ref":`...)
		b = appendCanonicalString(b, r.DocRef)
	}
	if r.MetaDigest != nil {
		if r.Ver() == RecordVersion1 {
			b = append(b, `,"meta_digest":"`...)
		} else {
			b = append(b, `,"meta_commitment":"`...)
		}
		b = hex.AppendEncode(b, r.MetaDigest)
		b = append(b, '"')
	}
	b = append(b, `,"submitted_at":"`...)
	b = r.SubmittedAt.UTC().Truncate(time.Millisecond).AppendFormat(b, TimeLayout)
	return append(b, `"}`...), nil
}

// appendCanonicalString writes s as a JSON string with only '"' and '\'
// escaped.
func appendCanonicalString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// ErrNotCanonical means bytes decoded to a valid record but are not its
// canonical encoding (extra spaces, other key order, escapes...).
var ErrNotCanonical = errors.New("record is not in canonical encoding")

// ParseRecord decodes a canonical record encoding. It reads through
// strict.Decode (exact names, no duplicates, no unknown members, valid
// UTF-8, nothing after the value) and refuses unknown versions, invalid
// records and any bytes that are not the canonical encoding of what they
// decode to (ErrNotCanonical). Errors wrap ErrRecord.
func ParseRecord(b []byte) (Record, error) {
	var w wireRecord
	if err := strict.Decode(b, &w); err != nil {
		return Record{}, recordErrW("%w", err)
	}
	if w.V != RecordVersion1 && w.V != RecordVersion2 {
		return Record{}, recordErrW("%w: version %d (this verifier reads versions 1 and 2)", ErrRecordVersion, w.V)
	}
	id, err := ParseID(w.ID)
	if err != nil {
		return Record{}, recordErrW("%w", err)
	}
	r := Record{Version: w.V, ID: id, Type: w.Type, Platform: w.Platform, DocRef: w.DocRef}
	for _, wd := range w.Digests {
		if !wd.Alg.Valid() {
			return Record{}, recordErrW("%w: %q", ErrAlgorithm, wd.Alg)
		}
		v, err := strict.Hex(wd.Hex)
		if err != nil {
			return Record{}, recordErrW("%s digest: %w", wd.Alg, err)
		}
		r.Digests = append(r.Digests, Digest{Algorithm: wd.Alg, Value: v})
	}
	meta, other := w.MetaCommitment, w.MetaDigest
	if w.V == RecordVersion1 {
		meta, other = w.MetaDigest, w.MetaCommitment
	}
	if other != nil {
		return Record{}, recordErrW("%w: version %d names its metadata member %s", ErrMetaMember, w.V, map[int]string{1: "meta_digest", 2: "meta_commitment"}[w.V])
	}
	if meta != nil {
		if r.MetaDigest, err = strict.Hex(*meta); err != nil {
			return Record{}, recordErrW("metadata member: %w", err)
		}
	}
	if r.SubmittedAt, err = time.Parse(TimeLayout, w.SubmittedAt); err != nil {
		return Record{}, recordErr("submission time: %v", err)
	}
	r.SubmittedAt = r.SubmittedAt.UTC()
	again, err := r.Canonical()
	if err != nil {
		return Record{}, err
	}
	if !bytes.Equal(again, b) {
		return Record{}, &recordError{reason: ErrNotCanonical, msg: ErrNotCanonical.Error()}
	}
	return r, nil
}

// Equal reports whether two records have the same canonical encoding.
func (r Record) Equal(o Record) bool {
	a, err1 := r.Canonical()
	b, err2 := o.Canonical()
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
