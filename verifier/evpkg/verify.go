package evpkg

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// Options are what a verifier brings besides the package.
type Options struct {
	// Digests of the original content (file or text) the holder wants to
	// compare, any algorithms (the record's primary one is used first). With
	// none, digest_match is skipped.
	Digests []evidence.Digest
	// TrustRoots pins the roots the verifier obtained independently (from
	// the ledger operator, GET /api/v1/ledger on a node it trusts, …). With
	// nil, the package's own trust-roots.json is used, which proves only
	// that the package is consistent, not who signed it.
	TrustRoots *block.TrustRoots
}

// Check is one of the three checks; Skipped marks digest_match when no
// original was given (then Pass is false but the verdict may still pass).
type Check struct {
	verifier.Check
	Skipped bool `json:"skipped,omitempty"`
}

// Trust root sources.
const (
	RootsPinned   = "pinned"
	RootsPackaged = "packaged"
)

// Result is the answer of an offline package verification: the same three
// checks as the node's POST /api/v1/verify, in the same order.
type Result struct {
	Verdict string  `json:"verdict"`
	Outcome string  `json:"outcome"`
	ID      string  `json:"id"`
	Checks  []Check `json:"checks"`
	// Fingerprint is the package file's SHA-256, filled by whoever read the
	// file (Verify sees only the attachments).
	Fingerprint string `json:"fingerprint,omitempty"`
	// ManifestDigest is the SHA-256 of manifest.json.
	ManifestDigest string `json:"manifest_sha256,omitempty"`
	// TrustRoots says which roots the signatures were checked against:
	// pinned (Options.TrustRoots) or packaged.
	TrustRoots string `json:"trust_roots"`
	// RootsDiffer: pinned roots were given and the packaged ones differ
	// from them (informative: a pinned set may hold more keys).
	RootsDiffer bool              `json:"packaged_roots_differ,omitempty"`
	Receipt     *verifier.Receipt `json:"receipt,omitempty"`
}

// Pass reports whether the verdict is pass.
func (r Result) Pass() bool { return r.Verdict == verifier.VerdictPass }

