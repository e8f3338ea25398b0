package evpkg

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
	"github.com/evidence-node/evidence-node/verifier/pdfsig"
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
	// TSARoots pins the TSA roots (PEM certificates, block.TrustRoots
	// tsa_roots) the receipt's trusted timestamps are checked against, in
	// place of those of the trust roots in use (pinned or packaged).
	TSARoots []string
	// WitnessKeys are the cosignature/v1 keys of the witnesses the
	// verifier trusts, in place of those the trust roots list for the
	// transparency log; WitnessQuorum of them (default 1 when keys are
	// given) must have cosigned the receipt's checkpoint.
	WitnessKeys   []string
	WitnessQuorum int
	// Unreadable says why the attachments could not be taken out of the
	// package file (it is not a PDF, or a broken one): the package is then
	// judged not intact.
	Unreadable error
	// Document is the package file itself. With it, its PDF signature is
	// checked first (CheckDocumentSigned): it must cover every byte, with
	// nothing appended after it, and be made by a document signer of the
	// trust roots.
	Document []byte
}

// CheckDocumentSigned names the check of a package file's PDF signature.
const CheckDocumentSigned = "document_signed" // 证据包文件签名完好

// Trust root sources.
const (
	RootsPinned   = "pinned"
	RootsPackaged = "packaged"
)

// Result is the answer of an offline package verification: the same three
// checks as the node's POST /api/v1/verify, in the same order.
type Result struct {
	Verdict string           `json:"verdict"`
	Outcome string           `json:"outcome"`
	ID      string           `json:"id"`
	Checks  []verifier.Check `json:"checks"`
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
	RootsDiffer bool `json:"packaged_roots_differ,omitempty"`
	// TSARoots says which TSA roots the trusted timestamps were checked
	// against: pinned (Options.TSARoots, or with pinned trust roots) or
	// packaged.
	TSARoots string            `json:"tsa_roots,omitempty"`
	Receipt  *verifier.Receipt `json:"receipt,omitempty"`
	// Document is the check of the package file's PDF signature, when
	// the file was given (Options.Document); a failure fails the verdict.
	Document *verifier.Check `json:"document,omitempty"`
	// Signer is the key ID that signed the package file.
	Signer string `json:"signer,omitempty"`
	// Log is the receipt's verified place in the transparency log, when
	// it carries a log proof and proof_intact passed.
	Log *verifier.LogInclusion `json:"log,omitempty"`
}

// Pass reports whether the verdict is pass.
func (r Result) Pass() bool { return r.Verdict == verifier.VerdictPass }

// Verify checks a package's attachments (name → bytes), with no network,
// in this order (docs/verification.md), and lets verifier.Judge assemble
// the verdict:
//
//  1. the manifest: every listed attachment present with its size and
//     SHA-256, nothing unlisted (Parse);
//  2. proof_intact: every packaged block verifies on its own (embedded:
//     data hash over its records and seal; Fabric: data hash) and
//     consecutive blocks chain; the receipt verifies against the trust
//     roots (verifier.VerifyReceipt: record, Merkle audit path, header
//     hash, block signatures; a Fabric receipt against its packaged block);
//  3. on_ledger: the block at the receipt's position is in the package,
//     has the receipt's number and hash, and holds the record at the
//     receipt's leaf index (Fabric: the receipt's transaction);
//  4. digest_match: with Options.Digests, a digest of the original equals
//     the record's digest of its algorithm; without, the package's
//     embedded original if it has one; else skipped.
//
// Every failure is reported in its check's reason, naming the attachment
// or receipt field; Verify itself does not fail.
func Verify(files map[string][]byte, o Options) Result {
	res := Result{TrustRoots: RootsPackaged}
	if o.TrustRoots != nil {
		res.TrustRoots = RootsPinned
	}
	res.TSARoots = res.TrustRoots
	if o.TSARoots != nil {
		res.TSARoots = RootsPinned
	}
	c := verifier.Case{Digests: o.Digests}
	p, err := Parse(files)
	switch {
	case o.Unreadable != nil:
		c.Integrity = o.Unreadable
	case err != nil:
		c.Integrity = err
		if m, merr := ParseManifest(files[ManifestName]); merr == nil {
			c.ID = m.ID
		}
	default:
		c.ID, res.ManifestDigest = p.Manifest.ID, p.ManifestDigest
		rc := p.Receipt
		c.Receipt = &rc
		c.Roots = p.TrustRoots
		if o.TrustRoots != nil {
			c.Roots = *o.TrustRoots
			res.RootsDiffer = !sameRoots(p.TrustRoots, c.Roots)
		}
		if o.TSARoots != nil {
			c.Roots.TSARoots = o.TSARoots
		}
		if o.WitnessKeys != nil {
			if c.Roots.Log == nil {
				c.Integrity = errors.New("witness keys were given, but the trust roots name no transparency log")
			} else {
				lg := *c.Roots.Log
				lg.Witnesses, lg.Quorum = o.WitnessKeys, max(o.WitnessQuorum, 1)
				c.Roots.Log = &lg
			}
		}
		c.RootsName = verifier.Text{EN: "the " + res.TrustRoots + " trust roots", ZH: rootsZH(res.TrustRoots) + "信任根"}
		c.Intact = verifier.Text{
			EN: fmt.Sprintf("the %d attachments match the manifest; ", len(p.Manifest.Files)),
			ZH: fmt.Sprintf("%d 个附件与清单一致，", len(p.Manifest.Files)),
		}
		c.Blocks = verifyBlocks(p, c.Roots)
		if b, ok := blockAt(p, rc.BlockNumber); ok {
			c.Block = &verifier.RawBlock{Kind: b.Kind, Raw: b.Raw, Name: BlockName(b.Kind, b.Number)}
		} else {
			c.BlockErr = fmt.Errorf("the package holds no block %d, where the receipt places the record", rc.BlockNumber)
		}
		if p.Original != nil {
			c.Original, c.OriginalName = p.Original.Data, p.Original.Name
		}
	}
	v := verifier.Judge(c)
	res.Verdict, res.Outcome, res.ID, res.Checks, res.Receipt = v.Verdict, v.Outcome, v.ID, v.Checks, v.Receipt
	if v.Receipt != nil && len(v.Checks) == 3 && v.Checks[2].Pass {
		res.Log, _ = verifier.VerifyLogProof(*v.Receipt, c.Roots)
	}
	if o.Document != nil {
		roots := o.TrustRoots
		if roots == nil && p != nil {
			roots = &p.TrustRoots
		}
		d := documentSigned(o.Document, roots)
		res.Document, res.Signer = &d.Check, d.signer
		if !d.Pass {
			res.Verdict, res.Outcome = verifier.VerdictFail, verifier.OutcomeBroken
		}
	}
	return res
}

