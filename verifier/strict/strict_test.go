package strict

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

type inner struct {
	N    uint64 `json:"n"`
	Hash string `json:"hash"`
}

// custom has its own UnmarshalJSON, which stays strict by calling Decode.
type custom struct{ N int }

func (c *custom) UnmarshalJSON(b []byte) error {
	var w struct {
		N int `json:"n"`
	}
	if err := Decode(b, &w); err != nil {
		return err
	}
	c.N = w.N
	return nil
}

type doc struct {
	Name   string          `json:"name"`
	Count  int             `json:"count,omitempty"`
	Inner  inner           `json:"inner"`
	Opt    *inner          `json:"opt,omitempty"`
	List   []inner         `json:"list,omitempty"`
	Bytes  []byte          `json:"bytes,omitempty"`
	Blobs  [][]byte        `json:"blobs,omitempty"`
	Custom custom          `json:"custom"`
	Raw    json.RawMessage `json:"raw,omitempty"`
}

func TestDecodeAccepts(t *testing.T) {
	in := `{"name":"a\u0062","inner":{"n":3,"hash":"ab"},"opt":null,"list":null,"bytes":"AAE=","blobs":["","AQ=="],"custom":{"n":-2},"raw":{"x":[1,null]}}` + " \n\t\r"
	var d doc
	if err := Decode([]byte(in), &d); err != nil {
		t.Fatal(err)
	}
	if d.Name != "ab" || d.Inner.N != 3 || d.Opt != nil || len(d.Bytes) != 2 || len(d.Blobs) != 2 || d.Custom.N != -2 || string(d.Raw) != `{"x":[1,null]}` {
		t.Fatalf("decoded %+v", d)
	}
}

// TestDecodeRefuses: one case per leniency a lenient reader would allow,
// each refused with its named reason and the member's path.
func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		desc, in string
		want     error
		field    string
	}{
		{"empty", "  ", ErrEmpty, ""},
		{"trailing value", `{"name":"a"}{}`, ErrTrailing, ""},
		{"trailing garbage", `{"name":"a"} x`, ErrTrailing, ""},
		{"invalid UTF-8", "{\"name\":\"\xff\xfe\"}", ErrInvalidUTF8, ""},
		{"overlong UTF-8", "{\"name\":\"\xc0\xaf\"}", ErrInvalidUTF8, ""},
		{"member name in another case", `{"Name":"a"}`, ErrUnknownName, "Name"},
		{"upper-case duplicate of a name", `{"name":"a","NAME":"b"}`, ErrUnknownName, "NAME"},
		{"duplicate name", `{"name":"a","name":"b"}`, ErrDuplicateName, "name"},
		{"duplicate name inside", `{"inner":{"n":1,"n":2}}`, ErrDuplicateName, "inner.n"},
		{"unknown member", `{"name":"a","extra":1}`, ErrUnknownName, "extra"},
		{"unknown member inside", `{"inner":{"n":1,"x":0}}`, ErrUnknownName, "inner.x"},
		{"unknown member in a list", `{"list":[{"n":1},{"hash":"","y":1}]}`, ErrUnknownName, "list.1.y"},
		{"unknown member in a custom type", `{"custom":{"n":1,"m":2}}`, ErrUnknownName, "custom.m"},
		{"null string", `{"name":null}`, ErrNull, "name"},
		{"null number", `{"inner":{"n":null}}`, ErrNull, "inner.n"},
		{"null object", `{"inner":null}`, ErrNull, "inner"},
		{"null byte string", `{"bytes":null}`, ErrNull, "bytes"},
		{"null byte string in a list", `{"blobs":["AQ==",null]}`, ErrNull, "blobs.1"},
		{"base64 with non-zero padding bits", `{"bytes":"AAF="}`, ErrBase64, "bytes"},
		{"base64 with a line break", `{"bytes":"AA\nE="}`, ErrBase64, "bytes"},
		{"base64 with an escaped line break", `{"bytes":"AA\\nE="}`, ErrBase64, "bytes"},
		{"base64 without padding", `{"bytes":"AAE"}`, ErrBase64, "bytes"},
		{"base64url alphabet", `{"bytes":"-_8="}`, ErrBase64, "bytes"},
		{"base64 in a list", `{"blobs":["AQ==","AR=="]}`, ErrBase64, "blobs.1"},
	}
	for _, tc := range tests {
		var d doc
		err := Decode([]byte(tc.in), &d)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.desc, err, tc.want)
			continue
		}
		var fe *FieldError
		if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
			t.Errorf("%s: %v, want it to name field %q", tc.desc, err, tc.field)
		}
	}
	for _, in := range []string{`{"count":1.0}`, `{"count":1e2}`, `{"inner":{"n":-1}}`, `{"inner":{"n":"1"}}`, `{"name":1}`} {
		var d doc
		var te *TypeError
		if err := Decode([]byte(in), &d); !errors.As(err, &te) {
			t.Errorf("%s: %v, want a TypeError", in, err)
		}
	}
	for _, in := range []string{`{"name":"\ud800"}`, `{"name":"a"`, `{"name":'a'}`, `{name:"a"}`} {
		var d doc
		var se *SyntaxError
		if err := Decode([]byte(in), &d); !errors.As(err, &se) {
			t.Errorf("%s: %v, want a SyntaxError", in, err)
		}
	}
}

