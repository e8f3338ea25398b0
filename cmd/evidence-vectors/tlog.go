package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-node/evidence-node/verifier/logproof"
)

// TlogCase is a case of the transparency log (docs/transparency-log.md):
// an RFC 6962 inclusion proof (kind "inclusion": leaf, index, size,
// proof, root), a consistency proof ("consistency": old, new, proof,
// old_root, root) or a c2sp.org/tlog-proof with its signed checkpoint
// ("tlog_proof": leaf, tlog_proof, origin, log_key or log_keys; valid
// when the checkpoint verifies under the log key — every log key that
// signed it signs its size — and the proof leads from the leaf to its
// root). Hashes and leaves are base64.
type TlogCase struct {
	Desc      string   `json:"desc"`
	Kind      string   `json:"kind"`
	Leaf      string   `json:"leaf,omitempty"`
	Index     uint64   `json:"index,omitempty"`
	Size      uint64   `json:"size,omitempty"`
	Old       uint64   `json:"old,omitempty"`
	Proof     []string `json:"proof,omitempty"`
	OldRoot   string   `json:"old_root,omitempty"`
	Root      string   `json:"root,omitempty"`
	TlogProof string   `json:"tlog_proof,omitempty"`
	Origin    string   `json:"origin,omitempty"`
	LogKey    string   `json:"log_key,omitempty"`
	// LogKeys, when given, are the log's keys after a rotation, each with
	// the tree sizes it signs (trust roots' log.keys); log_key is then
	// the current one, not used by the check.
	LogKeys []logproof.Key `json:"log_keys,omitempty"`
	// Witnesses (cosignature/v1 keys) and Quorum: how many of them must
	// have cosigned the checkpoint.
	Witnesses []string `json:"witnesses,omitempty"`
	Quorum    int      `json:"quorum,omitempty"`
	Valid     bool     `json:"valid"`
	Reason    string   `json:"reason,omitempty"`
}

func b64s(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h)
	}
	return out
}

