package block

import (
	"crypto/elliptic"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/verifier/strict"
)

// TestSealSignedBytesAsJSON: the seal's signed JSON is what
// encoding/json.Marshal writes for the same members, for strings with
// every kind of character the escape rules name.
func TestSealSignedBytesAsJSON(t *testing.T) {
	strs := []string{"", "evidence-local", `"q" \ /`, "<a&b>", "\b\f\n\r\t\x00\x01\x1f\x7f", "\u2028\u2029\u202e", "台账", "bad \xff utf8 \xc0\xaf", "é\U0001F600"}
	for _, s := range strs {
		seal := Seal{Ledger: s, Number: 1<<64 - 1, BlockHash: s, Time: s, KeyID: s}
		want, err := json.Marshal(struct {
			Ledger    string `json:"ledger"`
			Number    uint64 `json:"number"`
			BlockHash string `json:"block_hash"`
			Time      string `json:"time"`
			KeyID     string `json:"key_id"`
		}{s, seal.Number, s, s, s})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(seal.SignedBytes()); got != sealDomain+string(want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, sealDomain+string(want))
		}
	}
}

func highS(t *testing.T, sig []byte) []byte {
	var v struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &v); err != nil {
		t.Fatal(err)
	}
	v.S = new(big.Int).Sub(elliptic.P256().Params().N, v.S)
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSealLowS: Sign writes low-S only; Verify refuses the high-S twin of
// a valid signature (which ecdsa.Verify alone accepts) and non-DER forms.
func TestSealLowS(t *testing.T) {
	key, roots := newKey(t)
	hdr := Header{Number: 3, PreviousHash: make([]byte, 32), DataHash: DataHash(leaves(3))}
	half := new(big.Int).Rsh(elliptic.P256().Params().N, 1)
	for i := 0; i < 64; i++ {
		s := Seal{Ledger: "test", Number: 3, BlockHash: hex.EncodeToString(hdr.Hash()), Time: fmt.Sprintf("2026-11-23T09:00:00.%03dZ", i)}
		if err := s.Sign(key); err != nil {
			t.Fatal(err)
		}
		var v struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(s.Signature, &v); err != nil || v.S.Cmp(half) > 0 {
			t.Fatalf("Sign wrote a high-S signature (%v)", err)
		}
		if err := s.Verify(hdr, roots); err != nil {
			t.Fatal(err)
		}
		twin := s
		twin.Signature = highS(t, s.Signature)
		if err := twin.Verify(hdr, roots); !errors.Is(err, ErrHighS) {
			t.Fatalf("high-S twin: %v", err)
		}
		long := s
		long.Signature = append(append([]byte(nil), s.Signature...), 0)
		if err := long.Verify(hdr, roots); !errors.Is(err, ErrSignatureEncoding) {
			t.Fatalf("trailing byte: %v", err)
		}
	}
	// Deterministic: the same seal signs to the same bytes.
	a := Seal{Ledger: "test", Number: 3, BlockHash: hex.EncodeToString(hdr.Hash()), Time: "2026-11-23T09:00:00.000Z"}
	b := a
	if a.Sign(key) != nil || b.Sign(key) != nil || string(a.Signature) != string(b.Signature) {
		t.Fatal("signatures differ")
	}
	for _, tm := range []string{"2026-11-23T17:00:00.000+08:00", "2026-11-23T09:00:00Z", "2026-11-23T09:00:00.0000Z"} {
		c := a
		c.Time = tm
		if err := c.Sign(key); err != nil {
			t.Fatal(err)
		}
		if err := c.Verify(hdr, roots); !errors.Is(err, ErrSealTime) {
			t.Errorf("time %s: %v", tm, err)
		}
	}
	up := a
	up.BlockHash = strings.ToUpper(up.BlockHash)
	if err := up.Verify(hdr, roots); !errors.Is(err, strict.ErrHex) {
		t.Errorf("upper-case block hash: %v", err)
	}
}

