package view

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// TestReceiptJSON: the node's view encodes as its fields say, and reads
// back the same.
func TestReceiptJSON(t *testing.T) {
	d := evidence.Sum(evidence.SHA256, []byte("x"))
	rc := Receipt{
		Receipt:  verifier.Receipt{Version: 1, ID: "01ABC", Type: evidence.File, Algorithm: evidence.SHA256, DigestHex: d.Hex(), DigestBase64: d.Base64(), Platform: "acme", KeyIDs: []string{"k"}},
		PDF:      json.RawMessage(`{"pdf":true,"pages":2}`),
		Metadata: json.RawMessage(`{"order":"A-1"}`),
		MetaSalt: "5a5a",
	}
	b, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if string(m["pdf"]) != string(rc.PDF) || string(m["metadata"]) != string(rc.Metadata) || string(m["id"]) != `"01ABC"` {
		t.Fatalf("encoded %s", b)
	}
	var back Receipt
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rc) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, rc)
	}
	plain, _ := json.Marshal(Receipt{Receipt: rc.Receipt})
	if want, _ := json.Marshal(rc.Receipt); string(plain) != string(want) {
		t.Fatalf("without node members:\n got %s\nwant %s", plain, want)
	}
}
