package pdfsig

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// sigDict is what Verify takes from the signature dictionary.
type sigDict struct {
	byteRange                           [4]int64
	subFilter, filter                   string
	time                                time.Time
	name, reason, location, contactInfo string
}

// Parser bounds.
const (
	maxTokens  = 4096 // tokens in the signature dictionary
	maxDepth   = 8    // nesting of dictionaries and arrays in it
	maxName    = 127  // bytes of a name (ISO 32000-1 Annex C)
	maxObjTry  = 4    // object headers tried before the /ByteRange
	maxKeyTry  = 16   // "/ByteRange" occurrences tried from the end
	maxNumbers = 15   // digits of an integer
)

// findSignature finds the signature dictionary holding the last
// /ByteRange of doc and checks that its ByteRange covers doc but for
// exactly its /Contents string.
func findSignature(doc []byte) (sigDict, error) {
	lo := max(0, len(doc)-(MaxTail+MaxContents+MaxDict))
	key := []byte("/ByteRange")
	end := len(doc)
	for range maxKeyTry {
		k := bytes.LastIndex(doc[lo:end], key)
		if k < 0 {
			break
		}
		k += lo
		end = k
		if n := k + len(key); n < len(doc) && !isDelim(doc[n]) && !isSpace(doc[n]) {
			continue // a longer name, such as /ByteRangeX
		}
		return dictAround(doc, k)
	}
	return sigDict{}, ErrNotSigned
}

// dictAround parses the indirect object whose dictionary has the
// /ByteRange key at offset k. ISO 32000 makes a signature dictionary an
// indirect object (the field's /V is a reference to it).
func dictAround(doc []byte, k int) (sigDict, error) {
	lo := max(0, k-(MaxContents+MaxDict))
	end := k
	for range maxObjTry {
		j := bytes.LastIndex(doc[lo:end], []byte("obj"))
		if j < 0 {
			break
		}
		j += lo
		end = j
		if !objHeader(doc, j) {
			continue
		}
		p := &parser{b: doc, i: j + 3, limit: min(len(doc), j+3+MaxContents+2*MaxDict)}
		p.space()
		if !p.has("<<") {
			continue
		}
		entries, err := p.topDict()
		if err != nil {
			return sigDict{}, err
		}
		br, ok := entries["ByteRange"]
		if !ok || br.keyAt != k {
			continue // the /ByteRange is in another object
		}
		return checkDict(doc, entries)
	}
	return sigDict{}, fmt.Errorf("%w: no indirect object holds the last /ByteRange", ErrMalformed)
}

// objHeader reports whether "obj" at j ends an object header "N G obj".
func objHeader(doc []byte, j int) bool {
	if j+3 < len(doc) && !isSpace(doc[j+3]) && !isDelim(doc[j+3]) {
		return false
	}
	i := j
	for n := 0; n < 2; n++ { // generation, then object number
		s := i
		for i > 0 && isSpace(doc[i-1]) {
			i--
		}
		if i == s {
			return false
		}
		d := i
		for i > 0 && doc[i-1] >= '0' && doc[i-1] <= '9' {
			i--
		}
		if i == d || d-i > 10 {
			return false
		}
	}
	return i == 0 || isSpace(doc[i-1]) || isDelim(doc[i-1])
}

