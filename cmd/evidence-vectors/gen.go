package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
	"github.com/evidence-node/evidence-node/verifier/logproof"
)

// The vectors are a pure function of the code: fixed keys (scalars
// derived from fixed strings), fixed times, IDs from a fixed byte stream,
// and deterministic (RFC 6979) seal signatures.

// stream is a deterministic byte stream: SHA-256 of a label and a counter.
type stream struct {
	label string
	n     int
	buf   []byte
}

func (s *stream) Read(p []byte) (int, error) {
	for len(s.buf) < len(p) {
		h := sha256.Sum256([]byte(s.label + "/" + strconv.Itoa(s.n)))
		s.n++
		s.buf = append(s.buf, h[:]...)
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

func fixedKey(label string) *ecdsa.PrivateKey {
	d := sha256.Sum256([]byte("evidence-node docs/vectors " + label))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		panic(err)
	}
	return k
}

// fixture is a tiny embedded ledger "evidence-local": block 0 with one
// version 1 record, block 1 with three version 2 records.
type fixture struct {
	key       *ecdsa.PrivateKey
	roots     block.TrustRoots
	rootsJSON string
	blocks    []block.Embedded
	recs      [][]evidence.Record
	metaSalt  []byte
	meta      string
	texts     [][]string
	// tsa holds the trusted-timestamp fixtures (tsaFixture).
	tsa *tsaFixture
}

// tsaFixture: a TSA root and what a forger might bring.
type tsaFixture struct {
	ca                              *vecCA
	a, b                            *vecTSA // trusted TSAs under ca
	outsider, impostor, noEKU, late *vecTSA
	slow                            *vecTSA // under ca, its clock an hour behind
	roots                           block.TrustRoots
	rootsJSON                       string
}

func newTSAFixture(roots block.TrustRoots) *tsaFixture {
	ca := newVecCA("Vectors TSA Root", "tsa root")
	x := &tsaFixture{ca: ca,
		a:        ca.issue("Vectors TSA A", "tsa a", 11, tsaCertOpts{}),
		b:        ca.issue("Vectors TSA B", "tsa b", 12, tsaCertOpts{}),
		outsider: newVecCA("Another TSA Root", "another root").issue("Vectors TSA A", "tsa outsider", 13, tsaCertOpts{}),
		// The trusted root's name, another key: it claims ca as issuer.
		impostor: newVecCA("Vectors TSA Root", "impostor root").issue("Vectors TSA C", "tsa impostor", 14, tsaCertOpts{}),
		noEKU:    ca.issue("Vectors TSA D", "tsa no eku", 15, tsaCertOpts{noEKU: true}),
		late:     ca.issue("Vectors TSA E", "tsa late", 16, tsaCertOpts{notBefore: t0.Add(30 * 24 * time.Hour)}),
		slow:     ca.issue("Vectors TSA F", "tsa slow", 17, tsaCertOpts{}),
	}
	x.slow.clock = t0.Add(-time.Hour)
	x.roots = roots
	x.roots.TSARoots = []string{ca.pem()}
	x.rootsJSON = mustIndent(x.roots)
	return x
}

const ledgerName = "evidence-local"

var t0 = time.Date(2026, 11, 23, 9, 54, 19, 571_000_000, time.UTC)

func newFixture() *fixture {
	f := &fixture{key: fixedKey("key 1")}
	k, err := block.NewKey(&f.key.PublicKey)
	if err != nil {
		panic(err)
	}
	f.roots = block.TrustRoots{Ledger: ledgerName, Kind: block.KindEmbedded, Keys: []block.Key{k}}
	f.rootsJSON = mustIndent(f.roots)
	f.tsa = newTSAFixture(f.roots)
	gen := evidence.NewIDGenerator(func() time.Time { return t0 }, &stream{label: "ids"})
	id := func() evidence.ID {
		v, err := gen.New()
		if err != nil {
			panic(err)
		}
		return v
	}
	texts := func(s string) []evidence.Digest {
		return []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(s)), evidence.Sum(evidence.SM3, []byte(s))}
	}
	f.metaSalt = make([]byte, evidence.MetaSaltSize)
	(&stream{label: "salt"}).Read(f.metaSalt)
	f.meta = `{"signer_id_last6":"482913","parties":["甲方","乙方"]}`
	commit, err := evidence.MetaCommitment(f.metaSalt, []byte(f.meta))
	if err != nil {
		panic(err)
	}
	f.texts = [][]string{{"合同正文：甲方与乙方……"}, {"contract-2026-0042.pdf", "补充协议", "sm3 first"}}
	b0 := []evidence.Record{{Version: 1, ID: id(), Type: evidence.Text, Digests: texts(f.texts[0][0]), Platform: "acme-sign",
		DocRef: "HT-2026-001", MetaDigest: evidence.Sum(evidence.SHA256, []byte(`{"buyer":"x"}`)).Value, SubmittedAt: t0}}
	b1 := []evidence.Record{
		{Version: 2, ID: id(), Type: evidence.File, Digests: texts(f.texts[1][0]), Platform: "acme-sign", DocRef: `合同 "2026" \ <b&c>`, MetaDigest: commit, SubmittedAt: t0.Add(time.Second)},
		{Version: 2, ID: id(), Type: evidence.Text, Digests: texts(f.texts[1][1]), Platform: "acme-sign", SubmittedAt: t0.Add(time.Second)},
		{Version: 2, ID: id(), Type: evidence.Text, Digests: []evidence.Digest{texts(f.texts[1][2])[1], texts(f.texts[1][2])[0]}, Platform: "court.gov_01", DocRef: "HT-2026-003", SubmittedAt: t0.Add(2 * time.Second)},
	}
	for _, recs := range [][]evidence.Record{b0, b1} {
		var leaves [][]byte
		for _, r := range recs {
			leaf, err := r.Canonical()
			if err != nil {
				panic(err)
			}
			leaves = append(leaves, leaf)
		}
		var prev []byte
		if n := len(f.blocks); n > 0 {
			prev = f.blocks[n-1].Hash()
		}
		hdr := block.NewHeader(uint64(len(f.blocks)), prev, block.DataHash(leaves))
		seal := block.Seal{Ledger: ledgerName, Number: hdr.Number, BlockHash: hex.EncodeToString(hdr.Hash()),
			Time: verifier.FormatTime(t0.Add(time.Duration(3+len(f.blocks)) * time.Second))}
		if err := seal.Sign(f.key); err != nil {
			panic(err)
		}
		f.blocks = append(f.blocks, block.Embedded{Version: block.EmbeddedVersion, Header: hdr, Records: leaves, Seal: seal})
		f.recs = append(f.recs, recs)
	}
	return f
}

