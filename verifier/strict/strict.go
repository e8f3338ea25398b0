// Package strict reads the documents of the evidence format and of the
// node's API the one way the format allows, so that two implementations
// written from docs/ agree on every input. Every reader of the format (the
// verifier, the chaincode's state, the HTTP API) decodes through Decode,
// so the rule lives in one place:
//
//   - one JSON value (RFC 8259), valid UTF-8 throughout (no invalid bytes,
//     no unpaired surrogate escapes), only whitespace after it;
//   - member names matched exactly, byte for byte (no case folding); a
//     name the target type does not declare is refused, at every level; a
//     name given twice in one object is refused;
//   - null only where the target is an array or an optional (pointer)
//     member, where it reads as absent; never for a string, a byte string,
//     a number, a boolean or a required object;
//   - numbers into integers only as plain integers (no fraction, no
//     exponent, no "-0" into an unsigned field);
//   - byte strings as canonical standard base64 (RFC 4648 §4: the "+/"
//     alphabet, padded, zero padding bits, no line breaks or spaces).
//
// Besides JSON it holds the one reader of the other encodings inside the
// documents: lower-case hex (Hex) and PEM blocks without surrounding text
// (PEM).
//
// JSON decoding is github.com/go-json-experiment/json (the proposed
// encoding/json/v2), which matches names exactly and refuses duplicate
// names and invalid UTF-8 by default.
package strict

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The reasons Decode refuses a document. Each is wrapped in a
// *SyntaxError (with the byte offset) or a *FieldError (with the member's
// path); test with errors.Is.
var (
	// ErrEmpty means the input holds no JSON value at all.
	ErrEmpty = errors.New("no JSON value")
	// ErrTrailing means data follows the JSON value.
	ErrTrailing = errors.New("data after the JSON value")
	// ErrInvalidUTF8 means the input is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrDuplicateName means an object has the same member name twice.
	ErrDuplicateName = errors.New("member name given twice")
	// ErrUnknownName means a member name the format does not define
	// (names are matched exactly: "Block_Hash" is not "block_hash").
	ErrUnknownName = errors.New("unknown member (names are case-sensitive)")
	// ErrNull means null where a value is required.
	ErrNull = errors.New("null is not allowed here")
	// ErrBase64 means a byte string that is not canonical standard base64.
	ErrBase64 = errors.New("not canonical base64 (standard alphabet, padded, zero padding bits, no whitespace)")
	// ErrHex means text that is not lower-case hex.
	ErrHex = errors.New("not lower-case hex")
	// ErrPEM means text that is not exactly one PEM block of the wanted type.
	ErrPEM = errors.New("not exactly one PEM block without surrounding text")
)

// SyntaxError is malformed JSON at a byte offset.
type SyntaxError struct {
	Offset int64
	Err    error
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at byte %d: %v", e.Offset, e.Err)
}
func (e *SyntaxError) Unwrap() error { return e.Err }

// FieldError is a problem with one member, named by its dotted path
// ("proof.header.data_hash", "files.2.kind"; "" for the whole document).
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("field %q: %v", e.Field, e.Err)
}
func (e *FieldError) Unwrap() error { return e.Err }

// TypeError is a member of the wrong JSON type (or a number out of range
// or not an integer where one is wanted).
type TypeError struct {
	Field string // dotted path, e.g. "items.0.digest"
	Want  string // the Go type wanted
	Err   error
}

func (e *TypeError) Error() string { return fmt.Sprintf("field %q must be %s", e.Field, e.Want) }
func (e *TypeError) Unwrap() error { return e.Err }