// checkDict checks the entries of a signature dictionary and the
// ByteRange against doc.
func checkDict(doc []byte, e map[string]value) (sigDict, error) {
	var sd sigDict
	br := e["ByteRange"]
	if br.kind != kArray || len(br.arr) != 4 {
		return sd, fmt.Errorf("%w: /ByteRange is not an array of four integers", ErrMalformed)
	}
	for i, v := range br.arr {
		if v.kind != kInt || v.signed || v.num < 0 {
			return sd, fmt.Errorf("%w: /ByteRange is not an array of four non-negative integers", ErrMalformed)
		}
		sd.byteRange[i] = v.num
	}
	n := int64(len(doc))
	r := sd.byteRange
	switch {
	case r[0] != 0:
		return sd, fmt.Errorf("%w: the signed range starts at byte %d, not 0", ErrNotWholeFile, r[0])
	case r[1] < 1 || r[2] <= r[1] || r[2] > n:
		return sd, fmt.Errorf("%w: /ByteRange [%d %d %d %d] does not fit the file's %d bytes", ErrMalformed, r[0], r[1], r[2], r[3], n)
	case r[2]+r[3] != n:
		return sd, fmt.Errorf("%w: the signed ranges end at byte %d but the file has %d bytes (bytes added or removed after signing)", ErrNotWholeFile, r[2]+r[3], n)
	}
	c, ok := e["Contents"]
	if !ok || c.kind != kHex {
		return sd, fmt.Errorf("%w: no /Contents hex string", ErrMalformed)
	}
	if int64(c.start) != r[1] || int64(c.end) != r[2] {
		return sd, fmt.Errorf("%w: the unsigned gap [%d, %d) is not the /Contents string [%d, %d)", ErrNotWholeFile, r[1], r[2], c.start, c.end)
	}
	if t, ok := e["Type"]; ok && (t.kind != kName || t.str != "Sig") {
		return sd, fmt.Errorf("%w: /Type is not /Sig", ErrUnsupported)
	}
	names := map[string]*string{"SubFilter": &sd.subFilter, "Filter": &sd.filter}
	for k, dst := range names {
		if v, ok := e[k]; ok {
			if v.kind != kName {
				return sd, fmt.Errorf("%w: /%s is not a name", ErrMalformed, k)
			}
			*dst = v.str
		}
	}
	texts := map[string]*string{"Name": &sd.name, "Reason": &sd.reason, "Location": &sd.location, "ContactInfo": &sd.contactInfo}
	for k, dst := range texts {
		if v, ok := e[k]; ok {
			if v.kind != kString && v.kind != kHex {
				return sd, fmt.Errorf("%w: /%s is not a string", ErrMalformed, k)
			}
			*dst = textString([]byte(v.str))
		}
	}
	if v, ok := e["M"]; ok && (v.kind == kString || v.kind == kHex) {
		sd.time, _ = pdfDate(v.str) // a claim; an unreadable one is left out
	}
	return sd, nil
}

// value kinds.
const (
	kNone = iota
	kName
	kInt
	kReal
	kString
	kHex
	kArray
	kDict
	kBool
	kNull
	kRef
)

// value is a parsed PDF object. Only the signature dictionary's own
// entries keep their contents (and of arrays, only integers); nested
// objects are checked for syntax and dropped.
type value struct {
	kind       int
	start, end int    // the object's bytes in the document
	keyAt      int    // offset of the key naming it in its dictionary
	num        int64  // kInt
	signed     bool   // kInt written with a sign
	str        string // kName (decoded), kString and kHex (decoded; not for /Contents)
	arr        []value
}

// parser reads PDF objects from b[i:limit].
type parser struct {
	b      []byte
	i      int
	limit  int
	tokens int
}

func isSpace(c byte) bool {
	return c == 0 || c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' '
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: signature dictionary at byte %d: %s", ErrMalformed, p.i, fmt.Sprintf(format, args...))
}

// space skips white space and comments.
func (p *parser) space() {
	for p.i < p.limit {
		c := p.b[p.i]
		if isSpace(c) {
			p.i++
			continue
		}
		if c == '%' {
			for p.i < p.limit && p.b[p.i] != '\n' && p.b[p.i] != '\r' {
				p.i++
			}
			continue
		}
		return
	}
}

func (p *parser) has(s string) bool {
	return p.i+len(s) <= p.limit && string(p.b[p.i:p.i+len(s)]) == s
}

// topDict parses the dictionary at p.i ("<<" next), keeping its entries.
func (p *parser) topDict() (map[string]value, error) {
	entries := map[string]value{}
	_, err := p.dict(0, entries)
	return entries, err
}

// dict parses a dictionary; entries, if not nil, receives its entries.
func (p *parser) dict(depth int, entries map[string]value) (value, error) {
	v := value{kind: kDict, start: p.i}
	p.i += 2 // <<
	for {
		p.space()
		if p.i >= p.limit {
			return v, p.errorf("unterminated dictionary")
		}
		if p.has(">>") {
			p.i += 2
			v.end = p.i
			return v, nil
		}
		keyAt := p.i
		if p.b[p.i] != '/' {
			return v, p.errorf("dictionary key is not a name")
		}
		k, err := p.name()
		if err != nil {
			return v, err
		}
		p.space()
		val, err := p.value(depth+1, entries != nil)
		if err != nil {
			return v, err
		}
		if entries != nil {
			if _, dup := entries[k.str]; dup {
				return v, p.errorf("duplicate key /%s", k.str)
			}
			val.keyAt = keyAt
			entries[k.str] = val
		}
	}
}