func TestHex(t *testing.T) {
	if b, err := Hex("00ff"); err != nil || len(b) != 2 {
		t.Fatal(b, err)
	}
	if b, err := Hex(""); err != nil || len(b) != 0 {
		t.Fatal(b, err)
	}
	for _, s := range []string{"00FF", "0g", "abc", " ab"} {
		if _, err := Hex(s); !errors.Is(err, ErrHex) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestBase64(t *testing.T) {
	for _, s := range []string{"", "AA==", "AAA=", "AAAA", "+/8="} {
		if _, err := Base64(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"AB==", "AAB=", "AA", "AA==\n", "A A=", "-_8=", "AA=="[:3] + "\r="} {
		if _, err := Base64(s); !errors.Is(err, ErrBase64) {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestPEM(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	good := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if b, err := PEM(good, "PUBLIC KEY", true); err != nil || string(b) != string(der) {
		t.Fatal(err)
	}
	bad := map[string]string{
		"leading text":    "the node's key:\n" + good,
		"trailing text":   good + "more",
		"second block":    good + good,
		"wrong type":      strings.ReplaceAll(good, "PUBLIC KEY", "EC PUBLIC KEY"),
		"headers":         string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"A": "b"}, Bytes: der})),
		"CRLF":            strings.ReplaceAll(good, "\n", "\r\n"),
		"leading newline": "\n" + good,
	}
	for name, s := range bad {
		if _, err := PEM(s, "PUBLIC KEY", true); !errors.Is(err, ErrPEM) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := PEM(strings.ReplaceAll(good, "\n", "\r\n"), "PUBLIC KEY", false); err != nil {
		t.Errorf("non-canonical line ends without canonical: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"name":"a","inner":{"n":3,"hash":"ab"},"bytes":"AAE=","custom":{"n":1}}`))
	f.Add([]byte(`{"name":"a","name":"b"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var d doc
		if err := Decode(in, &d); err != nil {
			return
		}
		// What Decode accepts, encoding/json (lenient) reads alike.
		var again doc
		if err := json.Unmarshal(in, &again); err != nil {
			t.Fatalf("strict accepted what encoding/json refuses: %v", err)
		}
	})
}

// TestDecodeWithoutNull covers the path for documents with no "null" in
// them (the null check left out): byte strings are still canonical
// base64, and "null" inside a string takes the full path and reads.
func TestDecodeWithoutNull(t *testing.T) {
	var d doc
	if err := Decode([]byte(`{"name":"x","bytes":"AAE=","blobs":["AQ=="]}`), &d); err != nil || len(d.Bytes) != 2 || len(d.Blobs) != 1 {
		t.Fatalf("decode: %+v, %v", d, err)
	}
	if err := Decode([]byte(`{"bytes":"AAE"}`), &d); !errors.Is(err, ErrBase64) {
		t.Fatalf("unpadded base64: %v", err)
	}
	d = doc{}
	if err := Decode([]byte(`{"name":"null"}`), &d); err != nil || d.Name != "null" {
		t.Fatalf(`"null" as a string: %+v, %v`, d, err)
	}
}
