package verifier

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// The names of the three checks, in the order they are reported.
const (
	CheckDigestMatch = "digest_match" // 比对结果一致
	CheckOnLedger    = "on_ledger"    // 电子证据已在区块链存证
	CheckProofIntact = "proof_intact" // 电子数据包完整性校验通过
)

// MismatchError says a digest differs from the recorded one.
type MismatchError struct {
	Algorithm evidence.Algorithm
	Recorded  []byte
	Given     []byte
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("%s digest %x does not match the recorded %x", e.Algorithm, e.Given, e.Recorded)
}

// ErrAlgorithmNotRecorded means the record has no digest of the given
// algorithm, so the comparison cannot be made.
var ErrAlgorithmNotRecorded = errors.New("the record holds no digest of this algorithm")

// DigestMatch checks d against the record's digest of the same algorithm.
func DigestMatch(r evidence.Record, d evidence.Digest) error {
	want, ok := r.DigestFor(d.Algorithm)
	if !ok {
		return fmt.Errorf("%w (%s)", ErrAlgorithmNotRecorded, d.Algorithm)
	}
	if !bytes.Equal(want.Value, d.Value) {
		return &MismatchError{Algorithm: d.Algorithm, Recorded: want.Value, Given: d.Value}
	}
	return nil
}

// RecordInBatch checks the RFC 6962 inclusion of leaf at index in a tree of
// size leaves with the given root. A mismatch is a
// proof.RootMismatchError.
func RecordInBatch(leaf []byte, index, size uint64, path [][]byte, root []byte) error {
	h := rfc6962.DefaultHasher
	if err := proof.VerifyInclusion(h, index, size, h.HashLeaf(leaf), path, root); err != nil {
		return fmt.Errorf("record not in batch: %w", err)
	}
	return nil
}

// ReceiptError names the receipt field a check failed on.
type ReceiptError struct {
	Field string
	Err   error
}

func (e *ReceiptError) Error() string {
	if e.Field == "" {
		return "receipt: " + e.Err.Error()
	}
	return "receipt " + e.Field + ": " + e.Err.Error()
}
func (e *ReceiptError) Unwrap() error { return e.Err }

