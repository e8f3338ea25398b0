package pdfsig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/verifier/block"
)

// The vector is made by node/pdf's Sign:
// go test ./node/pdf -run TestPdfsigVectors -update-pdfsig
func vector(t testing.TB) ([]byte, map[string]any) {
	t.Helper()
	doc, err := os.ReadFile("testdata/signed.pdf")
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile("testdata/signed.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatal(err)
	}
	return doc, want
}

// unsigned is a one-page PDF without a signature.
const unsigned = "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n" +
	"xref\n0 3\n0000000000 65535 f \n0000000009 00000 n \n0000000058 00000 n \ntrailer\n<< /Size 3 /Root 1 0 R >>\nstartxref\n109\n%%EOF\n"

func TestVerifyVector(t *testing.T) {
	doc, want := vector(t)
	res, err := Verify(doc)
	if err != nil {
		t.Fatal(err)
	}
	wantTime, _ := time.Parse(time.RFC3339, want["time"].(string))
	for _, c := range []struct{ name, got, want string }{
		{"key_id", res.KeyID, want["key_id"].(string)},
		{"name", res.Name, want["name"].(string)},
		{"reason", res.Reason, want["reason"].(string)},
		{"location", res.Location, want["location"].(string)},
		{"contact_info", res.ContactInfo, want["contact_info"].(string)},
		{"digest", hex.EncodeToString(res.Digest[:]), want["digest"].(string)},
		{"byte_range", fmt.Sprint(res.ByteRange), fmt.Sprint(want["byte_range"])},
		{"sub_filter", res.SubFilter, SubFilter},
		{"filter", res.Filter, "Adobe.PPKLite"},
		{"time", res.Time.UTC().Format(time.RFC3339), wantTime.Format(time.RFC3339)},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	id, err := block.KeyID(res.Certificate.PublicKey)
	if err != nil || id != res.KeyID {
		t.Errorf("block.KeyID = %s, %v; Result.KeyID %s", id, err, res.KeyID)
	}
	if len(res.Chain) != 0 {
		t.Errorf("chain of %d", len(res.Chain))
	}
}

// replace returns doc with old (which must occur once) replaced by new of
// the same length.
func replace(t *testing.T, doc []byte, old, new string) []byte {
	t.Helper()
	if len(old) != len(new) || bytes.Count(doc, []byte(old)) != 1 {
		t.Fatalf("replace %q: occurs %d times / lengths differ", old, bytes.Count(doc, []byte(old)))
	}
	return bytes.Replace(doc, []byte(old), []byte(new), 1)
}

func TestVerifyErrors(t *testing.T) {
	doc, want := vector(t)
	br := want["byte_range"].([]any)
	a, b := int(br[1].(float64)), int(br[2].(float64))
	brText := fmt.Sprintf("/ByteRange [0 %d %d %d]", a, b, int(br[3].(float64)))
	res, err := Verify(doc)
	if err != nil {
		t.Fatal(err)
	}
	der := len(strings.TrimRight(string(doc[a+1:b-1]), "0")) // about the DER's hex length
	at := func(i int, c byte) []byte {
		d := bytes.Clone(doc)
		d[i] = c
		return d
	}
	lastDigit := func(i int) byte { // another digit of the same kind
		c := doc[i]
		switch {
		case c == '9':
			return '8'
		case c >= '0' && c <= '8':
			return c + 1
		case c == 'f':
			return 'e'
		}
		return c + 1
	}
	firstLetter := bytes.IndexAny(doc[a+1:b-1], "abcdef") + a + 1
	for _, c := range []struct {
		desc    string
		doc     []byte
		wantErr error
	}{
		{"empty", nil, ErrNotSigned},
		{"not a PDF", []byte("hello"), ErrNotSigned},
		{"an unsigned PDF", []byte(unsigned), ErrNotSigned},
		{"a byte appended", append(bytes.Clone(doc), '\n'), ErrNotWholeFile},
		{"an incremental update appended", append(bytes.Clone(doc), "1 0 obj\n<< /Type /Catalog >>\nendobj\nxref\n1 1\n0000003806 00000 n \ntrailer\n<< /Size 3 /Prev 1 >>\nstartxref\n3840\n%%EOF\n"...), ErrNotWholeFile},
		{"the last byte cut", doc[:len(doc)-1], ErrNotWholeFile},
		{"the range not from byte 0", replace(t, doc, brText, strings.Replace(brText, "[0 ", "[1 ", 1)), ErrNotWholeFile},
		{"the gap not the /Contents", replace(t, doc, brText, strings.Replace(brText, fmt.Sprint(a), fmt.Sprint(a-1), 1)), ErrNotWholeFile},
		{"the ByteRange past the end", replace(t, doc, brText, strings.Replace(brText, fmt.Sprint(b), "9"+fmt.Sprint(b)[1:], 1)), ErrMalformed},
		{"the /ByteRange renamed", replace(t, doc, "/ByteRange [", "/ByteRangX ["), ErrNotSigned},
		{"the /Contents renamed", replace(t, doc, "/Contents <", "/Content_ <"), ErrMalformed},
		{"a hex letter in upper case", at(firstLetter, doc[firstLetter]-'a'+'A'), ErrMalformed},
		{"a space in /Contents", at(b-3, ' '), ErrMalformed},
		{"a non-zero padding byte", at(b-2, '1'), ErrMalformed},
		{"the CMS's first byte changed", at(a+1, '2'), ErrMalformed},
		{"the signature's last digit changed", at(a+der, lastDigit(a+der)), ErrBadSignature},
		{"another SubFilter", replace(t, doc, "/ETSI.CAdES.detached", "/adbe.pkcs7.detached"), ErrUnsupported},
		{"a covered byte changed", replace(t, doc, "(signed for", "(Signed for"), ErrDigestMismatch},
		{"the /Type changed", replace(t, doc, "/Type /Sig", "/Type /Sog"), ErrUnsupported},
	} {
		_, err := Verify(c.doc)
		if !errors.Is(err, c.wantErr) {
			t.Errorf("%s: %v, want %v", c.desc, err, c.wantErr)
		}
		t.Logf("%s: %v", c.desc, err)
	}

	// A digest mismatch names both digests.
	_, err = Verify(replace(t, doc, "(signed for", "(Signed for"))
	var dm *DigestMismatchError
	if !errors.As(err, &dm) || dm.Signed != res.Digest || dm.Computed == res.Digest {
		t.Errorf("digest mismatch: %v", err)
	}
}

// Hostile inputs take bounded time: Verify reads at most a few MiB from
// the end and a bounded number of tokens.
func TestVerifyHostile(t *testing.T) {
	big := func(unit string, n int, tail string) []byte {
		return append(bytes.Repeat([]byte(unit), n), tail...)
	}
	for _, c := range []struct {
		desc string
		doc  []byte
	}{
		{"many /ByteRange", big("/ByteRange ", 1<<20, "")},
		{"many obj", big("1 0 obj ", 1<<20, "/ByteRange [0 1 2 3]")},
		{"deep nesting", big("<<", 1<<20, "/ByteRange [0 1 2 3]>>")},
		{"deep arrays", append([]byte("1 0 obj\n<< /X "), big("[", 1<<20, "/ByteRange [0 1 2 3]")...)},
		{"a huge hex string", append([]byte("1 0 obj\n<< /ByteRange [0 14 99 0] /Contents <"), big("00", 4<<20, ">>>")...)},
		{"a huge literal string", append([]byte("1 0 obj\n<< /ByteRange [0 1 2 3] /Name ("), big("(", 4<<20, ")>>")...)},
		{"many tokens", append([]byte("1 0 obj\n<< /ByteRange [0 1 2 3] /A ["), big("1 ", 1<<20, "] >>")...)},
		{"a long name", append([]byte("1 0 obj\n<< /ByteRange [0 1 2 3] /"), big("N", 1<<20, " 1 >>")...)},
	} {
		start := time.Now()
		_, err := Verify(c.doc)
		if err == nil {
			t.Errorf("%s: verified", c.desc)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: %v", c.desc, d)
		}
	}
}

func TestParseDict(t *testing.T) {
	for _, c := range []struct {
		desc, dict string
		ok         bool
	}{
		{"references and nesting", "<< /Type /Sig /P 12 0 R /Prop_Build << /App << /Name /X#20Y >> >> /A [1 2.5 -3 (s) <00> true null] >>", true},
		{"comments", "<< /A 1 % comment >>\n /B 2 >>", true},
		{"escapes", `<< /A (a\(b\)c\\ \101 \
d) >>`, true},
		{"duplicate key", "<< /A 1 /A 2 >>", false},
		{"key not a name", "<< 1 2 >>", false},
		{"unterminated", "<< /A 1", false},
		{"unbalanced string", "<< /A (a >>", false},
		{"bad hex", "<< /A <0g> >>", false},
		{"unknown keyword", "<< /A foo >>", false},
		{"bad name escape", "<< /A#zz 1 >>", false},
	} {
		p := &parser{b: []byte(c.dict), limit: len(c.dict)}
		_, err := p.topDict()
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.desc, err)
		}
	}
	p := &parser{b: []byte(`<< /A (x\(y\)\101\n) /B <feff5b58> /C /N#41me >>`), limit: 46}
	p.limit = len(p.b)
	e, err := p.topDict()
	if err != nil {
		t.Fatal(err)
	}
	if got := e["A"].str; got != "x(y)A\n" {
		t.Errorf("literal %q", got)
	}
	if got := textString([]byte(e["B"].str)); got != "存" {
		t.Errorf("hex text %q", got)
	}
	if got := e["C"].str; got != "NAme" {
		t.Errorf("name %q", got)
	}
}