type docCheck struct {
	verifier.Check
	signer string
}

// documentSigned checks the package file's PDF signature: it binds every
// byte of the file and was made by a document signer of roots (nil: the
// roots are unknown, so the signer cannot be trusted).
func documentSigned(doc []byte, roots *block.TrustRoots) docCheck {
	c := docCheck{Check: verifier.Check{Name: CheckDocumentSigned}}
	sig, err := pdfsig.Verify(doc)
	if err != nil {
		c.Reason = "the package file's signature does not bind the file: " + err.Error()
		c.ReasonZH = "证据包文件签名校验未通过，文件可能已被修改：" + err.Error()
		return c
	}
	c.signer = sig.KeyID
	if roots == nil {
		c.Reason = fmt.Sprintf("the file is signed by key %s and unchanged since, but no trust roots say who that is", sig.KeyID)
		c.ReasonZH = "证据包文件签名完好，但无可用的信任根确认签署者"
		return c
	}
	if _, err := roots.FindSigner(sig.KeyID); err != nil {
		c.Reason = "the package file is signed, but not by a document signer of the trust roots: " + err.Error()
		c.ReasonZH = "证据包文件的签署者不在信任根之列"
		return c
	}
	c.Pass = true
	c.Reason = fmt.Sprintf("the PDF signature covers every byte of the file (nothing changed or appended since) and was made by document signer %s (%s)", sig.KeyID, sig.Certificate.Subject.CommonName)
	c.ReasonZH = fmt.Sprintf("证据包文件签名完好：签名覆盖文件全部字节，签署后未被修改或追加，签署者 %s", sig.KeyID)
	return c
}

// verifyBlocks checks every packaged block on its own, then the chain of
// consecutive blocks.
func verifyBlocks(p *Package, roots block.TrustRoots) error {
	var headers []block.Header
	for _, b := range p.Blocks {
		name := BlockName(b.Kind, b.Number)
		h, err := verifyBlock(b, roots)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		headers = append(headers, h)
	}
	slices.SortFunc(headers, func(a, b block.Header) int { return cmpUint(a.Number, b.Number) })
	for i := 1; i < len(headers); i++ {
		if headers[i].Number == headers[i-1].Number+1 && !bytes.Equal(headers[i].PreviousHash, headers[i-1].Hash()) {
			return fmt.Errorf("%s: previous_hash %x is not the hash of block %d (%x): the blocks do not chain",
				BlockName(p.Blocks[0].Kind, headers[i].Number), headers[i].PreviousHash, headers[i-1].Number, headers[i-1].Hash())
		}
	}
	return nil
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
func verifyBlock(b Block, roots block.TrustRoots) (block.Header, error) {
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
		// The block holding the record is verified with the receipt
		// (transaction, endorsements, orderer signature); other Fabric
		// blocks are checked for their data hash only.
		return fb.Header, nil
	}
	return block.Header{}, fmt.Errorf("kind %q not supported", b.Kind)
}

func blockAt(p *Package, n uint64) (Block, bool) {
	for _, b := range p.Blocks {
		if b.Number == n {
			return b, true
		}
	}
	return Block{}, false
}

// sameRoots compares trust roots by ledger, kind, keys, TSA roots and
// Fabric MSPs.
func sameRoots(a, b block.TrustRoots) bool {
	if a.Ledger != b.Ledger || a.Kind != b.Kind || len(a.Keys) != len(b.Keys) || !slices.Equal(a.TSARoots, b.TSARoots) {
		return false
	}
	for i := range a.Keys {
		if !sameKey(a.Keys[i], b.Keys[i]) {
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

// sameKey compares keys by value (their sealed ranges too).
func sameKey(a, b block.Key) bool {
	if a.ID != b.ID || a.Algorithm != b.Algorithm || a.PublicKey != b.PublicKey || (a.Sealed == nil) != (b.Sealed == nil) {
		return false
	}
	if a.Sealed == nil {
		return true
	}
	x, y := *a.Sealed, *b.Sealed
	return x.First == y.First && (x.Last == nil) == (y.Last == nil) && (x.Last == nil || *x.Last == *y.Last)
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