// genTlog: a log over the fixture's records (in ledger order) and a few
// more, with a fixed Ed25519 log key.
func genTlog(f *fixture) File[TlogCase] {
	tree := testonly.New(rfc6962.DefaultHasher)
	var leaves [][]byte
	for _, b := range f.blocks {
		leaves = append(leaves, b.Records...)
	}
	for i := 0; len(leaves) < 11; i++ {
		leaves = append(leaves, []byte(fmt.Sprintf(`{"filler":%d}`, i)))
	}
	for _, l := range leaves {
		tree.AppendData(l)
	}
	size := tree.Size()
	enc := base64.StdEncoding.EncodeToString
	inc := func(i uint64) [][]byte {
		p, err := tree.InclusionProof(i, size)
		if err != nil {
			panic(err)
		}
		return p
	}
	cons := func(old uint64) [][]byte {
		p, err := tree.ConsistencyProof(old, size)
		if err != nil {
			panic(err)
		}
		return p
	}
	root := enc(tree.Hash())
	flip := func(hs [][]byte, i int) [][]byte {
		out := make([][]byte, len(hs))
		for j := range hs {
			out[j] = bytes.Clone(hs[j])
		}
		out[i][0] ^= 1
		return out
	}
	file := File[TlogCase]{Kind: "tlog", Version: 1,
		Note: "the transparency log: RFC 6962 inclusion and consistency proofs over records in ledger order, and c2sp.org/tlog-proof documents with an Ed25519-signed checkpoint (docs/transparency-log.md)"}
	add := func(c TlogCase) { file.Cases = append(file.Cases, c) }
	for _, i := range []uint64{0, 3, 7, size - 1} {
		add(TlogCase{Desc: fmt.Sprintf("leaf %d of %d", i, size), Kind: "inclusion", Leaf: enc(leaves[i]), Index: i, Size: size, Proof: b64s(inc(i)), Root: root, Valid: true})
	}
	add(TlogCase{Desc: "a proof hash altered", Kind: "inclusion", Leaf: enc(leaves[3]), Index: 3, Size: size, Proof: b64s(flip(inc(3), 1)), Root: root, Reason: "inclusion"})
	add(TlogCase{Desc: "another leaf", Kind: "inclusion", Leaf: enc(leaves[4]), Index: 3, Size: size, Proof: b64s(inc(3)), Root: root, Reason: "inclusion"})
	add(TlogCase{Desc: "the right proof, the wrong index", Kind: "inclusion", Leaf: enc(leaves[3]), Index: 2, Size: size, Proof: b64s(inc(3)), Root: root, Reason: "inclusion"})
	add(TlogCase{Desc: "a hash too many", Kind: "inclusion", Leaf: enc(leaves[3]), Index: 3, Size: size, Proof: b64s(append(inc(3), make([]byte, 32))), Root: root, Reason: "inclusion"})
	for _, old := range []uint64{1, 4, 6, size - 1, size} {
		add(TlogCase{Desc: fmt.Sprintf("from %d to %d", old, size), Kind: "consistency", Old: old, Size: size, Proof: b64s(cons(old)), OldRoot: enc(tree.HashAt(old)), Root: root, Valid: true})
	}
	add(TlogCase{Desc: "a proof hash altered", Kind: "consistency", Old: 6, Size: size, Proof: b64s(flip(cons(6), 0)), OldRoot: enc(tree.HashAt(6)), Root: root, Reason: "consistency"})
	add(TlogCase{Desc: "another old tree (a fork)", Kind: "consistency", Old: 6, Size: size, Proof: b64s(cons(6)), OldRoot: enc(tree.HashAt(5)), Root: root, Reason: "consistency"})
	add(TlogCase{Desc: "same size, different roots", Kind: "consistency", Old: size, Size: size, Proof: []string{}, OldRoot: enc(tree.HashAt(size - 1)), Root: root, Reason: "consistency"})

	// tlog-proof documents: a checkpoint signed by a fixed log key.
	vkey, signer := fixedLogKey("evidence-node docs/vectors log key")
	signed, err := note.Sign(&note.Note{Text: logproof.Checkpoint{Origin: ledgerName, Size: size, Root: tree.Hash()}.Body()}, signer)
	if err != nil {
		panic(err)
	}
	good := logproof.Proof{Index: 3, Hashes: inc(3), Checkpoint: signed}.Marshal()
	add(TlogCase{Desc: "record 3 in a signed checkpoint", Kind: "tlog_proof", Leaf: enc(leaves[3]), TlogProof: good, Origin: ledgerName, LogKey: vkey, Valid: true})
	add(TlogCase{Desc: "another record", Kind: "tlog_proof", Leaf: enc(leaves[2]), TlogProof: good, Origin: ledgerName, LogKey: vkey, Reason: "inclusion"})
	other := logproof.Checkpoint{Origin: ledgerName, Size: size, Root: tree.HashAt(size - 1)}.Body()
	forged := bytes.Replace(signed, []byte(logproof.Checkpoint{Origin: ledgerName, Size: size, Root: tree.Hash()}.Body()), []byte(other), 1)
	add(TlogCase{Desc: "the checkpoint's root changed, its signature kept", Kind: "tlog_proof", Leaf: enc(leaves[3]), TlogProof: logproof.Proof{Index: 3, Hashes: inc(3), Checkpoint: forged}.Marshal(), Origin: ledgerName, LogKey: vkey, Reason: "checkpoint"})
	add(TlogCase{Desc: "another origin", Kind: "tlog_proof", Leaf: enc(leaves[3]), TlogProof: good, Origin: ledgerName + "-2", LogKey: vkey, Reason: "checkpoint"})
	add(TlogCase{Desc: "an index with a leading zero", Kind: "tlog_proof", Leaf: enc(leaves[3]), TlogProof: string(bytes.Replace([]byte(good), []byte("index 3\n"), []byte("index 03\n"), 1)), Origin: ledgerName, LogKey: vkey, Reason: "tlog_proof"})
	add(TlogCase{Desc: "an extra line", Kind: "tlog_proof", Leaf: enc(leaves[3]), TlogProof: string(bytes.Replace([]byte(good), []byte("@v1\n"), []byte("@v1\nextra AA==\n"), 1)), Origin: ledgerName, LogKey: vkey, Reason: "tlog_proof"})
	wseed := sha256.Sum256([]byte("evidence-node docs/vectors witness key"))
	wpub := ed25519.NewKeyFromSeed(wseed[:]).Public().(ed25519.PublicKey)
	wcos := "witness.example+" + cosigKeyHash("witness.example", wpub) + "+" + enc(append([]byte{4}, wpub...))
	add(TlogCase{Desc: "a quorum of 1 trusted witness, no cosignature", Kind: "tlog_proof", Leaf: enc(leaves[3]), TlogProof: good, Origin: ledgerName, LogKey: vkey, Witnesses: []string{wcos}, Quorum: 1, Reason: "quorum"})
	add(TlogCase{Desc: "a trusted witness, none required", Kind: "tlog_proof", Leaf: enc(leaves[3]), TlogProof: good, Origin: ledgerName, LogKey: vkey, Witnesses: []string{wcos}, Valid: true})

	// A rotated log key (log_keys: each key with the tree sizes it
	// signs): the old key (vkey) and a new one (vkey2) from size 5.
	vkey2, signer2 := fixedLogKey("evidence-node docs/vectors log key 2")
	both, err := note.Sign(&note.Note{Text: logproof.Checkpoint{Origin: ledgerName, Size: size, Root: tree.Hash()}.Body()}, signer2, signer)
	if err != nil {
		panic(err)
	}
	newOnly, err := note.Sign(&note.Note{Text: logproof.Checkpoint{Origin: ledgerName, Size: size, Root: tree.Hash()}.Body()}, signer2)
	if err != nil {
		panic(err)
	}
	proofTo := func(cp []byte) string { return logproof.Proof{Index: 3, Hashes: inc(3), Checkpoint: cp}.Marshal() }
	upTo := func(n uint64) *uint64 { return &n }
	keys := func(oldLast *uint64, newFirst uint64) []logproof.Key {
		return []logproof.Key{{Key: vkey, Signed: logproof.Range{First: 0, Last: oldLast}}, {Key: vkey2, Signed: logproof.Range{First: newFirst}}}
	}
	rot := func(desc string, proof string, ks []logproof.Key, reason string) {
		add(TlogCase{Desc: desc, Kind: "tlog_proof", Leaf: enc(leaves[3]), TlogProof: proof, Origin: ledgerName, LogKey: vkey2, LogKeys: ks, Valid: reason == "", Reason: reason})
	}
	rot(fmt.Sprintf("a rotated key: both keys sign size %d, the old one's range open", size), proofTo(both), keys(nil, 5), "")
	rot(fmt.Sprintf("a rotated key: both keys sign size %d, the old one retired at it", size), proofTo(both), keys(upTo(size), 5), "")
	rot(fmt.Sprintf("a rotated key: the new key alone signs size %d", size), proofTo(newOnly), keys(upTo(6), 5), "")
	rot(fmt.Sprintf("a rotated key: the old key alone signs size %d, in its range", size), good, keys(upTo(size), 5), "")
	rot(fmt.Sprintf("the retired key alone signs size %d, after its range (to size %d)", size, size-1), good, keys(upTo(size-1), 5), "log_key_range")
	rot(fmt.Sprintf("the retired key beside the new one signs size %d, after its range", size), proofTo(both), keys(upTo(size-1), 5), "log_key_range")
	rot(fmt.Sprintf("the new key signs size %d, before its range (sizes %d on)", size, size+1), proofTo(newOnly), keys(nil, size+1), "log_key_range")
	rot("a checkpoint signed by neither of the log's keys", proofTo(newOnly), []logproof.Key{{Key: vkey, Signed: logproof.AnySize}}, "checkpoint")
	return file
}