func (f *fixture) receipt(n, i int) verifier.Receipt {
	b := f.blocks[n]
	rc := verifier.NewReceipt(f.recs[n][i])
	rc.Ledger, rc.LedgerKind = ledgerName, block.KindEmbedded
	rc.TxID = verifier.EmbeddedTxID(b.Records[i])
	rc.BlockNumber, rc.BlockHash = b.Header.Number, b.Seal.BlockHash
	rc.LedgerTime, rc.TimeSource = b.Seal.Time, verifier.TimeSourceNode
	rc.KeyIDs = []string{b.Seal.KeyID}
	seal := b.Seal
	rc.Proof = verifier.Proof{Kind: verifier.ProofEmbedded, Record: b.Records[i], LeafIndex: uint64(i), TreeSize: uint64(len(b.Records)),
		AuditPath: block.AuditPaths(b.Records)[i], BatchRoot: b.Header.DataHash, Header: b.Header, Seal: &seal}
	return rc
}

func (f *fixture) rawBlock(n int) []byte {
	raw, err := f.blocks[n].Marshal()
	if err != nil {
		panic(err)
	}
	return raw
}

func mustIndent(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		panic(err)
	}
	return out.String() + "\n"
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// swap replaces the first old in s; old must be there (a vector that
// changes nothing tests nothing).
func swap(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic(fmt.Sprintf("vectors: %q not in %.80q", old, s))
	}
	return strings.Replace(s, old, new, 1)
}

func highS(sig []byte) []byte {
	var v struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &v); err != nil {
		panic(err)
	}
	v.S = new(big.Int).Sub(elliptic.P256().Params().N, v.S)
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// nonZeroPadding sets the padding bits of canonical padded base64.
func nonZeroPadding(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(s, '=') - 1
	if i < 0 {
		panic("no padding in " + s)
	}
	return s[:i] + string(alphabet[strings.IndexByte(alphabet, s[i])|1]) + s[i+1:]
}

var b64 = base64.StdEncoding.EncodeToString

// Generate returns the vectors files by name.
func Generate(root string) (map[string][]byte, error) {
	f := newFixture()
	out := map[string][]byte{}
	add := func(name string, v any) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			panic(err)
		}
		out[name] = append(b, '\n')
	}
	add("ids.json", genIDs())
	add("records.json", genRecords(f))
	add("headers.json", genHeaders(f))
	add("seals.json", genSeals(f))
	rcs, err := genReceipts(f, root)
	if err != nil {
		return nil, err
	}
	add("receipts.json", rcs)
	pkgs, err := genPackages(f)
	if err != nil {
		return nil, err
	}
	add("packages.json", pkgs)
	add("tlog.json", genTlog(f))
	return out, nil
}

func genIDs() File[IDCase] {
	var id evidence.ID
	// An ID whose text holds a 0 and a 1 to show I, L and O.
	g := evidence.NewIDGenerator(func() time.Time { return t0 }, &stream{label: "id vector"})
	for {
		v, err := g.New()
		if err != nil {
			panic(err)
		}
		s := v.String()
		if strings.Contains(s[1:26], "0") && strings.Contains(s[1:26], "1") {
			id = v
			break
		}
	}
	s := id.String()
	ok := func(desc, in string) IDCase { return IDCase{Desc: desc, Input: in, Valid: true, Canonical: s} }
	bad := func(desc, in, reason string) IDCase { return IDCase{Desc: desc, Input: in, Reason: reason} }
	one, zero := strings.Index(s[1:26], "1")+1, strings.Index(s[1:26], "0")+1
	at := func(i int, r string) string { return s[:i] + r + s[i+1:] }
	cases := []IDCase{
		ok("canonical form", s),
		ok("lower case", strings.ToLower(s)),
		ok("grouped for paper (Grouped)", id.Grouped()),
		ok("I read as 1", at(one, "I")),
		ok("i read as 1", at(one, "i")),
		ok("L read as 1", at(one, "L")),
		ok("l read as 1", at(one, "l")),
		ok("O read as 0", at(zero, "O")),
		ok("o read as 0", at(zero, "o")),
		ok("leading and trailing spaces", "  "+s+" "),
	}
	for _, sep := range []rune{' ', '\t', '\n', '\r', '-', '_', '\u3000', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', '\uff0d'} {
		cases = append(cases, ok(fmt.Sprintf("separator U+%04X ignored", sep), s[:9]+string(sep)+s[9:18]+string(sep)+s[18:]))
	}
	// Mistyped: one character changed, two adjacent characters swapped.
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	sub := s[5]
	for i := 0; i < len(alphabet); i++ {
		if alphabet[i] != sub {
			cases = append(cases, bad("mistyped: one character changed (6th)", at(5, string(alphabet[i])), "id_checksum"))
			break
		}
	}
	for i := 10; i < 25; i++ {
		if s[i] != s[i+1] {
			cases = append(cases, bad("mistyped: two adjacent characters swapped", s[:i]+string(s[i+1])+string(s[i])+s[i+2:], "id_checksum"))
			break
		}
	}
	cases = append(cases, bad("mistyped: check character changed", at(26, string(alphabet[(strings.IndexByte(alphabet, s[26])+1)%32])), "id_checksum"))
	for _, r := range []rune{'\u2015', '\ufe63', '\u00ad', '\u30fc', '\u00a0', '\u200b', '.', '/'} {
		cases = append(cases, bad(fmt.Sprintf("U+%04X is not a separator", r), s[:9]+string(r)+s[9:], "id_char"))
	}
	cases = append(cases,
		bad("U is not in the alphabet", at(3, "U"), "id_char"),
		bad("a full-width digit is not a digit", at(3, "０"), "id_char"),
		bad("first character above 7 (more than 128 bits)", at(0, "8"), "id_char"),
		bad("the zero ID", "000000000000000000000000000", "id_char"),
		bad("26 characters", s[:26], "id_length"),
		bad("28 characters", s+"0", "id_length"),
		bad("empty", "", "id_length"),
	)
	return File[IDCase]{Kind: "evidence-id", Version: 1, Note: "ParseID: input → canonical form, or the reason it is refused (docs/evidence-id.md)", Cases: cases}
}

