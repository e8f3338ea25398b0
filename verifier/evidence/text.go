package evidence

import (
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// ErrText is wrapped by every refusal of ValidateText: a string people
// will read (on a certificate, the portal, a receipt) holds something that
// is not visible text.
var ErrText = errors.New("not plain visible text")

// TextError names the first character ValidateText refuses.
type TextError struct {
	Offset int  // byte offset in the string
	Rune   rune // the character (utf8.RuneError for an invalid byte)
	Err    error
}

func (e *TextError) Error() string {
	if e.Rune == utf8.RuneError {
		return fmt.Sprintf("invalid UTF-8 at byte %d", e.Offset)
	}
	return fmt.Sprintf("character U+%04X at byte %d is a control or format character (Unicode Cc, Cf, Zl or Zp)", e.Rune, e.Offset)
}
func (e *TextError) Unwrap() error { return e.Err }

// Refused is the set of characters ValidateText refuses: the Unicode 15.0.0
// general categories Cc (controls: C0, DEL, C1), Cf (format characters:
// soft hyphen, bidirectional embeddings, overrides and isolates such as
// U+202E, zero-width characters such as U+200B, the byte order mark
// U+FEFF, interlinear annotations, tag characters), Zl (U+2028) and Zp
// (U+2029). It is written out, not taken from the unicode package, so that
// it does not change when Go's Unicode tables do; docs/formats.md lists
// the same ranges.
var Refused = &unicode.RangeTable{
	R16: []unicode.Range16{
		{Lo: 0x0000, Hi: 0x001f, Stride: 1},
		{Lo: 0x007f, Hi: 0x009f, Stride: 1},
		{Lo: 0x00ad, Hi: 0x00ad, Stride: 1},
		{Lo: 0x0600, Hi: 0x0605, Stride: 1},
		{Lo: 0x061c, Hi: 0x061c, Stride: 1},
		{Lo: 0x06dd, Hi: 0x06dd, Stride: 1},
		{Lo: 0x070f, Hi: 0x070f, Stride: 1},
		{Lo: 0x0890, Hi: 0x0891, Stride: 1},
		{Lo: 0x08e2, Hi: 0x08e2, Stride: 1},
		{Lo: 0x180e, Hi: 0x180e, Stride: 1},
		{Lo: 0x200b, Hi: 0x200f, Stride: 1},
		{Lo: 0x2028, Hi: 0x202e, Stride: 1},
		{Lo: 0x2060, Hi: 0x2064, Stride: 1},
		{Lo: 0x2066, Hi: 0x206f, Stride: 1},
		{Lo: 0xfeff, Hi: 0xfeff, Stride: 1},
		{Lo: 0xfff9, Hi: 0xfffb, Stride: 1},
	},
	R32: []unicode.Range32{
		{Lo: 0x110bd, Hi: 0x110bd, Stride: 1},
		{Lo: 0x110cd, Hi: 0x110cd, Stride: 1},
		{Lo: 0x13430, Hi: 0x1343f, Stride: 1},
		{Lo: 0x1bca0, Hi: 0x1bca3, Stride: 1},
		{Lo: 0x1d173, Hi: 0x1d17a, Stride: 1},
		{Lo: 0xe0001, Hi: 0xe0001, Stride: 1},
		{Lo: 0xe0020, Hi: 0xe007f, Stride: 1},
	},
	LatinOffset: 3,
}

// ValidateText checks a string that people will read: valid UTF-8 and no
// character of Refused. It is the one rule for every platform-visible
// string the node accepts (doc_ref, ledger names); errors are *TextError
// wrapping ErrText.
func ValidateText(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return &TextError{Offset: i, Rune: r, Err: ErrText}
			}
		}
		if unicode.Is(Refused, r) {
			return &TextError{Offset: i, Rune: r, Err: ErrText}
		}
	}
	return nil
}
