// Package strict decodes the JSON documents of the evidence format and of
// the node's API the one way the format allows: one JSON value, no data
// after it, no member the target type does not declare. Every reader of
// the format (the verifier, the chaincode's state, the HTTP API) decodes
// through it, so the rule lives in one place.
package strict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrTrailing means data follows the JSON value.
var ErrTrailing = errors.New("data after the JSON value")

// ErrEmpty means the input holds no JSON value at all.
var ErrEmpty = errors.New("no JSON value")

// SyntaxError is malformed JSON at a byte offset.
type SyntaxError struct {
	Offset int64
	Err    error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at byte %d: %v", e.Offset, e.Err)
}
func (e *SyntaxError) Unwrap() error { return e.Err }

// TypeError is a member of the wrong JSON type.
type TypeError struct {
	Field string // dotted path, e.g. "items.digest"
	Want  string // the Go type wanted
	Err   error
}

func (e *TypeError) Error() string { return fmt.Sprintf("field %q must be %s", e.Field, e.Want) }
func (e *TypeError) Unwrap() error { return e.Err }

// Decode decodes one JSON value from b into v, refusing unknown members
// and trailing data.
func Decode(b []byte, v any) error { return decode(b, v, true) }

// DecodeOpen is Decode that ignores unknown members, for documents whose
// format version allows additions.
func DecodeOpen(b []byte, v any) error { return decode(b, v, false) }

func decode(b []byte, v any, closed bool) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return ErrEmpty
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if closed {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return &SyntaxError{Offset: se.Offset, Err: err}
		case errors.As(err, &te):
			return &TypeError{Field: te.Field, Want: te.Type.String(), Err: err}
		}
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrTrailing
	}
	return nil
}
