package node

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// MaxMetadata is the largest private metadata document accepted.
const MaxMetadata = 16 << 10

// ErrMetadata is wrapped by every refusal of CompactMetadata.
var ErrMetadata = errors.New("invalid metadata (want a JSON object, valid UTF-8, no member name twice)")

// CompactMetadata is the one rule for private metadata: a JSON object of
// at most MaxMetadata bytes, read as strictly as the format's documents
// (valid UTF-8, no unpaired surrogate escapes, no member name twice in an
// object at any depth, nothing after the value), returned with its
// insignificant whitespace (space, tab, LF, CR outside strings) removed
// and nothing else changed: member order, escapes and number forms stay as
// the platform wrote them. These exact bytes are kept off-ledger, returned
// to the platform and committed to in the record (evidence.MetaCommitment).
// "null" and empty input mean no metadata (nil, nil).
func CompactMetadata(b []byte) ([]byte, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if len(b) > MaxMetadata {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrMetadata, MaxMetadata)
	}
	var obj map[string]json.RawMessage
	if err := strict.Decode(b, &obj); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMetadata, err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMetadata, err)
	}
	return buf.Bytes(), nil
}

// newMetaSalt returns a fresh random salt for a metadata commitment.
func newMetaSalt() ([]byte, error) {
	salt := make([]byte, evidence.MetaSaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("metadata salt: %w", err)
	}
	return salt, nil
}