func genRecords(f *fixture) File[RecordCase] {
	leafHash := func(b []byte) string { return verifier.EmbeddedTxID(b) }
	var cases []RecordCase
	valid := func(desc string, leaf []byte, r evidence.Record) RecordCase {
		return RecordCase{Desc: desc, Input: string(leaf), Valid: true, Want: &RecordWant{Version: r.Ver(), ID: r.ID.String(), LeafHash: leafHash(leaf)}}
	}
	v1, v1r := string(f.blocks[0].Records[0]), f.recs[0][0]
	v2, v2r := string(f.blocks[1].Records[0]), f.recs[1][0]
	c := valid("version 2 with doc_ref (quote, backslash, <, & kept or escaped as the rule says) and meta_commitment", []byte(v2), v2r)
	c.Metadata, c.Salt = f.meta, hex.EncodeToString(f.metaSalt)
	cases = append(cases,
		valid("version 1 (written before version 2): meta_digest is SHA-256 of the metadata", []byte(v1), v1r),
		c,
		valid("version 2 without optional members", f.blocks[1].Records[1], f.recs[1][1]),
		valid("version 2, SM3 the primary digest, platform with . and _", f.blocks[1].Records[2], f.recs[1][2]),
	)
	old := f.recs[0][0]
	old.DocRef = "abc\u202etxt.exe"
	if leaf, err := old.Canonical(); err == nil {
		cases = append(cases, valid("version 1 doc_ref with U+202E: refused in version 2, still valid in version 1", leaf, old))
	} else {
		panic(err)
	}
	bad := func(desc, in, reason string) RecordCase { return RecordCase{Desc: desc, Input: in, Reason: reason} }
	dh := v2r.Digests[0].Hex()
	cases = append(cases,
		bad("a space after a colon", swap(v2, `"v":2`, `"v": 2`), "not_canonical"),
		bad("members in another order", swap(v2, `"v":2,"id":"`+v2r.ID.String()+`"`, `"id":"`+v2r.ID.String()+`","v":2`), "not_canonical"),
		bad("an escape where the character is written as itself", swap(v2, "<b&c>", `\u003cb&c>`), "not_canonical"),
		bad("a solidus escaped", swap(v2, `"platform":"acme-sign"`, `"platform":"acme\u002dsign"`), "not_canonical"),
		bad("lower-case ID", swap(v2, v2r.ID.String(), strings.ToLower(v2r.ID.String())), "not_canonical"),
		bad("grouped ID", swap(v2, v2r.ID.String(), v2r.ID.Grouped()), "not_canonical"),
		bad("time with an offset", swap(v2, "2026-11-23T09:54:20.571Z", "2026-11-23T17:54:20.571+08:00"), "not_canonical"),
		bad("time without milliseconds", swap(v2, "2026-11-23T09:54:20.571Z", "2026-11-23T09:54:20Z"), "record"),
		bad("upper-case hex", swap(v2, dh, strings.ToUpper(dh)), "hex"),
		bad("member name in another case", swap(v2, `"platform"`, `"Platform"`), "unknown_name"),
		bad("unknown member", swap(v2, `{"v":2,`, `{"v":2,"x":0,`), "unknown_name"),
		bad("duplicate member", swap(v2, `"type":"file"`, `"type":"file","type":"text"`), "duplicate_name"),
		bad("data after the record", v2+"{}", "trailing_data"),
		bad("a newline after the record", v2+"\n", "not_canonical"),
		bad("null doc_ref", swap(v2, `"doc_ref":"`+jsonInner(v2r.DocRef)+`"`, `"doc_ref":null`), "null"),
		bad("version 3", swap(v2, `"v":2`, `"v":3`), "record_version"),
		bad("version 2 with version 1's meta_digest", swap(v2, "meta_commitment", "meta_digest"), "meta_member"),
		bad("version 1 with version 2's meta_commitment", swap(v1, "meta_digest", "meta_commitment"), "meta_member"),
		bad("version 2 doc_ref with a bidi override (U+202E)", swap(v2, "<b&c>", "abc\u202etxt.exe"), "doc_ref"),
		bad("version 2 doc_ref with a zero-width space (U+200B)", swap(v2, "<b&c>", "a\u200bb"), "doc_ref"),
		bad("version 2 doc_ref with a byte order mark (U+FEFF)", swap(v2, "<b&c>", "\ufeffb"), "doc_ref"),
		bad("version 2 doc_ref with a soft hyphen (U+00AD)", swap(v2, "<b&c>", "b\u00adc"), "doc_ref"),
		bad("version 1 doc_ref with a control character (escaped)", swap(v1, "HT-2026-001", `HT\n2026`), "doc_ref"),
		bad("platform in upper case", swap(v2, `"acme-sign"`, `"Acme-sign"`), "platform"),
		bad("platform starting with '-'", swap(v2, `"acme-sign"`, `"-acme"`), "platform"),
		bad("no digests", swap(v2, v2[strings.Index(v2, `"digests":`):strings.Index(v2, `,"platform"`)], `"digests":[]`), "record"),
		bad("unknown type", swap(v2, `"type":"file"`, `"type":"video"`), "record"),
	)
	return File[RecordCase]{Kind: "record", Version: 1, Note: "evidence.ParseRecord: the canonical record encoding (docs/formats.md#record-on-the-ledger); input is the exact text of the Merkle leaf", Cases: cases}
}

