// Package evpkg is the evidence package (电子证据包): the certificate PDF
// carrying, as attachments, everything needed to check a piece of evidence
// offline — the receipt, the raw block(s) holding the record, the trust
// roots — and a manifest of their SHA-256 digests. This package builds the
// attachments and checks them; taking them out of the PDF is the caller's
// job (any PDF tool: pdfdetach, qpdf, pdfcpu). It uses the standard library
// and the verifier alone, so a court can vendor it with the verifier.
//
// The byte format and the order of the checks are specified in
// docs/verification.md.
//
// Layout of a package's attachments:
//
//	manifest.json       {"format":"evidence-package","v":1,"id":…,"ledger":…,"ledger_kind":…,"files":[…]}
//	receipt.json        the receipt (verifier.Receipt JSON)
//	block-<n>.json      an embedded-ledger block, as stored (block.Embedded JSON)
//	block-<n>.pb        a Fabric block, as stored (protobuf common.Block)
//	trust-roots.json    the ledger's trust roots (block.TrustRoots JSON)
package evpkg

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// Format and Version identify the manifest; a reader refuses others.
const (
	Format  = "evidence-package"
	Version = 1
)

// Attachment names.
const (
	ManifestName   = "manifest.json"
	ReceiptName    = "receipt.json"
	TrustRootsName = "trust-roots.json"
)

// Roles of the files a manifest lists.
const (
	RoleReceipt    = "receipt"
	RoleBlock      = "block"
	RoleTrustRoots = "trust_roots"
	// RoleOriginal is the original evidence file itself, embedded
	// unchanged (a signed PDF keeps its signature: the certificate is a new
	// PDF that carries it). At most one; its name starts with "original".
	RoleOriginal = "original"
)

// Manifest lists a package's attachments other than itself.
type Manifest struct {
	Format     string  `json:"format"`
	Version    int     `json:"v"`
	ID         string  `json:"id"`
	Ledger     string  `json:"ledger"`
	LedgerKind string  `json:"ledger_kind"`
	Files      []Entry `json:"files"`
}

// Entry is one attachment in a manifest.
type Entry struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Kind and Number describe a block: its encoding and its number.
	Kind   string  `json:"kind,omitempty"`
	Number *uint64 `json:"number,omitempty"`
	Size   int64   `json:"size"`
	SHA256 string  `json:"sha256"` // lower-case hex of the file's bytes
}

// Block is a raw block as a ledger stores it.
type Block struct {
	Kind   string
	Number uint64
	Raw    []byte
}

// File is one attachment.
type File struct {
	Name        string
	Description string
	Data        []byte
}

// BlockName returns the attachment name of a block.
func BlockName(kind string, n uint64) string {
	ext := ".json"
	if kind == block.KindFabric {
		ext = ".pb"
	}
	return "block-" + strconv.FormatUint(n, 10) + ext
}

// Build returns the attachments of the package for a receipt: the
// receipt, the blocks (at least the one holding the record), the trust
// roots, and the manifest, last. The manifest's SHA-256 (see Digest) may be
// printed on the certificate to tie the page to the attachments.
//
// A Fabric receipt travels without its copy of the block (the block is its
// own attachment); an embedded one as it is.
//
// An original, if given (at most one), is embedded unchanged under its
// Name, which must start with "original".
func Build(rc verifier.Receipt, blocks []Block, roots block.TrustRoots, original ...File) ([]File, error) {
	if len(original) > 1 {
		return nil, errors.New("evpkg: at most one original")
	}
	if rc.ID == "" {
		return nil, errors.New("evpkg: receipt without an ID")
	}
	if !slices.ContainsFunc(blocks, func(b Block) bool { return b.Number == rc.BlockNumber }) {
		return nil, fmt.Errorf("evpkg: no block %d, which holds the record", rc.BlockNumber)
	}
	if rc.Proof.Kind == verifier.ProofFabric {
		rc = rc.WithoutBlock()
	}
	receipt, err := indent(rc.AppendJSON(nil))
	if err != nil {
		return nil, fmt.Errorf("evpkg: receipt: %w", err)
	}
	rootsJSON, err := json.MarshalIndent(roots, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("evpkg: trust roots: %w", err)
	}
	rootsJSON = append(rootsJSON, '\n')

	m := Manifest{Format: Format, Version: Version, ID: rc.ID, Ledger: rc.Ledger, LedgerKind: rc.LedgerKind}
	files := []File{{Name: ReceiptName, Description: "receipt (存证回执) of " + rc.ID, Data: receipt}}
	m.Files = append(m.Files, entry(ReceiptName, RoleReceipt, receipt))
	seen := map[string]bool{}
	for _, b := range blocks {
		if b.Kind != block.KindEmbedded && b.Kind != block.KindFabric {
			return nil, fmt.Errorf("evpkg: block %d: kind %q not supported", b.Number, b.Kind)
		}
		name := BlockName(b.Kind, b.Number)
		if seen[name] {
			return nil, fmt.Errorf("evpkg: block %d given twice", b.Number)
		}
		seen[name] = true
		files = append(files, File{Name: name, Description: fmt.Sprintf("%s block %d (区块) as stored by the ledger", b.Kind, b.Number), Data: b.Raw})
		e := entry(name, RoleBlock, b.Raw)
		n := b.Number
		e.Kind, e.Number = b.Kind, &n
		m.Files = append(m.Files, e)
	}
	files = append(files, File{Name: TrustRootsName, Description: "trust roots (信任根) of ledger " + roots.Ledger, Data: rootsJSON})
	m.Files = append(m.Files, entry(TrustRootsName, RoleTrustRoots, rootsJSON))
	for _, o := range original {
		if !validOriginalName(o.Name) {
			return nil, fmt.Errorf("evpkg: original named %q: want original or original.<ext>", o.Name)
		}
		files = append(files, File{Name: o.Name, Description: "the original evidence (原件), unchanged", Data: o.Data})
		m.Files = append(m.Files, entry(o.Name, RoleOriginal, o.Data))
	}

	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	mj = append(mj, '\n')
	files = append(files, File{Name: ManifestName, Description: "manifest (清单): SHA-256 of every attachment", Data: mj})
	return files, nil
}