// fixedLogKey is the Ed25519 log key (note verifier key and signer) of
// the vectors' ledger derived from label.
func fixedLogKey(label string) (string, note.Signer) {
	seed := sha256.Sum256([]byte(label))
	priv := ed25519.NewKeyFromSeed(seed[:])
	vkey, err := note.NewEd25519VerifierKey(ledgerName, priv.Public().(ed25519.PublicKey))
	if err != nil {
		panic(err)
	}
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%s+%s", ledgerName, vkeyHash(vkey), base64.StdEncoding.EncodeToString(append([]byte{1}, seed[:]...)))
	signer, err := note.NewSigner(skey)
	if err != nil {
		panic(err)
	}
	return vkey, signer
}

// cosigKeyHash is the key hash of a cosignature/v1 key: the first 4
// bytes of SHA-256(name || "\n" || 0x04 || key), hex.
func cosigKeyHash(name string, pub ed25519.PublicKey) string {
	h := sha256.Sum256(append([]byte(name+"\n\x04"), pub...))
	return fmt.Sprintf("%x", h[:4])
}

func vkeyHash(vkey string) string {
	// name+hash+key
	i := bytes.IndexByte([]byte(vkey), '+')
	return vkey[i+1 : i+9]
}

func checkTlog(c TlogCase) error {
	dec := func(s string) []byte { b, _ := base64.StdEncoding.DecodeString(s); return b }
	decs := func(ss []string) [][]byte {
		out := make([][]byte, len(ss))
		for i, s := range ss {
			out[i] = dec(s)
		}
		return out
	}
	var err error
	switch c.Kind {
	case "inclusion":
		err = logproof.VerifyInclusion(dec(c.Leaf), c.Index, c.Size, decs(c.Proof), dec(c.Root))
	case "consistency":
		err = logproof.VerifyConsistency(c.Old, c.Size, decs(c.Proof), dec(c.OldRoot), dec(c.Root))
	case "tlog_proof":
		_, _, err = logproof.VerifyProof(dec(c.Leaf), c.TlogProof, logproof.Trust{Origin: c.Origin, Key: c.LogKey, Keys: c.LogKeys, Witnesses: c.Witnesses, Quorum: c.Quorum})
	default:
		return fmt.Errorf("%s: unknown kind %q", c.Desc, c.Kind)
	}
	return outcome(c.Desc, c.Valid, c.Reason, err)
}
