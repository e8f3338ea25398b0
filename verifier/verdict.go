package verifier

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// Verdicts of a verification.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
)

// Outcomes tell the kinds of failure apart.
const (
	OutcomePass     = "pass"          // all three checks passed
	OutcomeMismatch = "mismatch"      // on the ledger, but the digest differs
	OutcomeNotFound = "not_found"     // no record with this ID
	OutcomeBroken   = "proof_invalid" // the ledger's proof does not hold
	OutcomePending  = "pending"       // accepted by a node, not yet on the ledger
)

// Check is one of the three checks of a verification (digest_match,
// on_ledger, proof_intact, in that order), with its reason in English and
// Chinese. Skipped marks a digest_match that was not made because the
// verifier held no content to compare (then Pass is false, and the
// verdict may still pass).
type Check struct {
	Name     string `json:"name"`
	Pass     bool   `json:"pass"`
	Skipped  bool   `json:"skipped,omitempty"`
	Reason   string `json:"reason"`
	ReasonZH string `json:"reason_zh"`
}

// CheckNames returns the names of the three checks in the order they are
// reported.
func CheckNames() [3]string { return [3]string{CheckDigestMatch, CheckOnLedger, CheckProofIntact} }

// Verification is the answer to "does this content match this evidence
// ID": the node's POST /api/v1/verify and the offline verifiers give it.
type Verification struct {
	Verdict string   `json:"verdict"`
	Outcome string   `json:"outcome"`
	ID      string   `json:"id"`
	Checks  []Check  `json:"checks"`
	Receipt *Receipt `json:"receipt,omitempty"`
}

// Text is a reason or a note in English and Chinese.
type Text struct{ EN, ZH string }

// RawBlock is a block as a ledger stores it, obtained apart from the
// receipt: re-read from the ledger, fetched with a ledger's own tools, or
// attached to an evidence package.
type RawBlock struct {
	// Kind is block.KindEmbedded (block.Embedded JSON) or
	// block.KindFabric (protobuf common.Block).
	Kind string
	Raw  []byte
	// Name, if set, prefixes reasons about the block (an attachment's
	// file name).
	Name string
}

// Case is what a verifier holds when it judges a piece of evidence: the
// node's POST /verify, the offline package verifier and evidencectl all
// describe what they have as a Case and let Judge decide.
type Case struct {
	// ID is the evidence ID asked about.
	ID string
	// Pending: a node has queued the record; it is not on a ledger yet.
	Pending bool
	// Receipt of the record; nil when no record is known under ID.
	Receipt *Receipt
	// Roots are the trust roots signatures are checked against, and
	// RootsName says whose they are, for the reasons (e.g. "the ledger's
	// trust roots" / "信任根").
	Roots     block.TrustRoots
	RootsName Text
	// Block is the block at the receipt's block number, held apart from
	// the receipt; BlockErr says why there is none.
	Block    *RawBlock
	BlockErr error
	// Integrity is what the verifier found wrong with the container of
	// the evidence before reading the receipt (a package's attachments
	// against its manifest, its other blocks); nil when it holds. Intact
	// says what was checked, for the passing reason (may be empty).
	Integrity error
	Intact    Text
	// Blocks is what the verifier found checking the other blocks it
	// holds (a package's blocks on their own, and their chain); nil when
	// they hold. It fails proof_intact, but the other checks are made.
	Blocks error
	// Digests are of the content the verifier holds (any algorithms; the
	// record's primary one is compared first). With none, and no
	// Original, digest_match is skipped.
	Digests []evidence.Digest
	// Original is content that came with the evidence (a package's
	// embedded original), compared when Digests is empty; OriginalName
	// names it in the reason.
	Original     []byte
	OriginalName string
}

