package evidence

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// RecordVersion is the version of the record encoding this package writes.
const RecordVersion = 1

// TimeLayout is how times are written in records and receipts: RFC 3339,
// UTC, always three fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// Limits on record fields.
const (
	MaxPlatformLen = 64
	MaxDocRefLen   = 256
)

// Record is what goes on the ledger for one piece of evidence. It holds no
// personal data: the platform's private metadata is represented only by its
// digest, and the content only by its digests.
type Record struct {
	ID   ID
	Type Type
	// Digests holds one digest per algorithm, the one the platform asked
	// for (the primary digest) first. When the node saw the content itself
	// it records both SHA-256 and SM3.
	Digests []Digest
	// Platform is the submitting platform's registered name.
	Platform string
	// DocRef is the platform's own reference for the document (optional).
	DocRef string
	// MetaDigest is the SHA-256 of the private metadata kept off-ledger by
	// the submitting node (optional).
	MetaDigest []byte
	// SubmittedAt is when the node accepted the submission (milliseconds).
	SubmittedAt time.Time
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

func recordErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRecord, fmt.Sprintf(format, args...))
}

// Validate checks every field.
func (r Record) Validate() error {
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
		return recordErr("%v", err)
	}
	if err := ValidateDocRef(r.DocRef); err != nil {
		return recordErr("%v", err)
	}
	if r.MetaDigest != nil && len(r.MetaDigest) != 32 {
		return recordErr("metadata digest has %d bytes, want 32", len(r.MetaDigest))
	}
	if r.SubmittedAt.IsZero() || r.SubmittedAt.Year() < 2000 || r.SubmittedAt.Year() > 9999 {
		return recordErr("submission time %v out of range", r.SubmittedAt)
	}
	return nil
}

// ValidatePlatform checks a platform name: 1–64 of a-z, 0-9, '.', '_', '-',
// starting with a letter or digit.
func ValidatePlatform(name string) error {
	if len(name) == 0 || len(name) > MaxPlatformLen {
		return fmt.Errorf("platform name must have 1 to %d characters", MaxPlatformLen)
	}
	for i, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("platform name %q: use lower-case letters, digits, '.', '_', '-'", name)
		}
	}
	return nil
}

// ValidateDocRef checks a document reference: valid UTF-8, at most 256
// bytes, no control characters.
func ValidateDocRef(s string) error {
	if len(s) > MaxDocRefLen {
		return fmt.Errorf("document reference longer than %d bytes", MaxDocRefLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("document reference is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return errors.New("document reference contains a control character")
		}
	}
	return nil
}

// wireDigest is the JSON form of a digest inside a record.
type wireDigest struct {
	Alg Algorithm `json:"alg"`
	Hex string    `json:"hex"`
}

// wireRecord fixes the field order of the canonical encoding.
type wireRecord struct {
	V           int          `json:"v"`
	ID          string       `json:"id"`
	Type        Type         `json:"type"`
	Digests     []wireDigest `json:"digests"`
	Platform    string       `json:"platform"`
	DocRef      string       `json:"doc_ref,omitempty"`
	MetaDigest  string       `json:"meta_digest,omitempty"`
	SubmittedAt string       `json:"submitted_at"`
}

// Canonical returns the record's canonical encoding: compact JSON with the
// keys in the order v, id, type, digests (alg, hex), platform, doc_ref,
// meta_digest, submitted_at; empty optional fields omitted; hex in lower
// case; time in TimeLayout, UTC; no HTML escaping. These bytes are the
// Merkle leaf. It validates the record first.
func (r Record) Canonical() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	w := wireRecord{
		V:           RecordVersion,
		ID:          r.ID.String(),
		Type:        r.Type,
		Platform:    r.Platform,
		DocRef:      r.DocRef,
		SubmittedAt: r.SubmittedAt.UTC().Truncate(time.Millisecond).Format(TimeLayout),
	}
	for _, d := range r.Digests {
		w.Digests = append(w.Digests, wireDigest{Alg: d.Algorithm, Hex: d.Hex()})
	}
	if r.MetaDigest != nil {
		w.MetaDigest = hex.EncodeToString(r.MetaDigest)
	}
	return marshalCanonical(w)
}

func marshalCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ErrNotCanonical means bytes decoded to a valid record but are not its
// canonical encoding (extra spaces, other key order, upper-case hex...).
var ErrNotCanonical = errors.New("record is not in canonical encoding")

// ParseRecord decodes a canonical record encoding. It rejects unknown
// fields, unknown versions, invalid records and non-canonical bytes.
func ParseRecord(b []byte) (Record, error) {
	var w wireRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Record{}, recordErr("%v", err)
	}
	if dec.More() {
		return Record{}, recordErr("trailing data")
	}
	if w.V != RecordVersion {
		return Record{}, recordErr("version %d (this verifier reads version %d)", w.V, RecordVersion)
	}
	id, err := ParseID(w.ID)
	if err != nil {
		return Record{}, recordErr("%v", err)
	}
	r := Record{ID: id, Type: w.Type, Platform: w.Platform, DocRef: w.DocRef}
	for _, wd := range w.Digests {
		d, err := ParseDigest(wd.Alg, wd.Hex)
		if err != nil {
			return Record{}, recordErr("%v", err)
		}
		r.Digests = append(r.Digests, d)
	}
	if w.MetaDigest != "" {
		if r.MetaDigest, err = hex.DecodeString(w.MetaDigest); err != nil {
			return Record{}, recordErr("metadata digest: %v", err)
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
		return Record{}, ErrNotCanonical
	}
	return r, nil
}

// Equal reports whether two records have the same canonical encoding.
func (r Record) Equal(o Record) bool {
	a, err1 := r.Canonical()
	b, err2 := o.Canonical()
	return err1 == nil && err2 == nil && bytes.Equal(a, b)
}
