package verifier

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// TestReceiptFieldsChecked: every receipt field is checked against the
// proof or refused, on both proof kinds; the error names the field and
// wraps the reason.
func TestReceiptFieldsChecked(t *testing.T) {
	raw, rcs, froots := golden(t)
	fab := rcs[0]
	emb, _, roots, _ := sealedBlock(t, 3, 1)
	if _, err := VerifyReceipt(emb, roots); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyFabricBlock(fab, raw, froots); err != nil {
		t.Fatal(err)
	}
	seal := *emb.Proof.Seal
	tests := []struct {
		desc   string
		fabric bool
		mutate func(*Receipt)
		field  string
		want   error
	}{
		{"embedded: time_source of a Fabric receipt", false, func(r *Receipt) { r.TimeSource = TimeSourceFabric }, "time_source", ErrTimeSource},
		{"embedded: time_source empty", false, func(r *Receipt) { r.TimeSource = "" }, "time_source", ErrTimeSource},
		{"embedded: ledger_kind fabric", false, func(r *Receipt) { r.LedgerKind = block.KindFabric }, "ledger_kind", ErrLedgerKind},
		{"embedded: ledger_kind empty", false, func(r *Receipt) { r.LedgerKind = "" }, "ledger_kind", ErrLedgerKind},
		{"embedded: a timestamp", false, func(r *Receipt) { r.Timestamps = []Timestamp{{Kind: "rfc3161", Token: []byte{1}}} }, "timestamps", ErrTimestamps},
		{"embedded: proof.block", false, func(r *Receipt) { r.Proof.Block = raw }, "proof.block", ErrNotInProof},
		{"embedded: upper-case digest_hex", false, func(r *Receipt) { r.DigestHex = strings.ToUpper(r.DigestHex) }, "digest_hex", strict.ErrHex},
		{"embedded: digests hex upper-case", false, func(r *Receipt) {
			r.Digests = append([]DigestView(nil), r.Digests...)
			r.Digests[0].Hex = strings.ToUpper(r.Digests[0].Hex)
		}, "digests.0.hex", strict.ErrHex},
		{"embedded: unpadded digest_base64", false, func(r *Receipt) { r.DigestBase64 = strings.TrimRight(r.DigestBase64, "=") }, "digest_base64", strict.ErrBase64},
		{"fabric: proof.seal", true, func(r *Receipt) { r.Proof.Seal = &seal }, "proof.seal", ErrNotInProof},
		{"fabric: time_source of the node", true, func(r *Receipt) { r.TimeSource = TimeSourceNode }, "time_source", ErrTimeSource},
		{"fabric: ledger_kind embedded", true, func(r *Receipt) { r.LedgerKind = block.KindEmbedded }, "ledger_kind", ErrLedgerKind},
		{"fabric: a timestamp", true, func(r *Receipt) { r.Timestamps = []Timestamp{{Kind: "rfc3161"}} }, "timestamps", ErrTimestamps},
		{"fabric: upper-case tx_id", true, func(r *Receipt) { r.TxID = strings.ToUpper(r.TxID) }, "tx_id", strict.ErrHex},
	}
	for _, tc := range tests {
		rc, rs := emb, roots
		if tc.fabric {
			rc, rs = fab, froots
			rc.Proof.Block = raw
		}
		tc.mutate(&rc)
		_, err := VerifyReceipt(rc, rs)
		var re *ReceiptError
		if !errors.As(err, &re) || re.Field != tc.field || !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want field %s: %v", tc.desc, err, tc.field, tc.want)
		}
	}
}

// TestParseReceipt: a receipt document decodes strictly; errors name the
// member.
func TestParseReceipt(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "fabric", "receipts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all []Receipt
	if err := strict.Decode(b, &all); err != nil {
		t.Fatal(err)
	}
	good := all[0].AppendJSON(nil)
	if _, err := ParseReceipt(good); err != nil {
		t.Fatal(err)
	}
	s := string(good)
	tests := []struct {
		in    string
		field string
		want  error
	}{
		{strings.Replace(s, `"ledger"`, `"Ledger"`, 1), "Ledger", strict.ErrUnknownName},
		{strings.Replace(s, `"tx_id"`, `"note":"x","tx_id"`, 1), "note", strict.ErrUnknownName},
		{strings.Replace(s, `"leaf_index"`, `"extra":1,"leaf_index"`, 1), "proof.extra", strict.ErrUnknownName},
		{strings.Replace(s, `"data_hash"`, `"when":"x","data_hash"`, 1), "proof.header.when", strict.ErrUnknownName},
		{strings.Replace(s, `"id"`, `"id":"x","id"`, 1), "id", strict.ErrDuplicateName},
		{strings.Replace(s, `"platform":"acme-sign"`, `"platform":null`, 1), "platform", strict.ErrNull},
		{s + "\n{}", "", strict.ErrTrailing},
	}
	for _, tc := range tests {
		_, err := ParseReceipt([]byte(tc.in))
		var re *ReceiptError
		if !errors.As(err, &re) || re.Field != tc.field || !errors.Is(err, tc.want) {
			t.Errorf("%.60s…: %v, want field %q: %v", tc.in, err, tc.field, tc.want)
		}
	}
}
