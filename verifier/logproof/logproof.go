// Package logproof checks the node's transparency log offline: C2SP
// checkpoints (c2sp.org/tlog-checkpoint) signed by the log's Ed25519 key
// and cosigned by witnesses (c2sp.org/tlog-cosignature, cosignature/v1),
// and RFC 6962 inclusion and consistency proofs against them.
//
// A checkpoint is a signed note (c2sp.org/signed-note) whose text is
// exactly three lines:
//
//	<origin>            the log's name (the ledger name)
//	<tree size>         decimal, no leading zeros
//	<root hash>         base64 (standard, padded) of 32 bytes
//
// The log's leaves are the canonical encodings of the ledger's records in
// ledger order; leaf hash = SHA-256(0x00 || record), node hash =
// SHA-256(0x01 || left || right) (RFC 6962 §2.1).
package logproof

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// MaxCheckpoint bounds a signed checkpoint (with its cosignatures) read by
// this package.
const MaxCheckpoint = 16 << 10

// MaxProof bounds the hashes of a proof (a tree of 2^63 leaves needs 63
// for inclusion, at most 2·63 for consistency).
const MaxProof = 128

// ErrCheckpoint means a checkpoint is malformed or its signatures do not
// verify.
var ErrCheckpoint = errors.New("checkpoint")

// Checkpoint is the text of a checkpoint.
type Checkpoint struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
}

