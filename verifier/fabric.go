package verifier

import (
	"bytes"
	"slices"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// ProofFabric: the record's Merkle audit path leads to the batch root; the
// evidence chaincode wrote that root (and the record under its ID) in the
// endorsed write set of transaction tx_id; that transaction is in the raw
// block carried in the proof, whose data hash covers it and whose header
// hashes to block_hash; the committing peer marked it VALID; its creator's
// and endorsers' signatures, and the orderer's block signature, verify
// against the channel's MSP roots. See docs/fabric-proof.md.
const ProofFabric = "fabric/v1"

// TimeSourceFabric says who asserted the ledger time of a Fabric receipt.
const TimeSourceFabric = "the transaction timestamp: asserted by the submitting client in the transaction header, signed by it and covered by the endorsers' signatures; peers refuse times far from their clocks; not a trusted timestamp"

// verifyFabric is VerifyReceipt's check of a ProofFabric proof; the
// caller has already checked the record, the audit path to the batch
// root, and that the header hashes to block_hash.
func verifyFabric(rc Receipt, rec evidence.Record, roots block.TrustRoots) error {
	return checkFabric(rc, rec, rc.Proof.Block, roots)
}

// VerifyFabricBlock checks a Fabric receipt against a block obtained
// independently (from an evidence package's attachment, peer channel
// fetch, or the ledger): as VerifyReceipt with raw in place of the proof's
// block. The receipt may carry no block of its own (see WithoutBlock).
//
// Each orderer signs the copy of a block it delivers, so a copy fetched
// from another peer than the node's may be signed by another orderer than
// the one key_ids names; the copy's own signer is then checked in its
// place. Header, data and block hash are the same in every copy.
func VerifyFabricBlock(rc Receipt, raw []byte, roots block.TrustRoots) (evidence.Record, error) {
	if rc.Proof.Kind != ProofFabric {
		return evidence.Record{}, rerr("proof.kind", "%q is not %q", rc.Proof.Kind, ProofFabric)
	}
	rc.Proof.Block = raw
	if n := len(rc.KeyIDs); n > 0 {
		if b, err := fabricblock.Parse(raw); err == nil {
			if sigs, err := b.OrdererSignatures(fabricConsenters(roots)); err == nil && !slices.ContainsFunc(sigs, func(s fabricblock.Signed) bool { return s.Signer.KeyID() == rc.KeyIDs[n-1] }) {
				rc.KeyIDs = append(slices.Clip(rc.KeyIDs[:n-1]), sigs[0].Signer.KeyID())
			}
		}
	}
	return VerifyReceipt(rc, roots)
}

func fabricConsenters(roots block.TrustRoots) []block.Consenter {
	if roots.Fabric == nil {
		return nil
	}
	return roots.Fabric.Consenters
}

// WithoutBlock returns the receipt without the raw block in its proof: a
// compact form for transport when the block travels separately. Check it
// with VerifyFabricBlock.
func (rc Receipt) WithoutBlock() Receipt {
	rc.Proof.Block = nil
	return rc
}

// FabricTx is an evidence transaction that passed CheckFabricTx.
type FabricTx struct {
	Tx *fabricblock.Tx
	// EndorserKeys are the endorsers' key IDs in endorsement order;
	// OrdererKeys the keys of the orderer signatures on the block.
	EndorserKeys []string
	OrdererKeys  []string
	// Batch is the batch the transaction wrote, Root its decoded root.
	Batch fabricblock.Batch
	Root  []byte
}

// CheckFabricTx is the one check of an evidence transaction in a Fabric
// block against the channel's trust roots: the block's data hash covers
// the transaction; the committing peer marked it VALID; it ran the
// channel's evidence chaincode, which answered 200; its creator's and
// endorsers' signatures verify and satisfy the endorsement policy; the
// orderer signed the block; and the endorsed write set holds the batch
// root. The node runs it on every block it reads back, the offline
// verifier on every receipt. Errors are ReceiptErrors naming the field.
func CheckFabricTx(b *fabricblock.Block, txID string, fr block.Fabric) (*FabricTx, error) {
	if err := b.CheckDataHash(); err != nil {
		return nil, rerr("proof.block", "%w", err)
	}
	tx, err := b.FindTx(txID)
	if err != nil {
		return nil, rerr("tx_id", "%w", err)
	}
	code, err := b.ValidationCode(tx.Index)
	if err != nil {
		return nil, rerr("proof.block", "%w", err)
	}
	if code != 0 {
		return nil, rerr("tx_id", "transaction %s was not valid: the peer marked it %s", tx.ID, code)
	}
	if tx.Channel != fr.Channel {
		return nil, rerr("proof.block", "transaction on channel %q, the trust roots are for %q", tx.Channel, fr.Channel)
	}
	if tx.Chaincode != fr.Chaincode {
		return nil, rerr("proof.block", "transaction ran chaincode %q, not %q", tx.Chaincode, fr.Chaincode)
	}
	if tx.Status != 200 {
		return nil, rerr("proof.block", "chaincode answered status %d", tx.Status)
	}
	// Signatures: client, endorsers (enough organisations), orderer.
	endorsers, err := tx.Verify(fr)
	if err != nil {
		return nil, rerr("proof.block", "%w", err)
	}
	orderers, err := b.VerifyBlockSignature(fr, tx.Timestamp)
	if err != nil {
		return nil, rerr("proof.block", "%w", err)
	}
	v, ok := tx.Value(fr.Chaincode, fabricblock.BatchKey(tx.ID))
	if !ok {
		return nil, rerr("proof.batch_root", "transaction %s wrote no batch root", tx.ID)
	}
	bt, root, err := fabricblock.ParseBatch(v)
	if err != nil {
		return nil, rerr("proof.batch_root", "%w", err)
	}
	return &FabricTx{Tx: tx, EndorserKeys: endorsers, OrdererKeys: orderers, Batch: bt, Root: root}, nil
}

// checkFabric runs the Fabric proof against raw on a receipt whose record,
// audit path and header hash have been checked.
func checkFabric(rc Receipt, rec evidence.Record, raw []byte, roots block.TrustRoots) error {
	fr := roots.Fabric
	if fr == nil {
		return rerr("proof", "the trust roots are not a Fabric channel's")
	}
	if roots.Ledger != "" && rc.Ledger != roots.Ledger {
		return rerr("ledger", "%q, but the trust roots are for %q", rc.Ledger, roots.Ledger)
	}
	if len(raw) == 0 {
		return rerr("proof.block", "missing: a Fabric proof needs the raw block")
	}
	b, err := fabricblock.Parse(raw)
	if err != nil {
		return rerr("proof.block", "%w", err)
	}
	hdr := rc.Proof.Header
	if b.Header.Number != hdr.Number || !bytes.Equal(b.Header.PreviousHash, hdr.PreviousHash) || !bytes.Equal(b.Header.DataHash, hdr.DataHash) {
		return rerr("proof.header", "differs from the block's header (block %d)", b.Header.Number)
	}
	ft, err := CheckFabricTx(b, rc.TxID, *fr)
	if err != nil {
		return err
	}
	tx := ft.Tx
	if got := FormatTime(tx.Timestamp); got != rc.LedgerTime {
		return rerr("ledger_time", "%q, but the transaction's timestamp is %s", rc.LedgerTime, got)
	}
	// key_ids: the endorsers' keys in endorsement order, then the key of
	// the orderer that signed this copy of the block.
	n := len(rc.KeyIDs)
	if n != len(ft.EndorserKeys)+1 || !slices.Equal(rc.KeyIDs[:n-1], ft.EndorserKeys) || !slices.Contains(ft.OrdererKeys, rc.KeyIDs[n-1]) {
		return rerr("key_ids", "%v, but the transaction was endorsed by %v and the block signed by %v", rc.KeyIDs, ft.EndorserKeys, ft.OrdererKeys)
	}
	// The endorsed write set holds the batch root and the record under its ID.
	if !bytes.Equal(ft.Root, rc.Proof.BatchRoot) || uint64(ft.Batch.Size) != rc.Proof.TreeSize {
		return rerr("proof.batch_root", "%x of %d records, but the transaction wrote %s of %d", rc.Proof.BatchRoot, rc.Proof.TreeSize, ft.Batch.Root, ft.Batch.Size)
	}
	id := rec.ID.String()
	v, ok := tx.Value(fr.Chaincode, id)
	if !ok {
		return rerr("tx_id", "transaction %s did not write record %s", tx.ID, id)
	}
	return checkEntry(v, rc.Proof.Record, tx.ID, rc.Proof.LeafIndex, rc.Proof.TreeSize)
}

// checkEntry: v, the entry a transaction wrote under a record's ID, names
// that record (whose canonical encoding is leaf), transaction txID and
// the receipt's place in the batch (index of size), in any entry version.
func checkEntry(v, leaf []byte, txID string, index, size uint64) error {
	e, err := fabricblock.ParseEntry(v)
	if err != nil {
		return rerr("proof.record", "%w", err)
	}
	if !e.Holds(leaf) || e.TxID != txID || uint64(e.Index) != index || uint64(e.Size) != size {
		return rerr("proof.record", "the transaction stored the record differently (version %d entry: transaction %s, at %d of %d)", e.V, e.TxID, e.Index, e.Size)
	}
	return nil
}