// value parses one object; keep keeps an array's integers and a string's
// bytes.
func (p *parser) value(depth int, keep bool) (value, error) {
	p.tokens++
	if p.tokens > maxTokens {
		return value{}, p.errorf("more than %d tokens", maxTokens)
	}
	if depth > maxDepth {
		return value{}, p.errorf("nested deeper than %d", maxDepth)
	}
	if p.i >= p.limit {
		return value{}, p.errorf("truncated")
	}
	switch c := p.b[p.i]; {
	case c == '/':
		return p.name()
	case c == '(':
		return p.literal(keep)
	case p.has("<<"):
		return p.dict(depth, nil)
	case c == '<':
		return p.hex(keep)
	case c == '[':
		return p.array(depth, keep)
	case c == '+' || c == '-' || c == '.' || c >= '0' && c <= '9':
		return p.number()
	case c >= 'a' && c <= 'z':
		return p.keyword()
	}
	return value{}, p.errorf("unexpected byte %q", p.b[p.i])
}

func (p *parser) name() (value, error) {
	v := value{kind: kName, start: p.i}
	p.i++ // /
	var name []byte
	for p.i < p.limit && !isSpace(p.b[p.i]) && !isDelim(p.b[p.i]) {
		c := p.b[p.i]
		if c == '#' {
			if p.i+2 >= p.limit {
				return v, p.errorf("bad #xx in a name")
			}
			h, ok1 := unhex(p.b[p.i+1])
			l, ok2 := unhex(p.b[p.i+2])
			if !ok1 || !ok2 {
				return v, p.errorf("bad #xx in a name")
			}
			c = h<<4 | l
			p.i += 2
		}
		name = append(name, c)
		p.i++
		if len(name) > maxName {
			return v, p.errorf("name longer than %d bytes", maxName)
		}
	}
	v.end, v.str = p.i, string(name)
	return v, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// literal parses a (string), decoding its escapes when keep.
func (p *parser) literal(keep bool) (value, error) {
	v := value{kind: kString, start: p.i}
	p.i++
	depth := 1
	var s []byte
	for p.i < p.limit {
		c := p.b[p.i]
		p.i++
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				v.end = p.i
				v.str = string(s)
				return v, nil
			}
		case '\\':
			if p.i >= p.limit {
				return v, p.errorf("unterminated string")
			}
			c = p.b[p.i]
			p.i++
			switch c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r': // line continuation
				if p.i < p.limit && p.b[p.i] == '\n' {
					p.i++
				}
				continue
			case '\n':
				continue
			default:
				if c >= '0' && c <= '7' {
					o := int(c - '0')
					for n := 0; n < 2 && p.i < p.limit && p.b[p.i] >= '0' && p.b[p.i] <= '7'; n++ {
						o = o*8 + int(p.b[p.i]-'0')
						p.i++
					}
					c = byte(o)
				}
			}
		}
		if keep {
			if len(s) >= MaxDict {
				return v, p.errorf("string longer than %d bytes", MaxDict)
			}
			s = append(s, c)
		}
	}
	return v, p.errorf("unterminated string")
}

// hex parses a <hex string>, decoding it when keep unless it is longer
// than MaxDict digits (the /Contents, which Verify reads strictly).
func (p *parser) hex(keep bool) (value, error) {
	v := value{kind: kHex, start: p.i}
	p.i++
	start := p.i
	for p.i < p.limit && p.b[p.i] != '>' {
		if _, ok := unhex(p.b[p.i]); !ok && !isSpace(p.b[p.i]) {
			return v, p.errorf("bad byte %q in a hex string", p.b[p.i])
		}
		p.i++
	}
	if p.i >= p.limit {
		return v, p.errorf("unterminated hex string")
	}
	if p.i-start > MaxContents {
		return v, p.errorf("hex string longer than %d digits", MaxContents)
	}
	digits := p.b[start:p.i]
	p.i++
	v.end = p.i
	if keep && len(digits) <= MaxDict {
		var s []byte
		var hi byte
		odd := false
		for _, c := range digits {
			n, ok := unhex(c)
			if !ok {
				continue
			}
			if odd {
				s = append(s, hi<<4|n)
			} else {
				hi = n
			}
			odd = !odd
		}
		if odd {
			s = append(s, hi<<4)
		}
		v.str = string(s)
	}
	return v, nil
}