// Judge makes the three checks of a verification from what the verifier
// holds, in the order docs/verification.md gives:
//
//   - proof_intact: the container holds (Case.Integrity), and the receipt
//     verifies against the trust roots (VerifyReceipt; a Fabric receipt
//     without its own copy of the block is checked against Case.Block);
//   - on_ledger: the block held apart has the receipt's number and hash
//     and holds the record where the receipt says (embedded: at its leaf
//     index, and the block verifies on its own; Fabric: the receipt's
//     transaction, checked in full);
//   - digest_match: a digest of the content held equals the record's
//     digest of its algorithm (the record the proof vouches for).
//
// Every failure is told in its check's reason, in English and Chinese.
func Judge(c Case) (v Verification) {
	v = Verification{Verdict: VerdictFail, ID: c.ID}
	switch {
	case c.Pending:
		v.Outcome = OutcomePending
		v.Checks = []Check{
			{Name: CheckDigestMatch, Reason: "the evidence was accepted by this node and is queued; it is not on the ledger yet: try again shortly", ReasonZH: "该存证已受理，正在上链，请稍后再核验"},
			{Name: CheckOnLedger, Reason: "not on the ledger yet", ReasonZH: "尚未上链"},
			{Name: CheckProofIntact, Reason: "nothing to check yet", ReasonZH: "暂无可校验的数据"},
		}
		return v
	case c.Receipt == nil && c.Integrity == nil:
		v.Outcome = OutcomeNotFound
		v.Checks = []Check{
			{Name: CheckDigestMatch, Reason: "no evidence is recorded under this ID", ReasonZH: "未找到该统一证据编号的存证记录"},
			{Name: CheckOnLedger, Reason: "no evidence is recorded under this ID", ReasonZH: "区块链上无此编号的存证"},
			{Name: CheckProofIntact, Reason: "nothing to check", ReasonZH: "无可校验的数据"},
		}
		return v
	}
	v.Receipt = c.Receipt
	v.Outcome = OutcomeBroken
	match := Check{Name: CheckDigestMatch}
	onLedger := Check{Name: CheckOnLedger}
	proof := Check{Name: CheckProofIntact}
	defer func() { v.Checks = []Check{match, onLedger, proof} }()

	if c.Integrity != nil || c.Receipt == nil {
		err := c.Integrity
		if err == nil {
			err = errors.New("no receipt")
		}
		proof.Reason = "the package is not intact: " + err.Error()
		proof.ReasonZH = "电子数据包完整性校验未通过：" + err.Error()
		onLedger.Reason, onLedger.ReasonZH = "not checked: the package is not intact", "未核验：电子数据包不完整"
		match.Reason, match.ReasonZH = "not checked: the package is not intact", "未比对：电子数据包不完整"
		match.Skipped = c.Digests == nil
		return v
	}
	rc := *c.Receipt

	// proof_intact first: digest_match reads the record it vouches for.
	var rec evidence.Record
	var perr error
	if rc.Proof.Kind == ProofFabric && len(rc.Proof.Block) == 0 && c.Block != nil {
		rec, perr = VerifyFabricBlock(rc, c.Block.Raw, c.Roots)
	} else {
		rec, perr = VerifyReceipt(rc, c.Roots)
	}
	if perr == nil {
		perr = c.Blocks
	}
	if perr != nil {
		proof.Reason = perr.Error()
		proof.ReasonZH = "电子数据包完整性校验未通过：" + perr.Error()
	} else {
		proof.Pass = true
		tt := trustedTimeText(rc)
		lt := logText(rc, c.Roots)
		proof.Reason = fmt.Sprintf("%sthe Merkle proof, block header and block signature verify against %s of ledger %q (keys %s)%s%s",
			c.Intact.EN, c.RootsName.EN, rc.Ledger, strings.Join(rc.KeyIDs, ", "), tt.EN, lt.EN)
		proof.ReasonZH = fmt.Sprintf("电子数据包完整性校验通过：%s默克尔证明、区块头与区块签名均通过%s校验%s%s", c.Intact.ZH, c.RootsName.ZH, tt.ZH, lt.ZH)
	}

	if err := recordInBlock(rc, c.Block, c.BlockErr, c.Roots); err != nil {
		onLedger.Reason = err.Error()
		onLedger.ReasonZH = "区块中未核验到该存证记录：" + err.Error()
	} else {
		onLedger.Pass = true
		onLedger.Reason = fmt.Sprintf("recorded on ledger %q in block %d (hash %s) at %s", rc.Ledger, rc.BlockNumber, rc.BlockHash, rc.LedgerTime)
		onLedger.ReasonZH = fmt.Sprintf("电子证据已在区块链存证：账本 %s，块高 %d，区块哈希 %s，存证时间 %s", rc.Ledger, rc.BlockNumber, rc.BlockHash, rc.LedgerTime)
	}

	switch {
	case perr != nil:
		match.Reason, match.ReasonZH = "the record cannot be trusted: its proof does not verify", "存证记录的证明无效，无法比对"
		match.Skipped = len(c.Digests) == 0 && c.Original == nil
	case len(c.Digests) > 0:
		match = CompareDigests(rec, c.Digests)
	case c.Original != nil:
		// The holder gave nothing, but the evidence came with its
		// original: compare it, with every algorithm the record holds.
		var ds []evidence.Digest
		for _, d := range rec.Digests {
			ds = append(ds, evidence.Sum(d.Algorithm, c.Original))
		}
		match = CompareDigests(rec, ds)
		match.Reason = "the original embedded in the package (" + c.OriginalName + "): " + match.Reason
		match.ReasonZH = "电子数据包内的原件（" + c.OriginalName + "）：" + match.ReasonZH
	default:
		match.Skipped = true
		match.Reason = fmt.Sprintf("no original given: the recorded %s digest is %s (base64 %s)", rc.Algorithm, rc.DigestHex, rc.DigestBase64)
		match.ReasonZH = fmt.Sprintf("未提供原件，未比对：存证摘要（%s）为 %s", rc.Algorithm, rc.DigestHex)
	}

	switch {
	case !onLedger.Pass || !proof.Pass:
		v.Outcome = OutcomeBroken
	case !match.Pass && !match.Skipped:
		v.Outcome = OutcomeMismatch
	default:
		v.Outcome, v.Verdict = OutcomePass, VerdictPass
	}
	return v
}