// Decode decodes one JSON value from b into v by the rules of the package
// comment. Errors are *SyntaxError, *FieldError or *TypeError.
//
// Types with their own UnmarshalJSON are handed the member's bytes and
// must decode them with Decode too, to stay strict.
func Decode(b []byte, v any) error {
	if len(bytes.TrimLeft(b, " \t\r\n")) == 0 {
		return &SyntaxError{Offset: int64(len(b)), Err: ErrEmpty}
	}
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, n := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return &SyntaxError{Offset: int64(off), Err: ErrInvalidUTF8}
	}
	// The common case, a document that reads, goes through the library's
	// pooled decoder (which refuses trailing data too); only a refused one
	// is read again, token by token, to say exactly why.
	// A document without "null" anywhere holds no null token (JSON has
	// no escapes outside strings), so the null check, which the library
	// calls for every value, has nothing to refuse and is left out: half
	// the cost of a small document such as a record.
	with := unmarshalers
	if !bytes.Contains(b, []byte("null")) {
		with = withoutNull
	}
	if err := json.Unmarshal(b, v, json.RejectUnknownMembers(true), json.WithUnmarshalers(with)); err == nil {
		return nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	err := json.UnmarshalDecode(dec, v, json.RejectUnknownMembers(true), json.WithUnmarshalers(unmarshalers))
	if err != nil {
		return classify(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return &SyntaxError{Offset: dec.InputOffset(), Err: ErrTrailing}
	}
	return nil
}

// unmarshalers refuse null for scalars and required objects, and read
// byte strings as canonical base64. They see every value first and pass
// it on (SkipFunc) to the default decoding when they have nothing to say.
var unmarshalers = json.JoinUnmarshalers(
	withoutNull,
	json.UnmarshalFromFunc(func(dec *jsontext.Decoder, v any) error {
		if dec.PeekKind() != 'n' {
			return json.SkipFunc
		}
		switch reflect.TypeOf(v).Elem().Kind() {
		case reflect.Slice, reflect.Pointer, reflect.Map, reflect.Interface:
			return json.SkipFunc
		}
		return ErrNull
	}),
)

// withoutNull is all a document without null needs: byte strings read as
// canonical base64 (this refuses null for a byte string too).
var withoutNull = json.JoinUnmarshalers(
	json.UnmarshalFromFunc(func(dec *jsontext.Decoder, p *[]byte) error {
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		switch tok.Kind() {
		case 'n':
			return ErrNull
		case '"':
			s := tok.String()
			out, err := Base64(s)
			if err != nil {
				return err
			}
			*p = out
			return nil
		}
		return fmt.Errorf("want a base64 string, got %v", tok.Kind())
	}),
)

// classify turns the JSON library's errors into this package's.
func classify(err error) error {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.As(err, &syn):
		if errors.Is(syn.Err, jsontext.ErrDuplicateName) {
			return &FieldError{Field: dotted(syn.JSONPointer), Err: ErrDuplicateName}
		}
		if errors.Is(syn.Err, io.ErrUnexpectedEOF) {
			return &SyntaxError{Offset: syn.ByteOffset, Err: io.ErrUnexpectedEOF}
		}
		return &SyntaxError{Offset: syn.ByteOffset, Err: syn.Err}
	case errors.As(err, &sem):
		field := dotted(sem.JSONPointer)
		var inner *FieldError
		var innerType *TypeError
		switch {
		case errors.Is(sem.Err, json.ErrUnknownName):
			return &FieldError{Field: field, Err: ErrUnknownName}
		case errors.As(sem.Err, &inner):
			return &FieldError{Field: join(field, inner.Field), Err: inner.Err}
		case errors.As(sem.Err, &innerType):
			return &TypeError{Field: join(field, innerType.Field), Want: innerType.Want, Err: innerType.Err}
		case errors.Is(sem.Err, ErrNull), errors.Is(sem.Err, ErrBase64), errors.Is(sem.Err, ErrHex), errors.Is(sem.Err, ErrPEM):
			return &FieldError{Field: field, Err: sem.Err}
		}
		want := "of another type"
		if sem.GoType != nil {
			want = "a JSON " + jsonKind(sem.GoType)
		}
		return &TypeError{Field: field, Want: want, Err: err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &SyntaxError{Err: io.ErrUnexpectedEOF}
	}
	return err
}

func join(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "." + b
}

// dotted writes a JSON pointer ("/proof/audit_path/0") as "proof.audit_path.0".
func dotted(p jsontext.Pointer) string {
	var parts []string
	for tok := range p.Tokens() {
		parts = append(parts, tok)
	}
	return strings.Join(parts, ".")
}

// jsonKind names the JSON type a Go type is read from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "base64 string"
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "value"
}

// Base64 decodes canonical standard base64: the RFC 4648 §4 alphabet,
// padded to a multiple of four, padding bits zero, nothing else (no line
// breaks, no spaces). Exactly one string encodes each byte string.
func Base64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, ErrBase64
	}
	return b, nil
}

// Hex decodes lower-case hex ("" is the empty byte string). Upper-case
// digits are refused: every byte string has one hex form.
func Hex(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return nil, fmt.Errorf("%w: %q at offset %d", ErrHex, c, i)
		}
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: odd length %d", ErrHex, len(s))
	}
	return b, nil
}

// PEM decodes s as exactly one PEM block of type typ (RFC 7468) with no
// text before "-----BEGIN" and none after the "-----END …-----" line and
// its line break, and no headers. With canonical, s must also be exactly
// what encoding/pem writes for that block (base64 lines of 64 characters,
// LF line ends).
func PEM(s, typ string, canonical bool) ([]byte, error) {
	if !strings.HasPrefix(s, "-----BEGIN ") {
		return nil, fmt.Errorf("%w: text before the PEM block", ErrPEM)
	}
	b, rest := pem.Decode([]byte(s))
	switch {
	case b == nil:
		return nil, fmt.Errorf("%w: no PEM block", ErrPEM)
	case b.Type != typ:
		return nil, fmt.Errorf("%w: a %q block, want %q", ErrPEM, b.Type, typ)
	case len(rest) != 0:
		return nil, fmt.Errorf("%w: text after the PEM block", ErrPEM)
	case len(b.Headers) != 0:
		return nil, fmt.Errorf("%w: PEM headers", ErrPEM)
	case canonical && string(pem.EncodeToMemory(b)) != s:
		return nil, fmt.Errorf("%w: not in canonical form (64-character lines, LF)", ErrPEM)
	}
	return b.Bytes, nil
}
