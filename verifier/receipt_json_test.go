package verifier

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// TestReceiptJSON: the hand-written encoder writes exactly what
// encoding/json writes for the same struct.
func TestReceiptJSON(t *testing.T) {
	type plain Receipt // no MarshalJSON method
	d := evidence.Sum(evidence.SHA256, []byte("x"))
	full := Receipt{
		Version: 1, ID: "01ABC", Type: evidence.File, Algorithm: evidence.SHA256, DigestHex: d.Hex(), DigestBase64: d.Base64(),
		Digests: []DigestView{ViewOf(d), ViewOf(evidence.Sum(evidence.SM3, []byte("x")))}, Platform: "acme",
		DocRef: `合同 "1" <a&b> \ ` + "\u2028", SubmittedAt: "2026-11-23T00:00:00.000Z", Ledger: "l", LedgerKind: "embedded",
		TxID: "ab", BlockNumber: 1<<63 + 5, BlockHash: "cd", LedgerTime: "t", TimeSource: "node", KeyIDs: []string{"k1", "k2"},
		Proof: Proof{Kind: ProofEmbedded, Record: []byte("{}"), LeafIndex: 3, TreeSize: 9, AuditPath: [][]byte{{1, 2}, {3}},
			BatchRoot: []byte{9}, Header: block.Header{Number: 1, PreviousHash: []byte{1}, DataHash: []byte{2}},
			Seal:  &block.Seal{Ledger: "l", Number: 1, BlockHash: "cd", Time: "t", KeyID: "k1", Signature: []byte{7, 7}},
			Block: []byte{0x0a, 0x01}},
		Timestamps: []Timestamp{{Kind: "rfc3161", Token: []byte{1}}},
	}
	for name, r := range map[string]Receipt{"full": full, "zero": {}} {
		got, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(plain(r))
		if string(got) != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
		var back Receipt
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if name == "full" && !reflect.DeepEqual(back, r) {
			t.Errorf("round trip differs:\n%+v\n%+v", back, r)
		}
	}
}

// TestAppendString: every byte, alone and inside plain text, is written
// as encoding/json writes it.
func TestAppendString(t *testing.T) {
	for c := 0; c < 256; c++ {
		for _, s := range []string{string(rune(c)), string([]byte{byte(c)}), "0123456789abcdef" + string([]byte{byte(c)}) + "xyz"} {
			want, _ := json.Marshal(s)
			if got := appendString(nil, s); string(got) != string(want) {
				t.Fatalf("%q: got %s, want %s", s, got, want)
			}
		}
	}
}

// BenchmarkReceiptJSON: one single submission's receipt, as the node
// answers it (hex and base64 digests, a 12-hash audit path, a seal).
func BenchmarkReceiptJSON(b *testing.B) {
	d := evidence.Sum(evidence.SHA256, []byte("x"))
	path := make([][]byte, 12)
	for i := range path {
		path[i] = d.Value
	}
	r := Receipt{
		Version: 1, ID: "EV01KBX7Q3M4ZP6W8R2T9Y5N3HC", Type: evidence.File, Algorithm: evidence.SHA256, DigestHex: d.Hex(), DigestBase64: d.Base64(),
		Digests: []DigestView{ViewOf(d)}, Platform: "bench", SubmittedAt: "2026-12-08T01:30:00.123Z", Ledger: "evidence-node",
		LedgerKind: "embedded", TxID: d.Hex(), BlockNumber: 123456, BlockHash: d.Hex(), LedgerTime: "2026-12-08T01:30:00.125Z",
		TimeSource: "node", KeyIDs: []string{"ed25519:" + d.Hex()[:16]},
		Proof: Proof{Kind: ProofEmbedded, Record: make([]byte, 180), LeafIndex: 300, TreeSize: 4000, AuditPath: path,
			BatchRoot: d.Value, Header: block.Header{Number: 123456, PreviousHash: d.Value, DataHash: d.Value},
			Seal: &block.Seal{Ledger: "evidence-node", Number: 123456, BlockHash: d.Hex(), Time: "2026-12-08T01:30:00.125Z", KeyID: "ed25519:" + d.Hex()[:16], Signature: make([]byte, 64)}},
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}