// recordInBlock is the on_ledger check: b, held apart from the receipt,
// is the block the receipt names and holds its record.
func recordInBlock(rc Receipt, b *RawBlock, berr error, roots block.TrustRoots) error {
	if b == nil {
		if berr == nil {
			berr = fmt.Errorf("block %d, where the receipt places the record, is not available", rc.BlockNumber)
		}
		return berr
	}
	err := func() error {
		switch b.Kind {
		case block.KindEmbedded:
			eb, err := block.ParseEmbedded(b.Raw)
			if err != nil {
				return err
			}
			if err := ReceiptInBlock(rc, eb); err != nil {
				return err
			}
			return eb.Verify(roots)
		case block.KindFabric:
			fb, err := fabricblock.Parse(b.Raw)
			if err != nil {
				return err
			}
			if fb.Header.Number != rc.BlockNumber {
				return fmt.Errorf("block is number %d, the receipt names %d", fb.Header.Number, rc.BlockNumber)
			}
			if got := hex.EncodeToString(fb.Header.Hash()); got != rc.BlockHash {
				return fmt.Errorf("block %d hashes to %s, the receipt says %s", fb.Header.Number, got, rc.BlockHash)
			}
			_, err = VerifyFabricBlock(rc, b.Raw, roots)
			return err
		}
		return fmt.Errorf("block kind %q not supported", b.Kind)
	}()
	if err != nil && b.Name != "" {
		return fmt.Errorf("%s: %w", b.Name, err)
	}
	return err
}

// CompareDigests makes the digest_match check of a verification: of the
// digests given (e.g. SHA-256 and SM3 of a file), the one of the record's
// primary algorithm is compared, else the first the record holds, else the
// first; the reasons say what was compared, in English and Chinese. The
// record must come from a proof that verified.
func CompareDigests(rec evidence.Record, ds []evidence.Digest) Check {
	c := Check{Name: CheckDigestMatch}
	if len(ds) == 0 {
		c.Reason, c.ReasonZH = "no digest to compare", "没有可比对的摘要"
		return c
	}
	d := PickDigest(rec, ds)
	switch err := DigestMatch(rec, d); {
	case err == nil:
		c.Pass = true
		c.Reason = fmt.Sprintf("the %s digest %s equals the recorded digest", d.Algorithm, d.Hex())
		c.ReasonZH = fmt.Sprintf("比对结果一致：%s 摘要 %s 与存证摘要相同", d.Algorithm, d.Hex())
	case errors.Is(err, ErrAlgorithmNotRecorded):
		c.Reason = fmt.Sprintf("the record holds no %s digest; compute the digest with %s", d.Algorithm, rec.Primary().Algorithm)
		c.ReasonZH = fmt.Sprintf("存证记录中没有 %s 摘要，请使用 %s 计算", d.Algorithm, rec.Primary().Algorithm)
	default:
		want, _ := rec.DigestFor(d.Algorithm)
		c.Reason = fmt.Sprintf("the %s digest %s differs from the recorded %s: the content is not the one recorded", d.Algorithm, d.Hex(), want.Hex())
		c.ReasonZH = fmt.Sprintf("比对结果不一致：您提供的内容的 %s 摘要 %s 与存证摘要 %s 不同，内容可能已被修改", d.Algorithm, d.Hex(), want.Hex())
	}
	return c
}

// PickDigest chooses which of several digests of the same content to
// compare with a record: the record's primary algorithm first.
func PickDigest(rec evidence.Record, ds []evidence.Digest) evidence.Digest {
	for _, want := range rec.Digests {
		for _, d := range ds {
			if d.Algorithm == want.Algorithm {
				return d
			}
		}
	}
	return ds[0]
}