func TestPDFDate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // RFC 3339, "" for an error
	}{
		{"D:20261123095420+00'00'", "2026-11-23T09:54:20Z"},
		{"D:20261123095420Z", "2026-11-23T09:54:20Z"},
		{"D:20261123175420+08'00'", "2026-11-23T17:54:20+08:00"},
		{"D:20261123175420+08'00", "2026-11-23T17:54:20+08:00"},
		{"D:20261123015420-08'00'", "2026-11-23T01:54:20-08:00"},
		{"D:2026", "2026-01-01T00:00:00Z"},
		{"20261123", "2026-11-23T00:00:00Z"},
		{"D:202611230954", "2026-11-23T09:54:00Z"},
		{"D:", ""},
		{"D:2026x", ""},
		{"D:20261123095420+0", ""},
	} {
		got, err := pdfDate(c.in)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("%q: %v, want an error", c.in, got)
		case c.want != "" && (err != nil || got.Format(time.RFC3339) != c.want):
			t.Errorf("%q: %v, %v, want %s", c.in, got, err, c.want)
		}
	}
}

func TestTextString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"abc", "abc"},
		{"\xfe\xff\x5b\x58\x8b\xc1", "存证"},
		{"\xef\xbb\xbf存证", "存证"},
		{"caf\xe9", "café"},
	} {
		if got := textString([]byte(c.in)); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

func TestObjHeader(t *testing.T) {
	for _, c := range []struct {
		s  string
		ok bool
	}{
		{"12 0 obj\n", true},
		{"\n12 0 obj<<", true},
		{"endobj ", false},
		{"x12 0 obj ", false},
		{"12 obj ", false},
		{"12 0 objx", false},
	} {
		j := strings.Index(c.s, "obj")
		if got := objHeader([]byte(c.s), j); got != c.ok {
			t.Errorf("%q: %v", c.s, got)
		}
	}
}

func FuzzVerify(f *testing.F) {
	doc, err := os.ReadFile("testdata/signed.pdf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(doc)
	f.Add([]byte(unsigned))
	f.Add(doc[len(doc)-2600:])
	f.Add([]byte("1 0 obj\n<< /Type /Sig /ByteRange [0 45 47 3] /Contents <> >>\nx"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		res, err := Verify(doc)
		if err != nil {
			return
		}
		// What verifies is signed over all but its /Contents.
		r := res.ByteRange
		if r[0] != 0 || r[2]+r[3] != int64(len(doc)) {
			t.Fatalf("verified with ByteRange %v of %d bytes", r, len(doc))
		}
		h := sha256.New()
		h.Write(doc[:r[1]])
		h.Write(doc[r[2]:])
		if !bytes.Equal(h.Sum(nil), res.Digest[:]) {
			t.Fatal("digest is not of the covered bytes")
		}
	})
}
