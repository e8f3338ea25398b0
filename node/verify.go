package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// The verification vocabulary is the verifier's, so offline verifiers and
// clients share it.
const (
	VerdictPass     = verifier.VerdictPass
	VerdictFail     = verifier.VerdictFail
	OutcomePass     = verifier.OutcomePass
	OutcomeMismatch = verifier.OutcomeMismatch
	OutcomeNotFound = verifier.OutcomeNotFound
	OutcomeBroken   = verifier.OutcomeBroken
	OutcomePending  = verifier.OutcomePending
)

// Check and Verification are verifier's.
type (
	Check        = verifier.Check
	Verification = verifier.Verification
)

// Verify checks digest d against evidence id: (1) digest_match: d equals
// the recorded digest of its algorithm; (2) on_ledger: the record is on the
// ledger and its block, re-read from the ledger, has the receipt's block
// hash and holds the record at the receipt's position; (3) proof_intact:
// the receipt's Merkle proof, header and block seal verify against the
// ledger's trust roots.
//
// Of the digests given (e.g. SHA-256 and SM3 of an uploaded file), the one
// of the record's primary algorithm is compared, else the first the record
// holds, else the first.
func (s *Service) Verify(ctx context.Context, id evidence.ID, ds ...evidence.Digest) (Verification, error) {
	if len(ds) == 0 {
		return Verification{}, fmt.Errorf("%w: no digest to verify", ErrInvalid)
	}
	v, err := s.verify(ctx, id, ds)
	if err == nil {
		s.metrics.verifications.WithLabelValues(v.Outcome).Inc()
	}
	return v, err
}

func (s *Service) verify(ctx context.Context, id evidence.ID, ds []evidence.Digest) (Verification, error) {
	v := Verification{Verdict: VerdictFail, ID: id.String()}
	rc, err := s.Receipt(ctx, id)
	if errors.Is(err, ErrPending) {
		v.Outcome = OutcomePending
		v.Checks = []Check{
			{Name: CheckName(0), Reason: "the evidence was accepted by this node and is queued; it is not on the ledger yet: try again shortly", ReasonZH: "该存证已受理，正在上链，请稍后再核验"},
			{Name: CheckName(1), Reason: "not on the ledger yet", ReasonZH: "尚未上链"},
			{Name: CheckName(2), Reason: "nothing to check yet", ReasonZH: "暂无可校验的数据"},
		}
		return v, nil
	}
	if errors.Is(err, ErrNotFound) {
		v.Outcome = OutcomeNotFound
		v.Checks = []Check{
			{Name: CheckName(0), Reason: "no evidence is recorded under this ID", ReasonZH: "未找到该统一证据编号的存证记录"},
			{Name: CheckName(1), Reason: "no evidence is recorded under this ID", ReasonZH: "区块链上无此编号的存证"},
			{Name: CheckName(2), Reason: "nothing to check", ReasonZH: "无可校验的数据"},
		}
		return v, nil
	}
	if err != nil {
		return v, err
	}
	v.Receipt = &rc
	info, err := s.ledger.Info(ctx)
	if err != nil {
		return v, err
	}

	// (3) first, since (1) reads the record the proof vouches for.
	proof := Check{Name: verifier.CheckProofIntact, Pass: true,
		Reason:   fmt.Sprintf("the Merkle proof, block header and block signature verify against the ledger's trust roots (key %v)", rc.KeyIDs),
		ReasonZH: "默克尔证明、区块头与区块签名均通过信任根校验"}
	rec, perr := verifier.VerifyReceipt(rc, info.TrustRoots)
	if perr != nil {
		proof = Check{Name: verifier.CheckProofIntact, Reason: perr.Error(), ReasonZH: "电子数据包完整性校验未通过：" + perr.Error()}
	}

	// (1)
	match := verifier.CompareDigests(rec, ds)
	if perr != nil {
		match = Check{Name: verifier.CheckDigestMatch, Reason: "the record cannot be trusted: its proof does not verify", ReasonZH: "存证记录的证明无效，无法比对"}
	}

	// (2) re-read the block from the ledger.
	onLedger := Check{Name: verifier.CheckOnLedger}
	b, err := s.ledger.Block(ctx, rc.BlockNumber)
	switch {
	case err != nil:
		onLedger.Reason = fmt.Sprintf("block %d cannot be read from the ledger: %v", rc.BlockNumber, err)
		onLedger.ReasonZH = fmt.Sprintf("无法从账本读取区块 %d", rc.BlockNumber)
	case hex.EncodeToString(b.Header.Hash()) != rc.BlockHash:
		onLedger.Reason = fmt.Sprintf("block %d on the ledger hashes to %x, not %s", rc.BlockNumber, b.Header.Hash(), rc.BlockHash)
		onLedger.ReasonZH = fmt.Sprintf("账本上区块 %d 的哈希与存证记录不符", rc.BlockNumber)
	default:
		if err := recordInStoredBlock(rc, b, info.TrustRoots); err != nil {
			onLedger.Reason = err.Error()
			onLedger.ReasonZH = "区块中未找到该存证记录：" + err.Error()
		} else {
			onLedger.Pass = true
			onLedger.Reason = fmt.Sprintf("recorded on ledger %q in block %d (hash %s) at %s", rc.Ledger, rc.BlockNumber, rc.BlockHash, rc.LedgerTime)
			onLedger.ReasonZH = fmt.Sprintf("电子证据已在区块链存证：账本 %s，块高 %d，区块哈希 %s，存证时间 %s", rc.Ledger, rc.BlockNumber, rc.BlockHash, rc.LedgerTime)
		}
	}
	v.Checks = []Check{match, onLedger, proof}
	switch {
	case !onLedger.Pass || !proof.Pass:
		v.Outcome = OutcomeBroken
	case !match.Pass:
		v.Outcome = OutcomeMismatch
	default:
		v.Outcome, v.Verdict = OutcomePass, VerdictPass
	}
	return v, nil
}

// recordInStoredBlock checks, for the kinds of block it knows, that the
// block as stored holds the receipt's record.
func recordInStoredBlock(rc verifier.Receipt, b Block, roots block.TrustRoots) error {
	switch b.Kind {
	case block.KindEmbedded:
		eb, err := block.ParseEmbedded(b.Raw)
		if err != nil {
			return err
		}
		if err := eb.Verify(roots); err != nil {
			return err
		}
		return verifier.ReceiptInBlock(rc, eb)
	case block.KindFabric:
		_, err := verifier.VerifyFabricBlock(rc, b.Raw, roots)
		return err
	}
	return fmt.Errorf("block kind %q not supported", b.Kind)
}

// CheckName returns the name of check i (0, 1, 2).
func CheckName(i int) string {
	return [...]string{verifier.CheckDigestMatch, verifier.CheckOnLedger, verifier.CheckProofIntact}[i]
}
