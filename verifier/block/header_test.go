package block

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

type headerVector struct {
	Desc         string `json:"desc"`
	Number       uint64 `json:"number"`
	PreviousHash string `json:"previous_hash"`
	DataHash     string `json:"data_hash"`
	WantDER      string `json:"want_der"`
	WantHash     string `json:"want_hash"`
}

func hexb(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	if len(b) == 0 {
		return nil
	}
	return b
}

func vectorHeaders() []headerVector {
	h := func(s string) string { x := sha256.Sum256([]byte(s)); return hex.EncodeToString(x[:]) }
	return []headerVector{
		{Desc: "genesis: number 0, no previous hash", Number: 0, DataHash: h("data0")},
		{Desc: "number 1", Number: 1, PreviousHash: h("prev1"), DataHash: h("data1")},
		{Desc: "number 127 (largest one-byte INTEGER)", Number: 127, PreviousHash: h("p"), DataHash: h("d")},
		{Desc: "number 128 (INTEGER needs a leading zero byte)", Number: 128, PreviousHash: h("p"), DataHash: h("d")},
		{Desc: "number 2^32", Number: 1 << 32, PreviousHash: h("p"), DataHash: h("d")},
		{Desc: "largest uint64 (nine-byte INTEGER)", Number: 1<<64 - 1, PreviousHash: h("p"), DataHash: h("d")},
		{Desc: "empty data hash", Number: 5, PreviousHash: h("p")},
	}
}

// TestHeaderGolden checks header encoding and hashing against
// testdata/headers.json; go test -run TestHeaderGolden -update rewrites it.
func TestHeaderGolden(t *testing.T) {
	path := filepath.Join("testdata", "headers.json")
	if *update {
		vs := vectorHeaders()
		for i := range vs {
			hd := Header{vs[i].Number, hexb(vs[i].PreviousHash), hexb(vs[i].DataHash)}
			vs[i].WantDER = hex.EncodeToString(hd.Bytes())
			vs[i].WantHash = hex.EncodeToString(hd.Hash())
		}
		b, _ := json.MarshalIndent(vs, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var vs []headerVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no vectors")
	}
	for _, v := range vs {
		hd := Header{v.Number, hexb(v.PreviousHash), hexb(v.DataHash)}
		if got := hex.EncodeToString(hd.Bytes()); got != v.WantDER {
			t.Errorf("%s: DER = %s, want %s", v.Desc, got, v.WantDER)
		}
		if got := hex.EncodeToString(hd.Hash()); got != v.WantHash {
			t.Errorf("%s: hash = %s, want %s", v.Desc, got, v.WantHash)
		}
	}
}

// TestHeaderDERByHand builds the DER of a header byte by byte, without
// encoding/asn1, to catch a golden file regenerated from a broken encoder.
func TestHeaderDERByHand(t *testing.T) {
	prev := bytes.Repeat([]byte{0xaa}, 32)
	data := bytes.Repeat([]byte{0xbb}, 32)
	// SEQUENCE { INTEGER 128 (02 02 00 80), OCTET STRING prev, OCTET STRING data }
	body := append([]byte{0x02, 0x02, 0x00, 0x80, 0x04, 0x20}, prev...)
	body = append(append(body, 0x04, 0x20), data...)
	want := append([]byte{0x30, byte(len(body))}, body...)
	got := Header{Number: 128, PreviousHash: prev, DataHash: data}.Bytes()
	if !bytes.Equal(got, want) {
		t.Fatalf("DER\n got %x\nwant %x", got, want)
	}
	// Block 0 with no previous hash: INTEGER 0 is 02 01 00, the empty OCTET STRING 04 00.
	g0 := Header{Number: 0, DataHash: data}.Bytes()
	if !bytes.HasPrefix(g0, []byte{0x30, 0x27, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 0x20}) {
		t.Fatalf("genesis DER %x", g0)
	}
}

func TestVerifyChain(t *testing.T) {
	var hs []Header
	prev := []byte(nil)
	for i := uint64(0); i < 5; i++ {
		d := sha256.Sum256([]byte{byte(i)})
		h := Header{Number: i, PreviousHash: prev, DataHash: d[:]}
		hs = append(hs, h)
		prev = h.Hash()
	}
	if err := VerifyChain(hs); err != nil {
		t.Fatal(err)
	}
	bad := append([]Header(nil), hs...)
	bad[3].DataHash = bytes.Repeat([]byte{1}, 32) // changes block 3's hash: block 4's link breaks
	if err := VerifyChain(bad); err == nil {
		t.Fatal("changed block 3 not detected")
	} else if ce, ok := err.(*ChainError); !ok || ce.Number != 4 {
		t.Fatalf("err = %v, want a ChainError at block 4", err)
	}
	if err := VerifyChain([]Header{hs[0], hs[2]}); err == nil {
		t.Fatal("gap not detected")
	}
	g := hs[0]
	g.PreviousHash = []byte{1}
	if err := VerifyChain([]Header{g}); err == nil {
		t.Fatal("block 0 with previous hash accepted")
	}
}

func TestHeaderJSON(t *testing.T) {
	h := Header{Number: 9, PreviousHash: bytes.Repeat([]byte{1}, 32), DataHash: bytes.Repeat([]byte{2}, 32)}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var got Header
	if err := json.Unmarshal(b, &got); err != nil || !bytes.Equal(got.Hash(), h.Hash()) {
		t.Fatalf("round trip %s: %v", b, err)
	}
	// The hand-written encoding is what encoding/json writes for the wire
	// form, for a first block (no previous hash) and the largest number.
	for _, h := range []Header{h, {Number: 0, DataHash: []byte{0xff}}, {Number: 1<<64 - 1}} {
		want, _ := json.Marshal(wireHeader{h.Number, hex.EncodeToString(h.PreviousHash), hex.EncodeToString(h.DataHash)})
		if got, _ := h.MarshalJSON(); !bytes.Equal(got, want) {
			t.Fatalf("header JSON\n got %s\nwant %s", got, want)
		}
	}
}

// TestHeaderBytesAsASN1 checks the hand-written DER against
// encoding/asn1, which Fabric's protoutil uses, at the edges of the
// integer and length encodings.
func TestHeaderBytesAsASN1(t *testing.T) {
	type asn1Header struct {
		Number       *big.Int
		PreviousHash []byte
		DataHash     []byte
	}
	nums := []uint64{0, 1, 127, 128, 255, 256, 32767, 32768, 1<<31 - 1, 1 << 31, 1<<63 - 1, 1 << 63, 1<<64 - 1}
	hashes := [][]byte{nil, bytes.Repeat([]byte{0xab}, 32), bytes.Repeat([]byte{1}, 127), bytes.Repeat([]byte{2}, 128), bytes.Repeat([]byte{3}, 300), bytes.Repeat([]byte{4}, 70000)}
	for _, n := range nums {
		for _, prev := range hashes {
			for _, data := range hashes[:3] {
				h := NewHeader(n, prev, data)
				want, err := asn1.Marshal(asn1Header{new(big.Int).SetUint64(n), h.PreviousHash, h.DataHash})
				if err != nil {
					t.Fatal(err)
				}
				if got := h.Bytes(); !bytes.Equal(got, want) {
					t.Fatalf("block %d, hashes of %d and %d bytes:\n got %x\nwant %x", n, len(prev), len(data), got[:min(len(got), 40)], want[:min(len(want), 40)])
				}
			}
		}
	}
}