func entry(name, role string, data []byte) Entry {
	return Entry{Name: name, Role: role, Size: int64(len(data)), SHA256: Digest(data)}
}

func indent(b []byte) ([]byte, error) {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// Digest returns the lower-case hex SHA-256 of b: a manifest entry's
// digest, the manifest digest, and the package fingerprint (证据数字指纹)
// when b is the whole package file.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// FileError is a problem with one attachment, named.
type FileError struct {
	Name string
	Err  error
}

func (e *FileError) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// Errors of the package's structure (wrapped in FileError).
var (
	ErrMissing    = errors.New("missing from the package")
	ErrUnlisted   = errors.New("attached but not listed in the manifest")
	ErrChanged    = errors.New("differs from the manifest: the attachment was changed")
	ErrManifest   = errors.New("invalid manifest")
	ErrAttachment = errors.New("invalid attachment")
	// ErrBlockOnly: kind or number on an entry that is not a block.
	ErrBlockOnly = errors.New("kind and number belong to block entries only")
)

// Package is a parsed package whose attachments match its manifest.
type Package struct {
	Manifest Manifest
	// ManifestDigest is the hex SHA-256 of manifest.json.
	ManifestDigest string
	Receipt        verifier.Receipt
	TrustRoots     block.TrustRoots
	// Blocks are in manifest order.
	Blocks []Block
	// Original is the embedded original evidence, if the package has one.
	Original *File
}

// ParseManifest decodes a manifest strictly (strict.Decode: exact names, no
// duplicates, no unknown members, nothing after the value): known format
// and version, well-formed entries, kind and number on block entries only.
func ParseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := strict.Decode(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("%w: %w", ErrManifest, err)
	}
	if m.Format != Format {
		return Manifest{}, fmt.Errorf("%w: format %q, want %q", ErrManifest, m.Format, Format)
	}
	if m.Version != Version {
		return Manifest{}, fmt.Errorf("%w: version %d not supported (this verifier reads %d)", ErrManifest, m.Version, Version)
	}
	names := map[string]bool{}
	roles := map[string]int{}
	for i, e := range m.Files {
		switch {
		case e.Name == "" || e.Name == ManifestName || strings.ContainsAny(e.Name, "/\\\x00"):
			return Manifest{}, fmt.Errorf("%w: file %d: name %q not allowed", ErrManifest, i, e.Name)
		case names[e.Name]:
			return Manifest{}, fmt.Errorf("%w: %s listed twice", ErrManifest, e.Name)
		case e.Size < 0:
			return Manifest{}, fmt.Errorf("%w: %s: negative size", ErrManifest, e.Name)
		case len(e.SHA256) != 64:
			return Manifest{}, fmt.Errorf("%w: %s: sha256 must be 64 lower-case hex digits", ErrManifest, e.Name)
		}
		if _, err := strict.Hex(e.SHA256); err != nil {
			return Manifest{}, fmt.Errorf("%w: %s: sha256: %w", ErrManifest, e.Name, err)
		}
		names[e.Name] = true
		roles[e.Role]++
		if e.Role != RoleBlock && (e.Kind != "" || e.Number != nil) {
			return Manifest{}, fmt.Errorf("%w: %s: %w", ErrManifest, e.Name, ErrBlockOnly)
		}
		switch e.Role {
		case RoleReceipt:
			if e.Name != ReceiptName {
				return Manifest{}, fmt.Errorf("%w: the receipt must be named %s, not %s", ErrManifest, ReceiptName, e.Name)
			}
		case RoleTrustRoots:
			if e.Name != TrustRootsName {
				return Manifest{}, fmt.Errorf("%w: the trust roots must be named %s, not %s", ErrManifest, TrustRootsName, e.Name)
			}
		case RoleOriginal:
			if !validOriginalName(e.Name) {
				return Manifest{}, fmt.Errorf("%w: the original must be named original or original.<ext>, not %s", ErrManifest, e.Name)
			}
		case RoleBlock:
			if e.Number == nil {
				return Manifest{}, fmt.Errorf("%w: block %s has no number", ErrManifest, e.Name)
			}
			if e.Kind != block.KindEmbedded && e.Kind != block.KindFabric {
				return Manifest{}, fmt.Errorf("%w: block %s: kind %q not supported", ErrManifest, e.Name, e.Kind)
			}
			if want := BlockName(e.Kind, *e.Number); e.Name != want {
				return Manifest{}, fmt.Errorf("%w: %s block %d must be named %s, not %s", ErrManifest, e.Kind, *e.Number, want, e.Name)
			}
		default:
			return Manifest{}, fmt.Errorf("%w: %s: role %q not supported", ErrManifest, e.Name, e.Role)
		}
	}
	if roles[RoleOriginal] > 1 {
		return Manifest{}, fmt.Errorf("%w: %d originals; a package holds at most one", ErrManifest, roles[RoleOriginal])
	}
	if roles[RoleReceipt] != 1 || roles[RoleTrustRoots] != 1 || roles[RoleBlock] < 1 {
		return Manifest{}, fmt.Errorf("%w: want one receipt, one trust roots file and at least one block; it lists %d, %d and %d",
			ErrManifest, roles[RoleReceipt], roles[RoleTrustRoots], roles[RoleBlock])
	}
	return m, nil
}