// jsonInner is s as it appears between the quotes of a canonical string.
func jsonInner(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

func genHeaders(f *fixture) File[HeaderCase] {
	var cases []HeaderCase
	for i, b := range f.blocks {
		in := compact(b.Header)
		cases = append(cases, HeaderCase{Desc: fmt.Sprintf("block %d", i), Input: in, Valid: true,
			Want: &HeaderWant{Number: b.Header.Number, DER: hex.EncodeToString(b.Header.Bytes()), Hash: hex.EncodeToString(b.Header.Hash())}})
	}
	h := compact(f.blocks[1].Header)
	dh := hex.EncodeToString(f.blocks[1].Header.DataHash)
	bad := func(desc, in, reason string) HeaderCase { return HeaderCase{Desc: desc, Input: in, Reason: reason} }
	cases = append(cases,
		bad("upper-case hex", swap(h, dh, strings.ToUpper(dh)), "hex"),
		bad("odd number of hex digits", swap(h, dh, dh[1:]), "hex"),
		bad("unknown member", swap(h, `"data_hash"`, `"time":"2026-11-23T09:54:19.571Z","data_hash"`), "unknown_name"),
		bad("member name in another case", swap(h, `"number"`, `"Number"`), "unknown_name"),
		bad("duplicate member (a case-folding reader takes the last)", swap(h, `"number":1`, `"number":1,"number":2`), "duplicate_name"),
		bad("null number", swap(h, `"number":1`, `"number":null`), "null"),
		bad("number with a fraction", swap(h, `"number":1`, `"number":1.0`), "type"),
		bad("negative number", swap(h, `"number":1`, `"number":-1`), "type"),
		bad("number as a string", swap(h, `"number":1`, `"number":"1"`), "type"),
		bad("data after the header", h+" 0", "trailing_data"),
		bad("nothing but whitespace", " \n", "empty"),
		bad("cut short", h[:len(h)-1], "syntax"),
		bad("single quotes", strings.ReplaceAll(h, `"`, `'`), "syntax"),
	)
	return File[HeaderCase]{Kind: "header", Version: 1, Note: "a block header in JSON (strict.Decode into block.Header): its DER encoding and hash (docs/formats.md#batches-and-blocks-embedded-ledger)", Cases: cases}
}

func genSeals(f *fixture) File[SealCase] {
	b := f.blocks[1]
	hdr := compact(b.Header)
	seal := compact(b.Seal)
	var cases []SealCase
	okc := func(desc, hdr string, s block.Seal, roots string) SealCase {
		return SealCase{Desc: desc, Header: hdr, Seal: compact(s), TrustRoots: roots, Valid: true, Want: &SealWant{Signed: string(s.SignedBytes())}}
	}
	cases = append(cases, okc("the seal of block 1", hdr, b.Seal, f.rootsJSON))
	// A ledger name with every character the signed JSON escapes.
	odd := "证据<&>\"\\ \u2028"
	oddRoots := f.roots
	oddRoots.Ledger = odd
	s2 := block.Seal{Ledger: odd, Number: b.Header.Number, BlockHash: b.Seal.BlockHash, Time: b.Seal.Time}
	if err := s2.Sign(f.key); err != nil {
		panic(err)
	}
	cases = append(cases, okc(`a ledger name with <, &, >, ", \ and U+2028 (escaped in the signed text as \u003c, \u0026, \u003e, \", \\, \u2028)`, hdr, s2, mustIndent(oddRoots)))
	// Key rotation: trust roots that name the blocks each key sealed.
	one, two := uint64(1), uint64(0)
	rotated := func(first uint64, last *uint64, other block.Key) string {
		r := f.roots
		k := r.Keys[0]
		k.Sealed = &block.BlockRange{First: first, Last: last}
		r.Keys = []block.Key{other, k}
		return mustIndent(r)
	}
	newer := mustKey(fixedKey("key 2"))
	newer.Sealed = &block.BlockRange{First: 2}
	cases = append(cases, okc("a key rotated away after block 1, whose sealed range holds block 1 (the newer key seals blocks 2 on)", hdr, b.Seal, rotated(0, &one, newer)))
	bad := func(desc, hdr, seal, roots, reason string) SealCase {
		return SealCase{Desc: desc, Header: hdr, Seal: seal, TrustRoots: roots, Reason: reason}
	}
	sig := b64(b.Seal.Signature)
	retimed := b.Seal
	retimed.Time = "2026-11-23T17:54:23.571+08:00"
	if err := retimed.Sign(f.key); err != nil {
		panic(err)
	}
	other := fixedKey("key 2")
	foreign := b.Seal
	if err := foreign.Sign(other); err != nil {
		panic(err)
	}
	cases = append(cases,
		bad("the high-S twin of the signature (as valid to plain ECDSA)", hdr, swap(seal, sig, b64(highS(b.Seal.Signature))), f.rootsJSON, "high_s"),
		bad("a byte after the DER signature", hdr, swap(seal, sig, b64(append(append([]byte(nil), b.Seal.Signature...), 0))), f.rootsJSON, "signature_encoding"),
		bad("the time changed", hdr, swap(seal, b.Seal.Time, "2026-11-23T09:54:24.571Z"), f.rootsJSON, "signature"),
		bad("the time with an offset (signed as such)", hdr, compact(retimed), f.rootsJSON, "seal_time"),
		bad("signed by a key not in the trust roots", hdr, compact(foreign), f.rootsJSON, "untrusted_key"),
		bad("upper-case block_hash", hdr, swap(seal, b.Seal.BlockHash, strings.ToUpper(b.Seal.BlockHash)), f.rootsJSON, "hex"),
		bad("signature with non-zero base64 padding bits", hdr, swap(seal, sig, nonZeroPadding(sig)), f.rootsJSON, "base64"),
		bad("unknown member in the seal", hdr, swap(seal, `"key_id"`, `"tsa":"none","key_id"`), f.rootsJSON, "unknown_name"),
		bad("trust roots key with text before the PEM", hdr, seal, swap(f.rootsJSON, `"-----BEGIN PUBLIC KEY`, `"node key\n-----BEGIN PUBLIC KEY`), "pem"),
		bad("trust roots key in a non-canonical PEM (CRLF)", hdr, seal, strings.ReplaceAll(f.rootsJSON, `\n`, `\r\n`), "pem"),
		bad("trust roots of an unknown kind", hdr, seal, swap(f.rootsJSON, `"kind": "embedded"`, `"kind": "embedded-v2"`), "trust_roots"),
		bad("a key rotated away after block 0: it seals no block 1", hdr, seal, rotated(0, &two, newer), "key_range"),
		bad("a key that seals blocks 2 on only", hdr, seal, rotated(2, nil, newer), "key_range"),
		bad("a sealed range whose last block is before its first", hdr, seal, swap(rotated(0, &one, newer), `"first": 0,`, `"first": 3,`), "trust_roots"),
		bad("an unknown member in a sealed range", hdr, seal, swap(rotated(0, &one, newer), `"first": 0,`, `"first": 0, "retired": true,`), "unknown_name"),
	)
	// Trust roots naming a transparency log whose key was rotated: the
	// log's keys with the tree sizes each signs (docs/formats.md).
	oldLog, _ := fixedLogKey("evidence-node docs/vectors log key")
	newLog, _ := fixedLogKey("evidence-node docs/vectors log key 2")
	withLog := func(lg block.Log) string {
		r := f.roots
		r.Log = &lg
		return mustIndent(r)
	}
	eight := uint64(8)
	logKeys := []logproof.Key{{Key: oldLog, Signed: logproof.Range{First: 0, Last: &eight}}, {Key: newLog, Signed: logproof.Range{First: 5}}}
	rotatedLog := withLog(block.Log{Origin: ledgerName, Key: newLog, Keys: logKeys})
	cases = append(cases,
		okc("trust roots with a transparency log whose key was rotated (log.keys, each with the sizes it signs)", hdr, b.Seal, rotatedLog),
		bad("log.keys without the log's key", hdr, seal, withLog(block.Log{Origin: ledgerName, Key: newLog, Keys: logKeys[:1]}), "trust_roots"),
		bad("log.keys: the log's key with an end to its range", hdr, seal, withLog(block.Log{Origin: ledgerName, Key: oldLog, Keys: logKeys}), "trust_roots"),
		bad("log.keys: a range whose last size is before its first", hdr, seal, swap(rotatedLog, `"first": 0,`, `"first": 9,`), "trust_roots"),
		bad("log.keys: an unknown member in a key's range", hdr, seal, swap(rotatedLog, `"first": 0,`, `"first": 0, "retired": true,`), "unknown_name"),
	)
	return File[SealCase]{Kind: "seal", Version: 1, Note: "block.Seal.Verify against the header and trust roots; want.signed is the exact text whose SHA-256 is signed (docs/verification.md)", Cases: cases}
}

func genReceipts(f *fixture, root string) (File[ReceiptCase], error) {
	var cases []ReceiptCase
	rc := indentJSON(f.receipt(1, 0).AppendJSON(nil))
	one := indentJSON(f.receipt(0, 0).AppendJSON(nil))
	okc := func(desc, rc, roots string) ReceiptCase {
		return ReceiptCase{Desc: desc, Receipt: rc, TrustRoots: roots, Valid: true}
	}
	bad := func(desc, rc, roots, field, reason string) ReceiptCase {
		return ReceiptCase{Desc: desc, Receipt: rc, TrustRoots: roots, Error: &Where{Field: field, Reason: reason}}
	}
	r := f.receipt(1, 0)
	num := strconv.FormatUint(r.BlockNumber, 10)
	cases = append(cases,
		okc("embedded, record 0 of 3 (version 2)", rc, f.rootsJSON),
		okc("embedded, a single-record block: audit_path null (version 1 record)", one, f.rootsJSON),
		okc("embedded, record 2 of 3 (SM3 primary)", indentJSON(f.receipt(1, 2).AppendJSON(nil)), f.rootsJSON),
		bad("member name in another case (Block_Hash)", swap(rc, `"block_hash"`, `"Block_Hash"`), f.rootsJSON, "Block_Hash", "unknown_name"),
		bad("block_number 12 then BLOCK_NUMBER (a case-folding reader takes the last)", swap(rc, `"block_number": `+num, `"block_number": 12, "BLOCK_NUMBER": `+num), f.rootsJSON, "BLOCK_NUMBER", "unknown_name"),
		bad("duplicate member (last wins in a lenient reader)", swap(rc, `"block_number": `+num, `"block_number": 12, "block_number": `+num), f.rootsJSON, "block_number", "duplicate_name"),
		bad("unknown member inside proof.header", swap(rc, `"previous_hash"`, `"time": "x", "previous_hash"`), f.rootsJSON, "proof.header.time", "unknown_name"),
		bad("unknown member inside proof.seal", swap(rc, `"key_id":`, `"tsa": "x", "key_id":`), f.rootsJSON, "proof.seal.tsa", "unknown_name"),
		bad("data after the receipt", rc+"{}", f.rootsJSON, "", "trailing_data"),
		bad("null member", swap(rc, `"ledger": "evidence-local"`, `"ledger": null`), f.rootsJSON, "ledger", "null"),
		bad("base64 with non-zero padding bits (proof.batch_root)", swap(rc, b64(r.Proof.BatchRoot), nonZeroPadding(b64(r.Proof.BatchRoot))), f.rootsJSON, "proof.batch_root", "base64"),
		bad("base64 with an embedded newline (proof.record)", swap(rc, b64(r.Proof.Record), b64(r.Proof.Record)[:20]+`\n`+b64(r.Proof.Record)[20:]), f.rootsJSON, "proof.record", "base64"),
		bad("upper-case block_hash", swap(rc, r.BlockHash, strings.ToUpper(r.BlockHash)), f.rootsJSON, "block_hash", "hex"),
		bad("upper-case digest_hex", swap(rc, `"digest_hex": "`+r.DigestHex, `"digest_hex": "`+strings.ToUpper(r.DigestHex)), f.rootsJSON, "digest_hex", "hex"),
		bad("high-S seal", swap(rc, b64(r.Proof.Seal.Signature), b64(highS(r.Proof.Seal.Signature))), f.rootsJSON, "proof.seal", "high_s"),
		bad("time_source claims a trusted timestamp", swap(rc, verifier.TimeSourceNode, "an RFC 3161 trusted timestamp"), f.rootsJSON, "time_source", "time_source"),
		bad("ledger_kind fabric with an embedded/v1 proof", swap(rc, `"ledger_kind": "embedded"`, `"ledger_kind": "fabric"`), f.rootsJSON, "ledger_kind", "ledger_kind"),
		bad("timestamps listed under the time_source of a receipt holding none", swap(rc, `"proof": {`, `"timestamps": [{"kind": "rfc3161", "token": "AAAA"}], "proof": {`), f.rootsJSON, "timestamps", "timestamps"),
		bad("proof.block on an embedded/v1 proof", swap(rc, `"kind": "embedded/v1",`, `"kind": "embedded/v1", "block": "CgE=",`), f.rootsJSON, "proof.block", "not_in_proof"),
		bad("platform differs from the record's", swap(rc, `"platform": "acme-sign"`, `"platform": "acme-pay"`), f.rootsJSON, "platform", "mismatch"),
		bad("doc_ref differs from the record's", swap(rc, `"doc_ref": "合同`, `"doc_ref": "合约`), f.rootsJSON, "doc_ref", "mismatch"),
		bad("ledger_time differs from the seal's", swap(rc, `"ledger_time": "`+r.LedgerTime, `"ledger_time": "2026-11-23T09:54:25.571Z`), f.rootsJSON, "ledger_time", "mismatch"),
		bad("checked against other trust roots", rc, mustIndent(block.TrustRoots{Ledger: ledgerName, Kind: block.KindEmbedded, Keys: []block.Key{mustKey(fixedKey("key 2"))}}), "proof.seal", "untrusted_key"),
		bad("the record re-spaced (same content, other bytes)", swap(rc, b64(r.Proof.Record), b64([]byte(swap(string(r.Proof.Record), `"v":2`, `"v": 2`)))), f.rootsJSON, "proof.record", "not_canonical"),
		bad("a digit of the record's digest changed", swap(rc, b64(r.Proof.Record), b64([]byte(swap(string(r.Proof.Record), r.Digests[0].Hex[:8], "00000000")))), f.rootsJSON, "digest", "mismatch"),
	)
	cases = append(cases, timestampReceipts(f)...)
	// Fabric: the golden receipts of a real network (verifier/testdata/fabric),
	// and of ones written by the chaincode before entry version 3
	// (verifier/testdata/fabric-v1, whose entries hold the whole record;
	// verifier/testdata/fabric-v2, JSON naming it by its leaf hash).
	fr, froots, err := fabricGolden(filepath.Join(root, "verifier", "testdata", "fabric"))
	if err != nil {
		return File[ReceiptCase]{}, err
	}
	frc := indentJSON(fr.AppendJSON(nil))
	for _, old := range []struct{ dir, name string }{
		{"fabric-v1", "fabric/v1 with its block, the chaincode's entry of version 1 (holding the record, as written before 2026-12-02)"},
		{"fabric-v2", "fabric/v1 with its block, the chaincode's entry of version 2 (JSON naming the record by its leaf hash, as written before 2026-12-04)"},
	} {
		or, oroots, err := fabricGolden(filepath.Join(root, "verifier", "testdata", old.dir))
		if err != nil {
			return File[ReceiptCase]{}, err
		}
		cases = append(cases, okc(old.name, indentJSON(or.AppendJSON(nil)), string(oroots)))
	}
	cases = append(cases,
		okc("fabric/v1 with its block (a real Fabric v3.1.1 network, three organisations; the chaincode's entry of version 3, binary, naming the record by its leaf hash)", frc, string(froots)),
		bad("fabric/v1 with a seal", swap(frc, `"kind": "fabric/v1",`, `"kind": "fabric/v1", "seal": `+compact(f.blocks[1].Seal)+`,`), string(froots), "proof.seal", "not_in_proof"),
		bad("fabric/v1 with the node's time_source", swap(frc, verifier.TimeSourceFabric, verifier.TimeSourceNode), string(froots), "time_source", "time_source"),
		bad("fabric/v1 with ledger_kind embedded", swap(frc, `"ledger_kind": "fabric"`, `"ledger_kind": "embedded"`), string(froots), "ledger_kind", "ledger_kind"),
	)
	// Fabric with trusted timestamps: over the transaction ID and batch
	// root.
	var fr2 block.TrustRoots
	if err := json.Unmarshal(froots, &fr2); err != nil {
		return File[ReceiptCase]{}, err
	}
	fr2.TSARoots = []string{f.tsa.ca.pem()}
	frootsTSA := mustIndent(fr2)
	fgen, err := time.Parse(time.RFC3339Nano, fr.LedgerTime)
	if err != nil {
		return File[ReceiptCase]{}, err
	}
	fmsg := verifier.FabricStampMessage(fr.TxID, fr.Proof.BatchRoot)
	fst := fr.WithTimestamps([]verifier.Timestamp{f.tsa.a.stamp(fmsg, fgen.Add(2*time.Second), 31)}, false)
	fbad := fr.WithTimestamps([]verifier.Timestamp{f.tsa.a.stamp(verifier.EmbeddedStampMessage(fr.Proof.BatchRoot), fgen.Add(2*time.Second), 32)}, false)
	cases = append(cases,
		okc("fabric/v1 with an RFC 3161 timestamp over its transaction ID and batch root", indentJSON(fst.AppendJSON(nil)), frootsTSA),
		bad("fabric/v1 with a token over the embedded message of its batch root", indentJSON(fbad.AppendJSON(nil)), frootsTSA, "timestamps.0.token", "timestamp_imprint"),
	)
	return File[ReceiptCase]{Kind: "receipt", Version: 1, Note: "verifier.ParseReceipt, then verifier.VerifyReceipt against the trust roots (block.ParseTrustRoots); a failing case names the receipt field and the reason", Cases: cases}, nil
}

// timestampReceipts are the receipt cases of trusted timestamps: record 0
// of block 1 with tokens over its block (docs/timestamps.md).
func timestampReceipts(f *fixture) []ReceiptCase {
	x := f.tsa
	r := f.receipt(1, 0)
	msg := verifier.EmbeddedStampMessage(f.blocks[1].Hash())
	gen, _ := time.Parse(time.RFC3339Nano, r.LedgerTime)
	gen = gen.Add(2 * time.Second)
	serial := int64(100)
	stamp := func(s *vecTSA, m []byte) verifier.Timestamp { serial++; return s.stamp(m, gen, serial) }
	with := func(ts ...verifier.Timestamp) string { return indentJSON(r.WithTimestamps(ts, false).AppendJSON(nil)) }
	a := stamp(x.a, msg)
	edited := func(f func(*verifier.Timestamp)) string { ts := a; f(&ts); return with(ts) }
	ok := func(desc, rc, roots string) ReceiptCase {
		return ReceiptCase{Desc: desc, Receipt: rc, TrustRoots: roots, Valid: true}
	}
	bad := func(desc, rc, roots, field, reason string) ReceiptCase {
		return ReceiptCase{Desc: desc, Receipt: rc, TrustRoots: roots, Error: &Where{Field: field, Reason: reason}}
	}
	stampedNone := swap(indentJSON(r.AppendJSON(nil)), verifier.TimeSourceNode, verifier.TimeSourceNodeStamped)
	return []ReceiptCase{
		ok("embedded, two RFC 3161 timestamps from two TSAs under the TSA root", with(a, stamp(x.b, msg)), x.rootsJSON),
		ok("embedded, trusted timestamps pending", indentJSON(r.WithTimestamps(nil, true).AppendJSON(nil)), x.rootsJSON),
		bad("a token over another block (block 0)", with(stamp(x.a, verifier.EmbeddedStampMessage(f.blocks[0].Hash()))), x.rootsJSON, "timestamps.0.token", "timestamp_imprint"),
		bad("a token over the block hash itself, not the stamped message", with(stamp(x.a, f.blocks[1].Hash())), x.rootsJSON, "timestamps.0.token", "timestamp_imprint"),
		bad("a token from a TSA under another root", with(stamp(x.outsider, msg)), x.rootsJSON, "timestamps.0.token", "untrusted_tsa"),
		bad("trust roots without TSA roots", with(a), f.rootsJSON, "timestamps.0.token", "untrusted_tsa"),
		bad("a broken chain: the TSA certificate names the TSA root as issuer, signed by another key", with(stamp(x.impostor, msg)), x.rootsJSON, "timestamps.0.token", "tsa_chain"),
		bad("a TSA certificate not yet valid at gen_time", with(stamp(x.late, msg)), x.rootsJSON, "timestamps.0.token", "tsa_chain"),
		bad("a signing certificate without the id-kp-timeStamping extended key usage", with(stamp(x.noEKU, msg)), x.rootsJSON, "timestamps.0.token", "tsa_eku"),
		bad("gen_time an hour before the ledger time (a TSA with a wrong clock)", with(stamp(x.slow, msg)), x.rootsJSON, "timestamps.0.gen_time", "gen_time"),
		bad("tsa names another authority than the token's signer", edited(func(ts *verifier.Timestamp) { ts.TSA = "Vectors TSA B" }), x.rootsJSON, "timestamps.0.tsa", "mismatch"),
		bad("gen_time differs from the token's genTime", edited(func(ts *verifier.Timestamp) { ts.GenTime = verifier.FormatTime(gen.Add(time.Second)) }), x.rootsJSON, "timestamps.0.gen_time", "mismatch"),
		bad("a kind other than rfc3161", edited(func(ts *verifier.Timestamp) { ts.Kind = "rfc3161-sm2" }), x.rootsJSON, "timestamps.0.kind", "timestamp_kind"),
		bad("a token that is not a CMS SignedData", edited(func(ts *verifier.Timestamp) { ts.Token = []byte{0x30, 0x03, 0x02, 0x01, 0x01} }), x.rootsJSON, "timestamps.0.token", "timestamp_token"),
		bad("a token whose signature does not verify (a bit of its TSTInfo flipped)", edited(func(ts *verifier.Timestamp) {
			ts.Token = bytes.Clone(ts.Token)
			i := bytes.Index(ts.Token, msgImprint(msg)) + 4
			ts.Token[i] ^= 1
		}), x.rootsJSON, "timestamps.0.token", "timestamp_token"),
		bad("the same token twice", with(a, a), x.rootsJSON, "timestamps.1.token", "timestamps"),
		bad("the stamped time_source without timestamps", stampedNone, x.rootsJSON, "time_source", "time_source"),
	}
}

// msgImprint is the SHA-256 a token over m stamps.
func msgImprint(m []byte) []byte {
	h := sha256.Sum256(m)
	return h[:]
}

func mustKey(k *ecdsa.PrivateKey) block.Key {
	pk, err := block.NewKey(&k.PublicKey)
	if err != nil {
		panic(err)
	}
	return pk
}

func attachments(files map[string][]byte) []Attachment {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Attachment
	for _, n := range names {
		b := files[n]
		if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
			s := string(b)
			out = append(out, Attachment{Name: n, Text: &s})
		} else {
			out = append(out, Attachment{Name: n, Base64: b64(b)})
		}
	}
	return out
}