func TestHeaderStrict(t *testing.T) {
	h := Header{Number: 9, PreviousHash: []byte{0xab}, DataHash: []byte{0xcd}}
	good, _ := json.Marshal(h)
	var back Header
	if err := strict.Decode(good, &back); err != nil || back.Number != 9 {
		t.Fatal(err)
	}
	bad := map[string]error{
		`{"number":9,"previous_hash":"AB","data_hash":"cd"}`:            strict.ErrHex,
		`{"number":9,"previous_hash":"ab","data_hash":"cd","extra":1}`:  strict.ErrUnknownName,
		`{"Number":9,"previous_hash":"ab","data_hash":"cd"}`:            strict.ErrUnknownName,
		`{"number":9,"number":8,"previous_hash":"ab","data_hash":"cd"}`: strict.ErrDuplicateName,
		`{"number":null,"previous_hash":"ab","data_hash":"cd"}`:         strict.ErrNull,
	}
	for in, want := range bad {
		var h Header
		if err := strict.Decode([]byte(in), &h); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", in, err, want)
		}
	}
	// Inside a block, the error names the path.
	_, err := ParseEmbedded([]byte(`{"v":1,"header":{"number":1,"previous_hash":"","data_hash":"AB"},"records":[],"seal":{}}`))
	var fe *strict.FieldError
	if !errors.As(err, &fe) || fe.Field != "header.data_hash" {
		t.Errorf("header in a block: %v", err)
	}
}

func TestParseEmbeddedStrict(t *testing.T) {
	key, _ := newKey(t)
	ls := leaves(2)
	b := Embedded{Version: EmbeddedVersion, Header: Header{Number: 1, PreviousHash: make([]byte, 32), DataHash: DataHash(ls)}, Records: ls}
	b.Seal = Seal{Ledger: "test", Number: 1, BlockHash: hex.EncodeToString(b.Hash()), Time: "2026-11-23T09:00:00.000Z"}
	if err := b.Seal.Sign(key); err != nil {
		t.Fatal(err)
	}
	raw, _ := b.Marshal()
	if _, err := ParseEmbedded(raw); err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	bad := map[string]error{
		"trailing data":    strict.ErrTrailing,
		"Records":          strict.ErrUnknownName,
		"seal unknown":     strict.ErrUnknownName,
		"duplicate number": strict.ErrDuplicateName,
	}
	in := map[string]string{
		"trailing data":    s + `{"v":1}`,
		"Records":          strings.Replace(s, `"records"`, `"Records"`, 1),
		"seal unknown":     strings.Replace(s, `"key_id"`, `"note":"x","key_id"`, 1),
		"duplicate number": strings.Replace(s, `"number":1,`, `"number":1,"number":2,`, 1),
	}
	for name, want := range bad {
		if _, err := ParseEmbedded([]byte(in[name])); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
}

func TestTrustRootsStrict(t *testing.T) {
	_, roots := newKey(t)
	good, _ := json.Marshal(roots)
	if _, err := ParseTrustRoots(good); err != nil {
		t.Fatal(err)
	}
	k := roots.Keys[0]
	with := func(f func(*Key)) []byte {
		r := roots
		kk := k
		f(&kk)
		r.Keys = []Key{kk}
		b, _ := json.Marshal(r)
		return b
	}
	bad := map[string]struct {
		in   []byte
		want error
	}{
		"PEM with leading text":  {with(func(k *Key) { k.PublicKey = "node key\n" + k.PublicKey }), strict.ErrPEM},
		"PEM with trailing text": {with(func(k *Key) { k.PublicKey += "x" }), strict.ErrPEM},
		"upper-case key ID":      {with(func(k *Key) { k.ID = strings.ToUpper(k.ID) }), strict.ErrHex},
		"unknown member":         {[]byte(strings.Replace(string(good), `"kind"`, `"comment":"","kind"`, 1)), strict.ErrUnknownName},
		"kind":                   {[]byte(strings.Replace(string(good), `"embedded"`, `"other"`, 1)), ErrTrustRoots},
	}
	for name, tc := range bad {
		if _, err := ParseTrustRoots(tc.in); !errors.Is(err, tc.want) || !errors.Is(err, ErrTrustRoots) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}