// Verify checks a package's attachments (name → bytes), with no network,
// in this order (docs/verification.md):
//
//  1. the manifest: every listed attachment present with its size and
//     SHA-256, nothing unlisted (Parse);
//  2. proof_intact: the receipt verifies against the trust roots
//     (verifier.VerifyReceipt: record, Merkle audit path, header hash,
//     block signature), and every packaged block verifies on its own
//     (embedded: data hash over its records and seal; Fabric: transaction,
//     endorsements and orderer signature); consecutive blocks chain;
//  3. on_ledger: the block at the receipt's position is in the package,
//     has the receipt's number and hash, and holds the record at the
//     receipt's leaf index (Fabric: the receipt's transaction);
//  4. digest_match: with Options.Digests, a digest of the original equals
//     the record's digest of its algorithm.
//
// Every failure is reported in its check's reason, naming the attachment
// or receipt field; Verify itself does not fail.
func Verify(files map[string][]byte, o Options) (res Result) {
	res = Result{Verdict: verifier.VerdictFail, Outcome: verifier.OutcomeBroken, TrustRoots: RootsPackaged}
	if o.TrustRoots != nil {
		res.TrustRoots = RootsPinned
	}
	match := Check{Check: verifier.Check{Name: verifier.CheckDigestMatch}}
	onLedger := Check{Check: verifier.Check{Name: verifier.CheckOnLedger}}
	proof := Check{Check: verifier.Check{Name: verifier.CheckProofIntact}}
	defer func() { res.Checks = []Check{match, onLedger, proof} }()

	p, err := Parse(files)
	if err != nil {
		proof.Reason = "the package is not intact: " + err.Error()
		proof.ReasonZH = "电子数据包完整性校验未通过：" + err.Error()
		onLedger.Reason, onLedger.ReasonZH = "not checked: the package is not intact", "未核验：电子数据包不完整"
		match.Reason, match.ReasonZH = "not checked: the package is not intact", "未比对：电子数据包不完整"
		if o.Digests == nil {
			match.Skipped = true
		}
		if m, merr := ParseManifest(files[ManifestName]); merr == nil {
			res.ID = m.ID
		}
		return res
	}
	res.ID, res.ManifestDigest = p.Manifest.ID, p.ManifestDigest
	rc := p.Receipt
	res.Receipt = &rc
	roots := p.TrustRoots
	if o.TrustRoots != nil {
		roots = *o.TrustRoots
		res.RootsDiffer = !sameRoots(p.TrustRoots, roots)
	}

	// (2) proof_intact.
	rec, perr := verifyProof(p, roots)
	if perr != nil {
		proof.Reason = perr.Error()
		proof.ReasonZH = "电子数据包完整性校验未通过：" + perr.Error()
	} else {
		proof.Pass = true
		proof.Reason = fmt.Sprintf("the %d attachments match the manifest; the Merkle proof, block header and block signature verify against the %s trust roots of ledger %q (keys %s)",
			len(p.Manifest.Files), res.TrustRoots, rc.Ledger, strings.Join(rc.KeyIDs, ", "))
		proof.ReasonZH = fmt.Sprintf("电子数据包完整性校验通过：%d 个附件与清单一致，默克尔证明、区块头与区块签名均通过%s信任根校验", len(p.Manifest.Files), rootsZH(res.TrustRoots))
	}

	// (3) on_ledger.
	if err := onLedgerCheck(p); err != nil {
		onLedger.Reason = err.Error()
		onLedger.ReasonZH = "区块中未核验到该存证记录：" + err.Error()
	} else {
		onLedger.Pass = true
		onLedger.Reason = fmt.Sprintf("recorded on ledger %q in block %d (hash %s) at %s", rc.Ledger, rc.BlockNumber, rc.BlockHash, rc.LedgerTime)
		onLedger.ReasonZH = fmt.Sprintf("电子证据已在区块链存证：账本 %s，块高 %d，区块哈希 %s，存证时间 %s", rc.Ledger, rc.BlockNumber, rc.BlockHash, rc.LedgerTime)
	}

	// (4) digest_match.
	switch {
	case len(o.Digests) == 0 && p.Original != nil && perr == nil:
		// No original given by the holder, but the package embeds one:
		// compare it, with every algorithm the record holds.
		var ds []evidence.Digest
		for _, d := range rec.Digests {
			ds = append(ds, evidence.Sum(d.Algorithm, p.Original.Data))
		}
		c := verifier.CompareDigests(rec, ds)
		match.Pass = c.Pass
		match.Reason = "the original embedded in the package (" + p.Original.Name + "): " + c.Reason
		match.ReasonZH = "电子数据包内的原件（" + p.Original.Name + "）：" + c.ReasonZH
	case len(o.Digests) == 0:
		match.Skipped = true
		match.Reason = fmt.Sprintf("no original given: the recorded %s digest is %s (base64 %s)", rc.Algorithm, rc.DigestHex, rc.DigestBase64)
		match.ReasonZH = fmt.Sprintf("未提供原件，未比对：存证摘要（%s）为 %s", rc.Algorithm, rc.DigestHex)
	case perr != nil:
		match.Reason, match.ReasonZH = "the record cannot be trusted: its proof does not verify", "存证记录的证明无效，无法比对"
	default:
		c := verifier.CompareDigests(rec, o.Digests)
		match.Pass, match.Reason, match.ReasonZH = c.Pass, c.Reason, c.ReasonZH
	}

	switch {
	case !onLedger.Pass || !proof.Pass:
		res.Outcome = verifier.OutcomeBroken
	case !match.Pass && !match.Skipped:
		res.Outcome = verifier.OutcomeMismatch
	default:
		res.Outcome, res.Verdict = verifier.OutcomePass, verifier.VerdictPass
	}
	return res
}