func genPackages(f *fixture) (File[PackageCase], error) {
	buildWith := func(rc verifier.Receipt, roots block.TrustRoots, n int, extra ...int) map[string][]byte {
		blocks := []evpkg.Block{{Kind: block.KindEmbedded, Number: uint64(n), Raw: f.rawBlock(n)}}
		for _, e := range extra {
			blocks = append(blocks, evpkg.Block{Kind: block.KindEmbedded, Number: uint64(e), Raw: f.rawBlock(e)})
		}
		files, err := evpkg.Build(rc, blocks, roots)
		if err != nil {
			panic(err)
		}
		m := map[string][]byte{}
		for _, x := range files {
			m[x.Name] = x.Data
		}
		return m
	}
	build := func(n, i int, extra ...int) map[string][]byte {
		return buildWith(f.receipt(n, i), f.roots, n, extra...)
	}
	relist := func(files map[string][]byte) {
		m, err := evpkg.ParseManifest(files[evpkg.ManifestName])
		if err != nil {
			panic(err)
		}
		for i, e := range m.Files {
			e.SHA256, e.Size = evpkg.Digest(files[e.Name]), int64(len(files[e.Name]))
			m.Files[i] = e
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		files[evpkg.ManifestName] = append(b, '\n')
	}
	edit := func(files map[string][]byte, name, old, new string) {
		files[name] = []byte(swap(string(files[name]), old, new))
	}
	var cases []PackageCase
	run := func(desc string, files map[string][]byte, ds []evidence.Digest, fail string, reason string) {
		c := PackageCase{Desc: desc, Files: attachments(files), Valid: fail == ""}
		for _, d := range ds {
			c.Digests = append(c.Digests, DigestIn{Algorithm: string(d.Algorithm), Hex: d.Hex()})
		}
		r := evpkg.Verify(files, evpkg.Options{Digests: ds})
		c.Want = PackageWant{Verdict: r.Verdict, Outcome: r.Outcome}
		for _, ch := range r.Checks {
			c.Want.Checks = append(c.Want.Checks, CheckState{Name: ch.Name, Pass: ch.Pass, Skipped: ch.Skipped})
		}
		if fail != "" {
			c.Error = &Where{Check: fail, Reason: reason}
		}
		cases = append(cases, c)
	}
	r := f.receipt(1, 0)
	text := func(s string) []evidence.Digest {
		return []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(s)), evidence.Sum(evidence.SM3, []byte(s))}
	}
	run("record 0 of block 1, blocks 0 and 1 packaged, no original given: digest_match skipped", build(1, 0, 0), nil, "", "")
	run("record 1 of block 1 with its original text (SHA-256 and SM3)", build(1, 1), text(f.texts[1][1]), "", "")
	run("record 0 of block 0 (a version 1 record) with its original's SM3 digest only", build(0, 0), text(f.texts[0][0])[1:], "", "")
	run("another original", build(1, 1), text("补充协议（修改后）"), verifier.CheckDigestMatch, "digest_mismatch")

	p := build(1, 0)
	p["block-1.json"] = append([]byte(nil), p["block-1.json"]...)
	p["block-1.json"][40] ^= 1
	run("an attachment byte changed", p, nil, verifier.CheckProofIntact, "changed")
	p = build(1, 0)
	delete(p, evpkg.TrustRootsName)
	run("an attachment missing", p, nil, verifier.CheckProofIntact, "missing")
	p = build(1, 0)
	p["extra.txt"] = []byte("x")
	run("an attachment not listed", p, nil, verifier.CheckProofIntact, "unlisted")

	type tamper struct {
		desc, reason string
		relist       bool
		do           func(map[string][]byte)
	}
	num := strconv.FormatUint(r.BlockNumber, 10)
	for _, tc := range []tamper{
		{"receipt member name in another case (Block_Hash)", "unknown_name", true, func(p map[string][]byte) { edit(p, evpkg.ReceiptName, `"block_hash"`, `"Block_Hash"`) }},
		{"manifest member name in another case (SHA256)", "unknown_name", false, func(p map[string][]byte) { edit(p, evpkg.ManifestName, `"sha256"`, `"SHA256"`) }},
		{"block member name in another case (Records)", "unknown_name", true, func(p map[string][]byte) { edit(p, "block-1.json", `"records"`, `"Records"`) }},
		{"receipt block_number 12 then BLOCK_NUMBER", "unknown_name", true, func(p map[string][]byte) {
			edit(p, evpkg.ReceiptName, `"block_number": `+num, `"block_number": 12, "BLOCK_NUMBER": `+num)
		}},
		{"receipt member twice", "duplicate_name", true, func(p map[string][]byte) {
			edit(p, evpkg.ReceiptName, `"block_number": `+num, `"block_number": 12, "block_number": `+num)
		}},
		{"data after a block", "trailing_data", true, func(p map[string][]byte) { p["block-1.json"] = append(p["block-1.json"], `{"v":1}`...) }},
		{"unknown member inside a block's header", "unknown_name", true, func(p map[string][]byte) {
			edit(p, "block-1.json", `"previous_hash"`, `"time":"x","previous_hash"`)
		}},
		{"kind and number on the receipt's manifest entry", "block_only", false, func(p map[string][]byte) {
			edit(p, evpkg.ManifestName, `"role": "receipt",`, `"role": "receipt", "kind": "embedded", "number": 1,`)
		}},
		{"upper-case hex in a block's header", "hex", true, func(p map[string][]byte) {
			h := hex.EncodeToString(f.blocks[1].Header.DataHash)
			edit(p, "block-1.json", h, strings.ToUpper(h))
		}},
		{"upper-case hex in the manifest", "hex", false, func(p map[string][]byte) {
			d := evpkg.Digest(p[evpkg.ReceiptName])
			edit(p, evpkg.ManifestName, d, strings.ToUpper(d))
		}},
		{"base64 with non-zero padding bits in the receipt", "base64", true, func(p map[string][]byte) {
			edit(p, evpkg.ReceiptName, b64(r.Proof.BatchRoot), nonZeroPadding(b64(r.Proof.BatchRoot)))
		}},
		{"base64 with an embedded newline in a block", "base64", true, func(p map[string][]byte) {
			s := b64(f.blocks[1].Records[1])
			edit(p, "block-1.json", s, s[:16]+`\n`+s[16:])
		}},
		{"high-S seal on the block and in the receipt", "high_s", true, func(p map[string][]byte) {
			sig := f.blocks[1].Seal.Signature
			edit(p, "block-1.json", b64(sig), b64(highS(sig)))
			edit(p, evpkg.ReceiptName, b64(sig), b64(highS(sig)))
		}},
		{"trust roots with text before the PEM", "pem", true, func(p map[string][]byte) {
			edit(p, evpkg.TrustRootsName, `"-----BEGIN PUBLIC KEY`, `"node key\n-----BEGIN PUBLIC KEY`)
		}},
		{"time_source claims a trusted timestamp", "time_source", true, func(p map[string][]byte) {
			edit(p, evpkg.ReceiptName, verifier.TimeSourceNode, "an RFC 3161 trusted timestamp")
		}},
		{"ledger_kind fabric with an embedded/v1 proof (manifest alike)", "ledger_kind", true, func(p map[string][]byte) {
			edit(p, evpkg.ReceiptName, `"ledger_kind": "embedded"`, `"ledger_kind": "fabric"`)
			edit(p, evpkg.ManifestName, `"ledger_kind": "embedded"`, `"ledger_kind": "fabric"`)
		}},
		{"timestamps listed", "timestamps", true, func(p map[string][]byte) {
			edit(p, evpkg.ReceiptName, `"proof": {`, `"timestamps": [{"kind": "rfc3161", "token": "AAAA"}], "proof": {`)
		}},
		{"proof.block on an embedded proof", "not_in_proof", true, func(p map[string][]byte) {
			edit(p, evpkg.ReceiptName, `"kind": "embedded/v1",`, `"kind": "embedded/v1", "block": "CgE=",`)
		}},
		{"manifest ledger differs from the receipt's", "manifest", false, func(p map[string][]byte) {
			edit(p, evpkg.ManifestName, `"ledger": "evidence-local"`, `"ledger": "evidence-court"`)
		}},
		{"invalid UTF-8 in the receipt", "invalid_utf8", true, func(p map[string][]byte) {
			edit(p, evpkg.ReceiptName, `"platform": "acme-sign"`, "\"platform\": \"acme\xff\"")
		}},
	} {
		p := build(1, 0)
		tc.do(p)
		if tc.relist {
			relist(p)
		}
		run(tc.desc, p, nil, verifier.CheckProofIntact, tc.reason)
	}
	// Trusted time: the receipt carries the tokens, trust-roots.json the
	// TSA root.
	msg := verifier.EmbeddedStampMessage(f.blocks[1].Hash())
	gen, _ := time.Parse(time.RFC3339Nano, r.LedgerTime)
	gen = gen.Add(3 * time.Second)
	run("record 0 of block 1 with two RFC 3161 timestamps and the TSA root",
		buildWith(r.WithTimestamps([]verifier.Timestamp{f.tsa.a.stamp(msg, gen, 201), f.tsa.b.stamp(msg, gen, 202)}, false), f.tsa.roots, 1), nil, "", "")
	run("record 0 of block 1, trusted timestamps pending", buildWith(r.WithTimestamps(nil, true), f.tsa.roots, 1), nil, "", "")
	run("a token from a TSA the packaged TSA roots do not hold",
		buildWith(r.WithTimestamps([]verifier.Timestamp{f.tsa.outsider.stamp(msg, gen, 203)}, false), f.tsa.roots, 1), nil, verifier.CheckProofIntact, "untrusted_tsa")
	run("a token over another block",
		buildWith(r.WithTimestamps([]verifier.Timestamp{f.tsa.a.stamp(verifier.EmbeddedStampMessage(f.blocks[0].Hash()), gen, 204)}, false), f.tsa.roots, 1), nil, verifier.CheckProofIntact, "timestamp_imprint")

	// on_ledger: the ledger's key signed two blocks numbered 1 (the node
	// equivocated); the package holds the other one. Every block and the
	// receipt verify on their own, but the record is not in that block.
	fork := f.blocks[1]
	fork.Records = [][]byte{f.blocks[1].Records[1]}
	fork.Header = block.NewHeader(1, f.blocks[1].Header.PreviousHash, block.DataHash(fork.Records))
	fork.Seal = block.Seal{Ledger: ledgerName, Number: 1, BlockHash: hex.EncodeToString(fork.Header.Hash()), Time: f.blocks[1].Seal.Time}
	if err := fork.Seal.Sign(f.key); err != nil {
		panic(err)
	}
	forkRaw, err := fork.Marshal()
	if err != nil {
		panic(err)
	}
	p = build(1, 0, 0)
	p["block-1.json"] = forkRaw
	relist(p)
	run("another block 1 signed by the same key (the node equivocated): the record is not in the packaged block", p, nil, verifier.CheckOnLedger, "not_in_block")
	return File[PackageCase]{Kind: "package", Version: 1, Note: "evpkg.Verify on the attachments of an evidence package (docs/verification.md); digests are of the original the verifier holds; a failing case names the check that fails and the reason", Cases: cases}, nil
}

// fabricGolden reads golden Fabric data from dir: its first receipt with
// the block inside, and the trust roots.
func fabricGolden(dir string) (verifier.Receipt, []byte, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "block.pb"))
	if err != nil {
		return verifier.Receipt{}, nil, err
	}
	rb, err := os.ReadFile(filepath.Join(dir, "receipts.json"))
	if err != nil {
		return verifier.Receipt{}, nil, err
	}
	var rcs []verifier.Receipt
	if err := json.Unmarshal(rb, &rcs); err != nil {
		return verifier.Receipt{}, nil, err
	}
	if len(rcs) == 0 {
		return verifier.Receipt{}, nil, fmt.Errorf("%s: no receipts", dir)
	}
	roots, err := os.ReadFile(filepath.Join(dir, "roots.json"))
	if err != nil {
		return verifier.Receipt{}, nil, err
	}
	rc := rcs[0]
	rc.Proof.Block = raw
	return rc, roots, nil
}