func (p *parser) array(depth int, keep bool) (value, error) {
	v := value{kind: kArray, start: p.i}
	p.i++
	for {
		p.space()
		if p.i >= p.limit {
			return v, p.errorf("unterminated array")
		}
		if p.b[p.i] == ']' {
			p.i++
			v.end = p.i
			return v, nil
		}
		e, err := p.value(depth+1, false)
		if err != nil {
			return v, err
		}
		if keep && e.kind == kInt && len(v.arr) <= 4 {
			v.arr = append(v.arr, e)
		} else {
			keep = false
			v.arr = nil
		}
	}
}

// number parses an integer or a real, and "N G R" references.
func (p *parser) number() (value, error) {
	v := value{start: p.i}
	s := p.i
	if p.b[p.i] == '+' || p.b[p.i] == '-' {
		p.i++
	}
	digits, dot := 0, false
	for p.i < p.limit {
		c := p.b[p.i]
		if c >= '0' && c <= '9' {
			digits++
		} else if c == '.' && !dot {
			dot = true
		} else {
			break
		}
		p.i++
	}
	if digits == 0 || digits > maxNumbers && !dot {
		return v, p.errorf("bad number")
	}
	v.end = p.i
	if dot {
		v.kind = kReal
		return v, nil
	}
	n, err := strconv.ParseInt(string(p.b[s:p.i]), 10, 64)
	if err != nil {
		return v, p.errorf("bad integer")
	}
	v.kind, v.num = kInt, n
	if p.b[s] == '+' || p.b[s] == '-' {
		v.signed = true // never a ByteRange entry or a reference
		return v, nil
	}
	// A reference: "N G R".
	save := p.i
	p.space()
	g := p.i
	for p.i < p.limit && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i > g && p.i-g <= 5 {
		p.space()
		if p.has("R") && (p.i+1 >= p.limit || isSpace(p.b[p.i+1]) || isDelim(p.b[p.i+1])) {
			p.i++
			v.kind, v.end = kRef, p.i
			return v, nil
		}
	}
	p.i = save
	return v, nil
}

func (p *parser) keyword() (value, error) {
	v := value{start: p.i}
	s := p.i
	for p.i < p.limit && p.b[p.i] >= 'a' && p.b[p.i] <= 'z' {
		p.i++
	}
	switch string(p.b[s:p.i]) {
	case "true", "false":
		v.kind = kBool
	case "null":
		v.kind = kNull
	default:
		return v, p.errorf("unknown keyword %q", p.b[s:p.i])
	}
	v.end = p.i
	return v, nil
}

// textString decodes a PDF text string: UTF-16BE or UTF-8 with a byte
// order mark, else PDFDocEncoding (read as Latin-1, which it matches but
// for a few rarely used code points).
func textString(b []byte) string {
	switch {
	case len(b) >= 2 && b[0] == 0xfe && b[1] == 0xff:
		u := make([]uint16, 0, (len(b)-2)/2)
		for i := 2; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return string(utf16.Decode(u))
	case len(b) >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf:
		return string(bytes.ToValidUTF8(b[3:], []byte("\uFFFD")))
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// pdfDate parses a PDF date, D:YYYYMMDDHHmmSSOHH'mm' (everything after
// the year optional).
func pdfDate(s string) (time.Time, error) {
	bad := fmt.Errorf("bad PDF date %q", s)
	s = strings.TrimPrefix(s, "D:")
	f := [6]int{0, 1, 1, 0, 0, 0} // year, month, day, hour, minute, second
	for i, w := range [6]int{4, 2, 2, 2, 2, 2} {
		if len(s) == 0 || !isDigit(s[0]) {
			if i == 0 {
				return time.Time{}, bad
			}
			break
		}
		v, ok := digits(s, w)
		if !ok {
			return time.Time{}, bad
		}
		f[i], s = v, s[w:]
	}
	loc := time.UTC
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		sign := 1
		if s[0] == '-' {
			sign = -1
		}
		hh, ok := digits(s[1:], 2)
		if !ok {
			return time.Time{}, bad
		}
		s = strings.TrimPrefix(s[3:], "'")
		mm := 0
		if len(s) > 0 {
			if mm, ok = digits(s, 2); !ok {
				return time.Time{}, bad
			}
			s = strings.TrimPrefix(s[2:], "'")
		}
		loc = time.FixedZone("", sign*(hh*3600+mm*60))
	} else {
		s = strings.TrimPrefix(s, "Z")
	}
	if s != "" {
		return time.Time{}, bad
	}
	return time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], 0, loc), nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digits reads n decimal digits from the start of s.
func digits(s string, n int) (int, bool) {
	if len(s) < n {
		return 0, false
	}
	v := 0
	for i := range n {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}
