package verifier

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// sealedBlock builds an embedded block of n records, as the embedded
// ledger does, and the receipt of record i.
func sealedBlock(t *testing.T, n, i int) (Receipt, block.Embedded, block.TrustRoots, []evidence.Record) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := block.NewKey(&key.PublicKey)
	roots := block.TrustRoots{Ledger: "test", Kind: "embedded", Keys: []block.Key{pub}}
	gen := evidence.NewIDGenerator(nil, nil)
	var recs []evidence.Record
	var leaves [][]byte
	for k := 0; k < n; k++ {
		id, _ := gen.New()
		r := evidence.Record{ID: id, Type: evidence.File, Digests: []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(fmt.Sprint(k)))},
			Platform: "acme", SubmittedAt: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
		leaf, err := r.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		recs, leaves = append(recs, r), append(leaves, leaf)
	}
	hdr := block.Header{Number: 7, PreviousHash: make([]byte, 32), DataHash: block.DataHash(leaves)}
	seal := block.Seal{Ledger: "test", Number: 7, BlockHash: hex.EncodeToString(hdr.Hash()), Time: "2026-11-23T10:00:00.005Z"}
	if err := seal.Sign(key); err != nil {
		t.Fatal(err)
	}
	b := block.Embedded{Version: block.EmbeddedVersion, Header: hdr, Records: leaves, Seal: seal}
	rc := NewReceipt(recs[i])
	rc.Ledger, rc.LedgerKind, rc.TxID = "test", "embedded", EmbeddedTxID(leaves[i])
	rc.BlockNumber, rc.BlockHash, rc.LedgerTime, rc.TimeSource = 7, seal.BlockHash, seal.Time, TimeSourceNode
	rc.KeyIDs = []string{seal.KeyID}
	s := seal
	rc.Proof = Proof{Kind: ProofEmbedded, Record: leaves[i], LeafIndex: uint64(i), TreeSize: uint64(n),
		AuditPath: block.AuditPaths(leaves)[i], BatchRoot: hdr.DataHash, Header: hdr, Seal: &s}
	return rc, b, roots, recs
}

func TestVerifyReceipt(t *testing.T) {
	rc, b, roots, recs := sealedBlock(t, 11, 6)
	rec, err := VerifyReceipt(rc, roots)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Equal(recs[6]) {
		t.Fatal("VerifyReceipt returned another record")
	}
	if err := ReceiptInBlock(rc, b); err != nil {
		t.Fatal(err)
	}
	if err := DigestMatch(rec, evidence.Sum(evidence.SHA256, []byte("6"))); err != nil {
		t.Fatal(err)
	}
	var me *MismatchError
	if err := DigestMatch(rec, evidence.Sum(evidence.SHA256, []byte("7"))); !errors.As(err, &me) {
		t.Fatalf("wrong digest: %v", err)
	}
	if err := DigestMatch(rec, evidence.Sum(evidence.SM3, []byte("6"))); !errors.Is(err, ErrAlgorithmNotRecorded) {
		t.Fatalf("algorithm not recorded: %v", err)
	}
}

// TestVerifyReceiptTampered: every field a forger could change is caught,
// and the error names the field.
func TestVerifyReceiptTampered(t *testing.T) {
	_, otherRoots := func() (int, block.TrustRoots) { _, _, r, _ := sealedBlock(t, 1, 0); return 0, r }()
	tests := []struct {
		field  string
		mutate func(*Receipt)
		roots  *block.TrustRoots
	}{
		{"v", func(r *Receipt) { r.Version = 2 }, nil},
		{"id", func(r *Receipt) { r.ID = "01M83X7VSK89V4F2ZGF28CEZDZ2" }, nil},
		{"type", func(r *Receipt) { r.Type = evidence.Text }, nil},
		{"digest", func(r *Receipt) { r.DigestHex = evidence.Sum(evidence.SHA256, []byte("x")).Hex() }, nil},
		{"platform", func(r *Receipt) { r.Platform = "evil" }, nil},
		{"digests", func(r *Receipt) { r.Digests = nil }, nil},
		{"proof.record", func(r *Receipt) { r.Proof.Record = append([]byte(nil), r.Proof.Record...); r.Proof.Record[10] ^= 1 }, nil},
		{"proof.audit_path", func(r *Receipt) { r.Proof.AuditPath = r.Proof.AuditPath[1:] }, nil},
		{"proof.audit_path", func(r *Receipt) { r.Proof.LeafIndex++ }, nil},
		{"block_number", func(r *Receipt) { r.BlockNumber++ }, nil},
		{"block_hash", func(r *Receipt) { r.BlockHash = hex.EncodeToString(make([]byte, 32)) }, nil},
		{"proof.batch_root", func(r *Receipt) {
			r.Proof.Header.DataHash = make([]byte, 32)
			r.BlockHash = hex.EncodeToString(r.Proof.Header.Hash())
		}, nil},
		{"tx_id", func(r *Receipt) { r.TxID = "00" }, nil},
		{"proof.seal", func(r *Receipt) { r.Proof.Seal = nil }, nil},
		{"proof.seal", func(r *Receipt) { s := *r.Proof.Seal; s.Time = "2020-01-01T00:00:00.000Z"; r.Proof.Seal = &s }, nil},
		{"proof.seal", func(r *Receipt) {}, &otherRoots},
		{"ledger_time", func(r *Receipt) { r.LedgerTime = "2020-01-01T00:00:00.000Z" }, nil},
		{"ledger", func(r *Receipt) { r.Ledger = "other" }, nil},
		{"key_ids", func(r *Receipt) { r.KeyIDs = []string{"x"} }, nil},
		{"proof.kind", func(r *Receipt) { r.Proof.Kind = "magic/v9" }, nil},
	}
	for _, tt := range tests {
		rc, _, roots, _ := sealedBlock(t, 5, 2)
		tt.mutate(&rc)
		if tt.roots != nil {
			roots = *tt.roots
		}
		_, err := VerifyReceipt(rc, roots)
		var re *ReceiptError
		if !errors.As(err, &re) || re.Field != tt.field {
			t.Errorf("%s: err = %v, want a ReceiptError on %s", tt.field, err, tt.field)
		}
	}
}

func TestReceiptInBlockMismatch(t *testing.T) {
	rc, b, _, _ := sealedBlock(t, 4, 1)
	other, ob, _, _ := sealedBlock(t, 4, 1)
	if err := ReceiptInBlock(rc, ob); err == nil {
		t.Error("receipt matched another block")
	}
	rc.Proof.LeafIndex = 2
	if err := ReceiptInBlock(rc, b); err == nil {
		t.Error("wrong position accepted")
	}
	_ = other
}