// verifyProof is check 2: the receipt, then every block on its own, then
// the chain of consecutive blocks.
func verifyProof(p *Package, roots block.TrustRoots) (evidence.Record, error) {
	rc := p.Receipt
	var (
		rec evidence.Record
		err error
	)
	switch rc.Proof.Kind {
	case verifier.ProofFabric:
		b, ok := blockAt(p, rc.BlockNumber)
		if !ok || b.Kind != block.KindFabric {
			return rec, fmt.Errorf("%s: a Fabric receipt needs its block %s in the package", ReceiptName, BlockName(block.KindFabric, rc.BlockNumber))
		}
		rec, err = verifier.VerifyFabricBlock(rc, b.Raw, roots)
	default:
		rec, err = verifier.VerifyReceipt(rc, roots)
	}
	if err != nil {
		return rec, fmt.Errorf("%s: %w", ReceiptName, err)
	}
	// The receipt's remaining descriptive fields must agree with the
	// record the proof vouches for too.
	if rc.DocRef != rec.DocRef {
		return rec, fmt.Errorf("%s: receipt doc_ref: %q differs from the record's %q", ReceiptName, rc.DocRef, rec.DocRef)
	}
	if want := rec.SubmittedAt.UTC().Format(evidence.TimeLayout); rc.SubmittedAt != want {
		return rec, fmt.Errorf("%s: receipt submitted_at: %q differs from the record's %q", ReceiptName, rc.SubmittedAt, want)
	}
	var headers []block.Header
	for _, b := range p.Blocks {
		name := BlockName(b.Kind, b.Number)
		h, err := verifyBlock(b, rc, roots)
		if err != nil {
			return rec, fmt.Errorf("%s: %w", name, err)
		}
		headers = append(headers, h)
	}
	slices.SortFunc(headers, func(a, b block.Header) int { return cmpUint(a.Number, b.Number) })
	for i := 1; i < len(headers); i++ {
		if headers[i].Number == headers[i-1].Number+1 && !bytes.Equal(headers[i].PreviousHash, headers[i-1].Hash()) {
			return rec, fmt.Errorf("%s: previous_hash %x is not the hash of block %d (%x): the blocks do not chain",
				BlockName(p.Blocks[0].Kind, headers[i].Number), headers[i].PreviousHash, headers[i-1].Number, headers[i-1].Hash())
		}
	}
	return rec, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// verifyBlock checks one block on its own and returns its header.
func verifyBlock(b Block, rc verifier.Receipt, roots block.TrustRoots) (block.Header, error) {
	switch b.Kind {
	case block.KindEmbedded:
		eb, err := block.ParseEmbedded(b.Raw)
		if err != nil {
			return block.Header{}, err
		}
		if eb.Header.Number != b.Number {
			return block.Header{}, fmt.Errorf("holds block %d, the manifest says block %d", eb.Header.Number, b.Number)
		}
		if err := eb.Verify(roots); err != nil {
			return block.Header{}, err
		}
		return eb.Header, nil
	case block.KindFabric:
		fb, err := fabricblock.Parse(b.Raw)
		if err != nil {
			return block.Header{}, err
		}
		if fb.Header.Number != b.Number {
			return block.Header{}, fmt.Errorf("holds block %d, the manifest says block %d", fb.Header.Number, b.Number)
		}
		if err := fb.CheckDataHash(); err != nil {
			return block.Header{}, err
		}
		// The block holding the record was verified with the receipt
		// (transaction, endorsements, orderer signature); other Fabric
		// blocks are checked for their data hash only.
		return fb.Header, nil
	}
	return block.Header{}, fmt.Errorf("kind %q not supported", b.Kind)
}

// onLedgerCheck is check 3: the receipt's block is in the package, is the
// block the receipt names, and holds the record where the receipt says.
func onLedgerCheck(p *Package) error {
	rc := p.Receipt
	b, ok := blockAt(p, rc.BlockNumber)
	if !ok {
		return fmt.Errorf("the package holds no block %d, where the receipt places the record", rc.BlockNumber)
	}
	name := BlockName(b.Kind, b.Number)
	switch b.Kind {
	case block.KindEmbedded:
		eb, err := block.ParseEmbedded(b.Raw)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := verifier.ReceiptInBlock(rc, eb); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case block.KindFabric:
		fb, err := fabricblock.Parse(b.Raw)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if fb.Header.Number != rc.BlockNumber {
			return fmt.Errorf("%s: block is number %d, the receipt names %d", name, fb.Header.Number, rc.BlockNumber)
		}
		if got := hex.EncodeToString(fb.Header.Hash()); got != rc.BlockHash {
			return fmt.Errorf("%s: block %d hashes to %s, the receipt says %s", name, fb.Header.Number, got, rc.BlockHash)
		}
		if _, err := fb.FindTx(rc.TxID); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	default:
		return fmt.Errorf("%s: kind %q not supported", name, b.Kind)
	}
	return nil
}

func blockAt(p *Package, n uint64) (Block, bool) {
	for _, b := range p.Blocks {
		if b.Number == n {
			return b, true
		}
	}
	return Block{}, false
}

// sameRoots compares trust roots by ledger, kind, key IDs and Fabric MSPs.
func sameRoots(a, b block.TrustRoots) bool {
	if a.Ledger != b.Ledger || a.Kind != b.Kind || len(a.Keys) != len(b.Keys) {
		return false
	}
	for i := range a.Keys {
		if a.Keys[i] != b.Keys[i] {
			return false
		}
	}
	if (a.Fabric == nil) != (b.Fabric == nil) {
		return false
	}
	if a.Fabric != nil {
		return fabricEqual(*a.Fabric, *b.Fabric)
	}
	return true
}

func fabricEqual(a, b block.Fabric) bool {
	if a.Channel != b.Channel || a.Chaincode != b.Chaincode || a.Endorsers != b.Endorsers {
		return false
	}
	eq := func(x, y []block.MSP) bool {
		return slices.EqualFunc(x, y, func(m, n block.MSP) bool {
			return m.ID == n.ID && m.PeerOU == n.PeerOU && m.OrdererOU == n.OrdererOU &&
				slices.Equal(m.RootCerts, n.RootCerts) && slices.Equal(m.IntermediateCerts, n.IntermediateCerts)
		})
	}
	return eq(a.Orderers, b.Orderers) && eq(a.Orgs, b.Orgs)
}

func rootsZH(s string) string {
	if s == RootsPinned {
		return "您指定的"
	}
	return "证据包所附"
}
