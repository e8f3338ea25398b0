// Package verifier checks evidence: that a digest matches a record, that a
// record is in a block, that blocks chain and are signed by trusted keys,
// and that a receipt holds together. It needs no network and no database;
// a court can vendor it with its sub-packages evidence, block and
// fabricblock (which reads Fabric blocks with fabric-protos-go-apiv2) alone.
package verifier

import (
	"errors"
	"time"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// ReceiptVersion is the receipt encoding version this package writes.
const ReceiptVersion = 1

// Proof kinds.
const (
	// ProofEmbedded: the record's Merkle audit path leads to the batch
	// root, which is the embedded block's data hash; the block seal signs
	// the block hash.
	ProofEmbedded = "embedded/v1"
)

// TimeSourceNode says who asserted the ledger time of an embedded receipt.
const TimeSourceNode = "asserted by the node's clock and signed in the block seal; not a trusted timestamp"

// DigestView shows one digest in both notations.
type DigestView struct {
	Algorithm evidence.Algorithm `json:"algorithm"`
	Hex       string             `json:"hex"`
	Base64    string             `json:"base64"`
}

// ViewOf renders d.
func ViewOf(d evidence.Digest) DigestView {
	return DigestView{Algorithm: d.Algorithm, Hex: d.Hex(), Base64: d.Base64()}
}

// Proof is how a record reaches the block header.
type Proof struct {
	Kind string `json:"kind"`
	// Record is the canonical record encoding: the Merkle leaf.
	Record []byte `json:"record"`
	// LeafIndex and TreeSize place the leaf in its batch.
	LeafIndex uint64 `json:"leaf_index"`
	TreeSize  uint64 `json:"tree_size"`
	// AuditPath is the RFC 6962 inclusion proof, leaf level first.
	AuditPath [][]byte `json:"audit_path"`
	// BatchRoot is the RFC 6962 root over the batch's records.
	BatchRoot []byte `json:"batch_root"`
	// Header is the header of the block holding the batch.
	Header block.Header `json:"header"`
	// Seal signs an embedded block.
	Seal *block.Seal `json:"seal,omitempty"`
	// Block is the raw block (Fabric: protobuf common.Block) holding the
	// transaction, for ProofFabric.
	Block []byte `json:"block,omitempty"`
}

// Receipt is what a submitter gets back and what a verifier checks. Field
// names are part of the public API.
type Receipt struct {
	Version      int                `json:"v"`
	ID           string             `json:"id"`
	Type         evidence.Type      `json:"type"`
	Algorithm    evidence.Algorithm `json:"algorithm"`
	DigestHex    string             `json:"digest_hex"`
	DigestBase64 string             `json:"digest_base64"`
	Digests      []DigestView       `json:"digests"`
	Platform     string             `json:"platform"`
	DocRef       string             `json:"doc_ref,omitempty"`
	SubmittedAt  string             `json:"submitted_at"`
	Ledger       string             `json:"ledger"`
	LedgerKind   string             `json:"ledger_kind"`
	TxID         string             `json:"tx_id"`
	BlockNumber  uint64             `json:"block_number"`
	BlockHash    string             `json:"block_hash"`
	LedgerTime   string             `json:"ledger_time"`
	TimeSource   string             `json:"time_source"`
	KeyIDs       []string           `json:"key_ids"`
	Proof        Proof              `json:"proof"`
	// Timestamps are the trusted timestamps over the receipt's block
	// (embedded) or transaction (Fabric): see timestamp.go.
	Timestamps []Timestamp `json:"timestamps,omitempty"`
	// LogProof is the record's inclusion in the ledger's transparency log
	// (a c2sp.org/tlog-proof: leaf index, RFC 6962 inclusion proof and the
	// cosigned checkpoint it leads to; verifier/logproof). Absent until
	// the log holds the record.
	LogProof string `json:"log_proof,omitempty"`
}

// ParseReceipt decodes a receipt document strictly (strict.Decode: exact
// names, no duplicates, no unknown members at any level — the proof, its
// header and seal included —, canonical base64, valid UTF-8, nothing after
// the value). It checks nothing else: see VerifyReceipt. Errors are
// *ReceiptError naming the member ("" for the whole document).
func ParseReceipt(b []byte) (Receipt, error) {
	var rc Receipt
	if err := strict.Decode(b, &rc); err != nil {
		var fe *strict.FieldError
		var te *strict.TypeError
		switch {
		case errors.As(err, &fe):
			return Receipt{}, &ReceiptError{Field: fe.Field, Err: fe.Err}
		case errors.As(err, &te):
			return Receipt{}, &ReceiptError{Field: te.Field, Err: err}
		}
		return Receipt{}, &ReceiptError{Err: err}
	}
	return rc, nil
}

// NewReceipt fills the descriptive fields of a receipt from a record; the
// caller fills the ledger fields and the proof.
func NewReceipt(r evidence.Record) Receipt {
	p := r.Primary()
	rc := Receipt{
		Version:      ReceiptVersion,
		ID:           r.ID.String(),
		Type:         r.Type,
		Algorithm:    p.Algorithm,
		DigestHex:    p.Hex(),
		DigestBase64: p.Base64(),
		Platform:     r.Platform,
		DocRef:       r.DocRef,
		SubmittedAt:  r.SubmittedAt.UTC().Format(evidence.TimeLayout),
	}
	for _, d := range r.Digests {
		rc.Digests = append(rc.Digests, ViewOf(d))
	}
	return rc
}

// FormatTime writes t as receipts do.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(evidence.TimeLayout)
}

// EmbeddedTxID is the transaction ID of a record in an embedded block:
// the hex RFC 6962 leaf hash of its canonical encoding.
func EmbeddedTxID(leaf []byte) string {
	return block.LeafHex(leaf)
}