// Body is the checkpoint's note text.
func (c Checkpoint) Body() string {
	return c.Origin + "\n" + strconv.FormatUint(c.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(c.Root) + "\n"
}

// ParseBody reads a checkpoint's note text strictly: three lines, each
// ended by a newline, a canonical decimal size and a canonical base64
// 32-byte root. Extension lines are refused (this log writes none).
func ParseBody(text string) (Checkpoint, error) {
	if len(text) > MaxCheckpoint {
		return Checkpoint{}, fmt.Errorf("%w: %d bytes", ErrCheckpoint, len(text))
	}
	lines := strings.SplitAfter(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, fmt.Errorf("%w: want 3 lines each ended by a newline, origin, size, root", ErrCheckpoint)
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	sizeLine := strings.TrimSuffix(lines[1], "\n")
	rootLine := strings.TrimSuffix(lines[2], "\n")
	if origin == "" {
		return Checkpoint{}, fmt.Errorf("%w: empty origin", ErrCheckpoint)
	}
	size, err := strconv.ParseUint(sizeLine, 10, 64)
	if err != nil || strconv.FormatUint(size, 10) != sizeLine {
		return Checkpoint{}, fmt.Errorf("%w: tree size %q", ErrCheckpoint, sizeLine)
	}
	root, err := base64.StdEncoding.DecodeString(rootLine)
	if err != nil || len(root) != 32 || base64.StdEncoding.EncodeToString(root) != rootLine {
		return Checkpoint{}, fmt.Errorf("%w: root hash %q: want base64 of 32 bytes", ErrCheckpoint, rootLine)
	}
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

// Cosignature is a witness's verified cosignature on a checkpoint.
type Cosignature struct {
	// Name is the witness's key name; Key its verifier key as trusted.
	Name string `json:"name"`
	Key  string `json:"key"`
	// Time is when the witness cosigned (cosignature/v1 timestamp).
	Time time.Time `json:"time"`
}

// Verified is a checkpoint whose log signature verified, with the
// cosignatures of the trusted witnesses found on it.
type Verified struct {
	Checkpoint
	Cosignatures []Cosignature `json:"cosignatures"`
}

// Open checks a signed checkpoint: its text (ParseBody), its origin, a
// valid signature by the log key logKey (a note verifier key, Ed25519),
// and collects the valid cosignatures of the witnesses whose
// cosignature/v1 verifier keys are in witnessKeys. Signature lines by
// other keys are ignored; a line by a trusted key that does not verify is
// an error. All errors are ErrCheckpoint.
func Open(signed []byte, origin, logKey string, witnessKeys []string) (Verified, error) {
	return OpenKeys(signed, origin, []Key{{Key: logKey, Signed: AnySize}}, witnessKeys)
}

// ErrInclusion and ErrConsistency mean a proof does not lead to the
// root it must.
var (
	ErrInclusion   = errors.New("inclusion proof does not verify")
	ErrConsistency = errors.New("consistency proof does not verify")
)

// LeafHash is the RFC 6962 leaf hash of a record's canonical encoding.
func LeafHash(leaf []byte) []byte { return rfc6962.DefaultHasher.HashLeaf(leaf) }

// VerifyInclusion checks that leaf is at index in the tree of size size
// with root hash root.
func VerifyInclusion(leaf []byte, index, size uint64, prf [][]byte, root []byte) error {
	if len(prf) > MaxProof {
		return fmt.Errorf("%w: %d hashes", ErrInclusion, len(prf))
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, size, LeafHash(leaf), prf, root); err != nil {
		return fmt.Errorf("%w: leaf %d in the tree of size %d: %v", ErrInclusion, index, size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree of size old with root oldRoot is
// a prefix of the tree of size new with root newRoot.
func VerifyConsistency(old, new uint64, prf [][]byte, oldRoot, newRoot []byte) error {
	if len(prf) > MaxProof {
		return fmt.Errorf("%w: %d hashes", ErrConsistency, len(prf))
	}
	if old == new && !bytes.Equal(oldRoot, newRoot) {
		return fmt.Errorf("%w: two trees of size %d with different roots", ErrConsistency, old)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old, new, prf, oldRoot, newRoot); err != nil {
		return fmt.Errorf("%w: the tree of size %d is not a prefix of the tree of size %d (%v)", ErrConsistency, old, new, shortErr(err))
	}
	return nil
}

// MaxProofText bounds a tlog-proof document.
const MaxProofText = MaxCheckpoint + 4<<10

// Proof is a c2sp.org/tlog-proof: a leaf index, its RFC 6962 inclusion
// proof and the (cosigned) checkpoint it leads to.
//
//	c2sp.org/tlog-proof@v1
//	index <leaf index>
//	<base64 hash>          one a line, the inclusion proof
//	                       (an empty line)
//	<checkpoint>           the signed note, with its cosignatures
type Proof struct {
	Index      uint64
	Hashes     [][]byte
	Checkpoint []byte
}

const proofHeader = "c2sp.org/tlog-proof@v1\n"

// Marshal writes the proof (no extra line).
func (p Proof) Marshal() string {
	var b strings.Builder
	b.WriteString(proofHeader)
	b.WriteString("index " + strconv.FormatUint(p.Index, 10) + "\n")
	for _, h := range p.Hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(p.Checkpoint)
	return b.String()
}

// ErrProof means a tlog-proof is malformed.
var ErrProof = errors.New("tlog-proof")

// ParseProof reads a tlog-proof strictly: the header, no extra line, a
// canonical index, at most MaxProof canonical base64 32-byte hashes, an
// empty line and a checkpoint ending in a newline (its signatures are
// checked by Open).
func ParseProof(s string) (Proof, error) {
	if len(s) > MaxProofText {
		return Proof{}, fmt.Errorf("%w: %d bytes (at most %d)", ErrProof, len(s), MaxProofText)
	}
	rest, ok := strings.CutPrefix(s, proofHeader)
	if !ok {
		return Proof{}, fmt.Errorf("%w: no %q line", ErrProof, strings.TrimSpace(proofHeader))
	}
	line := func() (string, bool) {
		l, r, ok := strings.Cut(rest, "\n")
		rest = r
		return l, ok
	}
	l, _ := line()
	idxText, ok := strings.CutPrefix(l, "index ")
	idx, err := strconv.ParseUint(idxText, 10, 64)
	if !ok || err != nil || strconv.FormatUint(idx, 10) != idxText {
		return Proof{}, fmt.Errorf("%w: want \"index N\", got %q", ErrProof, clip(l))
	}
	p := Proof{Index: idx}
	for {
		l, ok := line()
		if !ok {
			return Proof{}, fmt.Errorf("%w: no empty line before the checkpoint", ErrProof)
		}
		if l == "" {
			break
		}
		h, err := base64.StdEncoding.DecodeString(l)
		if err != nil || len(h) != 32 || base64.StdEncoding.EncodeToString(h) != l {
			return Proof{}, fmt.Errorf("%w: hash %q: want base64 of 32 bytes", ErrProof, clip(l))
		}
		if len(p.Hashes) == MaxProof {
			return Proof{}, fmt.Errorf("%w: more than %d hashes", ErrProof, MaxProof)
		}
		p.Hashes = append(p.Hashes, h)
	}
	if rest == "" || !strings.HasSuffix(rest, "\n") {
		return Proof{}, fmt.Errorf("%w: no checkpoint after the proof", ErrProof)
	}
	p.Checkpoint = []byte(rest)
	return p, nil
}

// Trust is what a verifier trusts of a log: its origin and key, the
// witnesses it accepts cosignatures from, and how many of them must have
// cosigned (Quorum; 0 with no witnesses). Keys, when given, are the log's
// keys with the sizes each signs (a rotated key; OpenKeys), and Key is
// not used; else Key signs every size.
type Trust struct {
	Origin    string
	Key       string
	Keys      []Key
	Witnesses []string
	Quorum    int
}

// LogKeys are the log keys of the trust: Keys, or Key for every size.
func (tr Trust) LogKeys() []Key {
	if len(tr.Keys) > 0 {
		return tr.Keys
	}
	return []Key{{Key: tr.Key, Signed: AnySize}}
}

// ErrQuorum means a checkpoint lacks the cosignatures the verifier asks
// for.
var ErrQuorum = errors.New("too few trusted witnesses cosigned the checkpoint")

// VerifyProof checks that leaf is in the log by the tlog-proof text: the
// checkpoint verifies under the trust (Open, and at least Quorum trusted
// cosignatures) and the inclusion proof leads from leaf to its root.
func VerifyProof(leaf []byte, text string, tr Trust) (Verified, Proof, error) {
	p, err := ParseProof(text)
	if err != nil {
		return Verified{}, Proof{}, err
	}
	v, err := OpenKeys(p.Checkpoint, tr.Origin, tr.LogKeys(), tr.Witnesses)
	if err != nil {
		return Verified{}, p, err
	}
	if len(v.Cosignatures) < tr.Quorum {
		var names []string
		for _, c := range v.Cosignatures {
			names = append(names, c.Name)
		}
		which := ""
		if len(names) > 0 {
			which = " (" + strings.Join(names, ", ") + ")"
		}
		return v, p, fmt.Errorf("%w: %d of the %d trusted cosigned it%s, %d needed", ErrQuorum, len(v.Cosignatures), len(tr.Witnesses), which, tr.Quorum)
	}
	if err := VerifyInclusion(leaf, p.Index, v.Size, p.Hashes, v.Root); err != nil {
		return v, p, err
	}
	return v, p, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// ParseWitnessKey checks a witness's cosignature/v1 verifier key and
// returns its name.
func ParseWitnessKey(k string) (string, error) {
	v, err := fnote.NewVerifierForCosignatureV1(k)
	if err != nil {
		return "", fmt.Errorf("witness key %q: %v", clip(k), err)
	}
	return v.Name(), nil
}

// shortErr is a merkle error without its byte dumps.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.Index(s, ":"); i > 0 && strings.Contains(s, "[") {
		return s[:i]
	}
	return s
}