func rerr(field string, format string, args ...any) error {
	return &ReceiptError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Reasons VerifyReceipt refuses a receipt whose every field is otherwise
// in order (wrapped in a *ReceiptError naming the field).
var (
	// ErrLedgerKind: ledger_kind is not the proof kind's ledger
	// (embedded for embedded/v1, fabric for fabric/v1).
	ErrLedgerKind = errors.New("ledger_kind does not match the proof kind")
	// ErrTimeSource: time_source is not the exact text for the proof kind
	// and the trusted time the receipt shows (TimeSources): it tells a
	// reader how much the ledger time is worth, so it is checked like any
	// other claim.
	ErrTimeSource = errors.New("time_source is not the text for this proof kind")
	// ErrNotInProof: a proof member the proof kind does not have
	// (block in an embedded/v1 proof, seal in a fabric/v1 proof).
	ErrNotInProof = errors.New("not part of a proof of this kind")
)

// VerifyReceipt checks that a receipt holds together on its own, against
// the ledger's trust roots: every field is checked against the proof or
// refused — ledger_kind and time_source are the proof kind's, the proof
// has only its kind's members, every trusted timestamp verifies
// (verifyTimestamps) —, the record parses and
// agrees with the descriptive fields, the audit path leads to the batch root, the root is
// the block's data hash, the header hashes to block_hash, and the block
// seal is signed by a trusted key over that hash and the ledger time. It
// returns the parsed record.
func VerifyReceipt(rc Receipt, roots block.TrustRoots) (evidence.Record, error) {
	if rc.Version != ReceiptVersion {
		return evidence.Record{}, rerr("v", "version %d not supported", rc.Version)
	}
	var kind string
	switch rc.Proof.Kind {
	case ProofEmbedded:
		kind = block.KindEmbedded
		if len(rc.Proof.Block) != 0 {
			return evidence.Record{}, rerr("proof.block", "%w (%s)", ErrNotInProof, rc.Proof.Kind)
		}
	case ProofFabric:
		kind = block.KindFabric
		if rc.Proof.Seal != nil {
			return evidence.Record{}, rerr("proof.seal", "%w (%s)", ErrNotInProof, rc.Proof.Kind)
		}
	default:
		return evidence.Record{}, rerr("proof.kind", "%q not supported", rc.Proof.Kind)
	}
	if rc.LedgerKind != kind {
		return evidence.Record{}, rerr("ledger_kind", "%w: %q, want %q for a %s proof", ErrLedgerKind, rc.LedgerKind, kind, rc.Proof.Kind)
	}
	if err := checkTimeSource(rc); err != nil {
		return evidence.Record{}, err
	}
	if err := checkEncodings(rc); err != nil {
		return evidence.Record{}, err
	}
	rec, err := evidence.ParseRecord(rc.Proof.Record)
	if err != nil {
		return evidence.Record{}, rerr("proof.record", "%w", err)
	}
	p := rec.Primary()
	switch {
	case rc.ID != rec.ID.String():
		return rec, rerr("id", "%q differs from the record's %s", rc.ID, rec.ID)
	case rc.Type != rec.Type:
		return rec, rerr("type", "%q differs from the record's %q", rc.Type, rec.Type)
	case rc.Algorithm != p.Algorithm || rc.DigestHex != p.Hex() || rc.DigestBase64 != p.Base64():
		return rec, rerr("digest", "differs from the record's %s", p)
	case rc.Platform != rec.Platform:
		return rec, rerr("platform", "%q differs from the record's %q", rc.Platform, rec.Platform)
	}
	if len(rc.Digests) != len(rec.Digests) {
		return rec, rerr("digests", "%d listed, the record has %d", len(rc.Digests), len(rec.Digests))
	}
	for i, d := range rec.Digests {
		if rc.Digests[i] != ViewOf(d) {
			return rec, rerr("digests", "%s differs from the record", d.Algorithm)
		}
	}
	if err := RecordInBatch(rc.Proof.Record, rc.Proof.LeafIndex, rc.Proof.TreeSize, rc.Proof.AuditPath, rc.Proof.BatchRoot); err != nil {
		return rec, rerr("proof.audit_path", "%w", err)
	}
	if rc.DocRef != rec.DocRef {
		return rec, rerr("doc_ref", "%q differs from the record's %q", rc.DocRef, rec.DocRef)
	}
	if want := rec.SubmittedAt.UTC().Format(evidence.TimeLayout); rc.SubmittedAt != want {
		return rec, rerr("submitted_at", "%q differs from the record's %q", rc.SubmittedAt, want)
	}
	hdr := rc.Proof.Header
	if hdr.Number != rc.BlockNumber {
		return rec, rerr("block_number", "%d, but the proof's header is block %d", rc.BlockNumber, hdr.Number)
	}
	if got := hex.EncodeToString(hdr.Hash()); got != rc.BlockHash {
		return rec, rerr("block_hash", "%s, but the header hashes to %s", rc.BlockHash, got)
	}
	switch rc.Proof.Kind {
	case ProofEmbedded:
		if !bytes.Equal(rc.Proof.BatchRoot, hdr.DataHash) {
			return rec, rerr("proof.batch_root", "%x is not the block's data hash %x", rc.Proof.BatchRoot, hdr.DataHash)
		}
		if want := EmbeddedTxID(rc.Proof.Record); rc.TxID != want {
			return rec, rerr("tx_id", "%q, want the leaf hash %s", rc.TxID, want)
		}
		if rc.Proof.Seal == nil {
			return rec, rerr("proof.seal", "missing")
		}
		s := *rc.Proof.Seal
		if err := s.Verify(hdr, roots); err != nil {
			return rec, rerr("proof.seal", "%w", err)
		}
		if s.Time != rc.LedgerTime {
			return rec, rerr("ledger_time", "%q, but the seal says %q", rc.LedgerTime, s.Time)
		}
		if s.Ledger != rc.Ledger {
			return rec, rerr("ledger", "%q, but the seal says %q", rc.Ledger, s.Ledger)
		}
		if len(rc.KeyIDs) != 1 || rc.KeyIDs[0] != s.KeyID {
			return rec, rerr("key_ids", "%v, but the seal was signed by %s", rc.KeyIDs, s.KeyID)
		}
	case ProofFabric:
		if err := verifyFabric(rc, rec, roots); err != nil {
			return rec, err
		}
	default:
		return rec, rerr("proof.kind", "%q not supported", rc.Proof.Kind)
	}
	if err := verifyTimestamps(rc, roots); err != nil {
		return rec, err
	}
	if _, err := VerifyLogProof(rc, roots); err != nil {
		return rec, err
	}
	return rec, nil
}

// checkEncodings refuses hex and base64 text fields not in their one form
// (lower-case hex, canonical base64) with a named reason, before they are
// compared with what the proof gives.
func checkEncodings(rc Receipt) error {
	hexes := []struct{ field, v string }{{"digest_hex", rc.DigestHex}, {"block_hash", rc.BlockHash}, {"tx_id", rc.TxID}}
	for i, d := range rc.Digests {
		hexes = append(hexes, struct{ field, v string }{fmt.Sprintf("digests.%d.hex", i), d.Hex})
	}
	for _, h := range hexes {
		if _, err := strict.Hex(h.v); err != nil {
			return rerr(h.field, "%w", err)
		}
	}
	b64s := []struct{ field, v string }{{"digest_base64", rc.DigestBase64}}
	for i, d := range rc.Digests {
		b64s = append(b64s, struct{ field, v string }{fmt.Sprintf("digests.%d.base64", i), d.Base64})
	}
	for _, b := range b64s {
		if _, err := strict.Base64(b.v); err != nil {
			return rerr(b.field, "%w", err)
		}
	}
	return nil
}

// ErrNotInBlock is wrapped by every ReceiptInBlock failure: the block held
// apart is not the one the receipt names, or does not hold its record
// where the receipt says.
var ErrNotInBlock = errors.New("the record is not in this block where the receipt places it")

// ReceiptInBlock checks that the receipt's record is the block's record at
// the receipt's leaf index, and that the block is the one the receipt
// names; b itself should have passed b.Verify. Errors wrap ErrNotInBlock.
func ReceiptInBlock(rc Receipt, b block.Embedded) error {
	if b.Header.Number != rc.BlockNumber {
		return fmt.Errorf("block is number %d, the receipt names %d (%w)", b.Header.Number, rc.BlockNumber, ErrNotInBlock)
	}
	if got := hex.EncodeToString(b.Hash()); got != rc.BlockHash {
		return fmt.Errorf("block %d hashes to %s, the receipt says %s (%w)", b.Header.Number, got, rc.BlockHash, ErrNotInBlock)
	}
	if rc.Proof.TreeSize != uint64(len(b.Records)) || rc.Proof.LeafIndex >= uint64(len(b.Records)) {
		return fmt.Errorf("block %d has %d records; the receipt places the record at %d of %d (%w)",
			b.Header.Number, len(b.Records), rc.Proof.LeafIndex, rc.Proof.TreeSize, ErrNotInBlock)
	}
	if !bytes.Equal(b.Records[rc.Proof.LeafIndex], rc.Proof.Record) {
		return fmt.Errorf("block %d holds a different record at position %d (%w)", b.Header.Number, rc.Proof.LeafIndex, ErrNotInBlock)
	}
	return nil
}
