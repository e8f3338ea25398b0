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