// validOriginalName accepts "original" and "original.<ext>" with a short
// alphanumeric extension.
func validOriginalName(name string) bool {
	if name == "original" {
		return true
	}
	ext, ok := strings.CutPrefix(name, "original.")
	if !ok || len(ext) == 0 || len(ext) > 8 {
		return false
	}
	for _, c := range ext {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Parse checks the attachments against the manifest (every listed file
// present with its size and SHA-256, nothing unlisted) and decodes them.
// It checks no signature: see Verify. Errors name the attachment
// (FileError).
func Parse(files map[string][]byte) (*Package, error) {
	mb, ok := files[ManifestName]
	if !ok {
		return nil, &FileError{ManifestName, ErrMissing}
	}
	m, err := ParseManifest(mb)
	if err != nil {
		return nil, &FileError{ManifestName, err}
	}
	p := &Package{Manifest: m, ManifestDigest: Digest(mb)}
	listed := map[string]bool{ManifestName: true}
	for _, e := range m.Files {
		listed[e.Name] = true
		b, ok := files[e.Name]
		if !ok {
			return nil, &FileError{e.Name, ErrMissing}
		}
		if got := Digest(b); got != e.SHA256 || int64(len(b)) != e.Size {
			return nil, &FileError{e.Name, fmt.Errorf("%w (SHA-256 %s, %d bytes; the manifest says %s, %d bytes)", ErrChanged, got, len(b), e.SHA256, e.Size)}
		}
	}
	var unlisted []string
	for name := range files {
		if !listed[name] {
			unlisted = append(unlisted, name)
		}
	}
	if len(unlisted) > 0 {
		slices.Sort(unlisted)
		return nil, &FileError{strings.Join(unlisted, ", "), ErrUnlisted}
	}
	for _, e := range m.Files {
		b := files[e.Name]
		switch e.Role {
		case RoleReceipt:
			if p.Receipt, err = verifier.ParseReceipt(b); err != nil {
				return nil, &FileError{e.Name, fmt.Errorf("%w: %w", ErrAttachment, err)}
			}
		case RoleTrustRoots:
			if p.TrustRoots, err = block.ParseTrustRoots(b); err != nil {
				return nil, &FileError{e.Name, fmt.Errorf("%w: %w", ErrAttachment, err)}
			}
		case RoleBlock:
			p.Blocks = append(p.Blocks, Block{Kind: e.Kind, Number: *e.Number, Raw: b})
		case RoleOriginal:
			p.Original = &File{Name: e.Name, Data: b}
		}
	}
	if p.Receipt.ID != m.ID {
		return nil, &FileError{ReceiptName, fmt.Errorf("%w: receipt of %q in a package of %q", ErrAttachment, p.Receipt.ID, m.ID)}
	}
	if p.Receipt.Ledger != m.Ledger || p.Receipt.LedgerKind != m.LedgerKind {
		return nil, &FileError{ManifestName, fmt.Errorf("%w: ledger %q (%s), but the receipt's is %q (%s)", ErrManifest, m.Ledger, m.LedgerKind, p.Receipt.Ledger, p.Receipt.LedgerKind)}
	}
	return p, nil
}
