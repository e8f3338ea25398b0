package evpkg

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// ledger is a tiny embedded ledger built from the verifier's primitives,
// the way the node's embedded ledger builds blocks and receipts.
type ledger struct {
	name   string
	key    *ecdsa.PrivateKey
	blocks []block.Embedded
	recs   [][]evidence.Record
}

func newLedger(t testing.TB, name string) *ledger {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &ledger{name: name, key: key}
}

// add cuts a block of texts and returns it.
func (l *ledger) add(t testing.TB, texts ...string) {
	t.Helper()
	gen := evidence.NewIDGenerator(nil, nil)
	var leaves [][]byte
	var recs []evidence.Record
	for _, s := range texts {
		id, err := gen.New()
		if err != nil {
			t.Fatal(err)
		}
		r := evidence.Record{ID: id, Type: evidence.Text, Platform: "acme",
			Digests:     []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(s)), evidence.Sum(evidence.SM3, []byte(s))},
			SubmittedAt: time.Now().UTC().Truncate(time.Millisecond)}
		leaf, err := r.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		leaves, recs = append(leaves, leaf), append(recs, r)
	}
	var prev []byte
	if n := len(l.blocks); n > 0 {
		prev = l.blocks[n-1].Hash()
	}
	hdr := block.Header{Number: uint64(len(l.blocks)), PreviousHash: prev, DataHash: block.DataHash(leaves)}
	seal := block.Seal{Ledger: l.name, Number: hdr.Number, BlockHash: hex.EncodeToString(hdr.Hash()), Time: verifier.FormatTime(time.Now())}
	if err := seal.Sign(l.key); err != nil {
		t.Fatal(err)
	}
	l.blocks = append(l.blocks, block.Embedded{Version: block.EmbeddedVersion, Header: hdr, Records: leaves, Seal: seal})
	l.recs = append(l.recs, recs)
}

func (l *ledger) roots(t testing.TB) block.TrustRoots {
	k, err := block.NewKey(&l.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return block.TrustRoots{Ledger: l.name, Kind: block.KindEmbedded, Keys: []block.Key{k}}
}

func (l *ledger) receipt(n, i int) verifier.Receipt {
	b := l.blocks[n]
	rc := verifier.NewReceipt(l.recs[n][i])
	rc.Ledger, rc.LedgerKind = l.name, block.KindEmbedded
	rc.TxID = verifier.EmbeddedTxID(b.Records[i])
	rc.BlockNumber, rc.BlockHash = b.Header.Number, b.Seal.BlockHash
	rc.LedgerTime, rc.TimeSource = b.Seal.Time, verifier.TimeSourceNode
	rc.KeyIDs = []string{b.Seal.KeyID}
	seal := b.Seal
	rc.Proof = verifier.Proof{Kind: verifier.ProofEmbedded, Record: b.Records[i], LeafIndex: uint64(i), TreeSize: uint64(len(b.Records)),
		AuditPath: block.AuditPaths(b.Records)[i], BatchRoot: b.Header.DataHash, Header: b.Header, Seal: &seal}
	return rc
}

func (l *ledger) raw(t testing.TB, n int) Block {
	raw, err := l.blocks[n].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return Block{Kind: block.KindEmbedded, Number: uint64(n), Raw: raw}
}

// build returns the attachments of the package of record i of block n.
func (l *ledger) build(t testing.TB, n, i int) map[string][]byte {
	t.Helper()
	files, err := Build(l.receipt(n, i), []Block{l.raw(t, n)}, l.roots(t))
	if err != nil {
		t.Fatal(err)
	}
	return toMap(files)
}

func toMap(files []File) map[string][]byte {
	m := map[string][]byte{}
	for _, f := range files {
		m[f.Name] = f.Data
	}
	return m
}

// relist recomputes the manifest after an attachment was replaced, as a
// forger would.
func relist(t testing.TB, files map[string][]byte, rename map[string]string) {
	t.Helper()
	m, err := ParseManifest(files[ManifestName])
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range m.Files {
		if to, ok := rename[e.Name]; ok {
			files[to] = files[e.Name]
			delete(files, e.Name)
			e.Name = to
			var n uint64
			fmt.Sscanf(to, "block-%d.json", &n)
			e.Number = &n
		}
		e.SHA256, e.Size = Digest(files[e.Name]), int64(len(files[e.Name]))
		m.Files[i] = e
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	files[ManifestName] = b
}

func check(t *testing.T, r Result, name string) verifier.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %s in %+v", name, r)
	return verifier.Check{}
}

func TestVerify(t *testing.T) {
	l := newLedger(t, "evidence-local")
	l.add(t, "contract one")
	l.add(t, "contract two", "contract three", "contract four")
	l.add(t, "contract five")
	roots := l.roots(t)
	other := newLedger(t, "evidence-local") // same name, another key
	other.add(t, "x")
	otherRoots := other.roots(t)
	text := func(s string) []evidence.Digest {
		return []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(s)), evidence.Sum(evidence.SM3, []byte(s))}
	}

	for _, tc := range []struct {
		desc   string
		tamper func(map[string][]byte)
		opts   Options
		// failing check and a substring of its reason; "" passes.
		fail, reason string
		skipped      bool
	}{
		{desc: "fresh package, no original", skipped: true},
		{desc: "fresh package, the original text", opts: Options{Digests: text("contract three")}},
		{desc: "fresh package, the SM3 digest only", opts: Options{Digests: text("contract three")[1:]}},
		{desc: "fresh package, pinned roots", opts: Options{TrustRoots: &roots, Digests: text("contract three")}},
		{desc: "wrong original", opts: Options{Digests: text("contract 3")},
			fail: verifier.CheckDigestMatch, reason: "differs from the recorded"},
		{desc: "a changed attachment byte", tamper: func(f map[string][]byte) { f["block-1.json"][40] ^= 1 },
			fail: verifier.CheckProofIntact, reason: "block-1.json: differs from the manifest"},
		{desc: "a changed receipt byte", tamper: func(f map[string][]byte) { f[ReceiptName][10] ^= 1 },
			fail: verifier.CheckProofIntact, reason: "receipt.json: differs from the manifest"},
		{desc: "a changed manifest", tamper: func(f map[string][]byte) {
			f[ManifestName] = bytes.Replace(f[ManifestName], []byte(`"v": 1`), []byte(`"v": 2`), 1)
		}, fail: verifier.CheckProofIntact, reason: "version 2 not supported"},
		{desc: "a missing attachment", tamper: func(f map[string][]byte) { delete(f, TrustRootsName) },
			fail: verifier.CheckProofIntact, reason: "trust-roots.json: missing"},
		{desc: "an unlisted attachment", tamper: func(f map[string][]byte) { f["extra.txt"] = []byte("x") },
			fail: verifier.CheckProofIntact, reason: "extra.txt: attached but not listed"},
		{desc: "a block from another position, manifest recomputed", tamper: func(f map[string][]byte) {
			f["block-1.json"] = l.raw(t, 2).Raw
			relist(t, f, nil)
		}, fail: verifier.CheckOnLedger, reason: "block-1.json: block is number 2, the receipt names 1"},
		{desc: "a block from another position, renamed", tamper: func(f map[string][]byte) {
			f["block-1.json"] = l.raw(t, 0).Raw
			relist(t, f, map[string]string{"block-1.json": "block-0.json"})
		}, fail: verifier.CheckOnLedger, reason: "the package holds no block 1"},
		{desc: "another record's block slot", tamper: func(f map[string][]byte) {
			var b block.Embedded
			json.Unmarshal(f["block-1.json"], &b)
			b.Records[2], b.Records[1] = b.Records[1], b.Records[2]
			f["block-1.json"], _ = b.Marshal()
			relist(t, f, nil)
		}, fail: verifier.CheckProofIntact, reason: "data hash"},
		{desc: "a swapped trust root, manifest recomputed", tamper: func(f map[string][]byte) {
			f[TrustRootsName], _ = json.Marshal(otherRoots)
			relist(t, f, nil)
		}, fail: verifier.CheckProofIntact, reason: "signing key is not among the trust roots"},
		{desc: "pinned roots of another key", opts: Options{TrustRoots: &otherRoots},
			fail: verifier.CheckProofIntact, reason: "signing key is not among the trust roots"},
		{desc: "the receipt's record edited, manifest recomputed", tamper: func(f map[string][]byte) {
			f[ReceiptName] = bytes.Replace(f[ReceiptName], []byte(`"platform": "acme"`), []byte(`"platform": "evil"`), 1)
			relist(t, f, nil)
		}, fail: verifier.CheckProofIntact, reason: "receipt platform"},
		{desc: "the receipt's submission time edited, manifest recomputed", tamper: func(f map[string][]byte) {
			f[ReceiptName] = bytes.Replace(f[ReceiptName], []byte(`"submitted_at": "20`), []byte(`"submitted_at": "19`), 1)
			relist(t, f, nil)
		}, fail: verifier.CheckProofIntact, reason: "receipt submitted_at"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			files := l.build(t, 1, 1)
			if tc.tamper != nil {
				tc.tamper(files)
			}
			r := Verify(files, tc.opts)
			js, _ := json.MarshalIndent(r.Checks, "", " ")
			if tc.fail == "" {
				if !r.Pass() || r.Outcome != verifier.OutcomePass {
					t.Fatalf("verdict %s (%s), want pass:\n%s", r.Verdict, r.Outcome, js)
				}
				if got := check(t, r, verifier.CheckDigestMatch).Skipped; got != tc.skipped {
					t.Errorf("digest_match skipped = %v, want %v", got, tc.skipped)
				}
				return
			}
			if r.Pass() {
				t.Fatalf("verdict pass, want %s to fail:\n%s", tc.fail, js)
			}
			c := check(t, r, tc.fail)
			if c.Pass || !strings.Contains(c.Reason, tc.reason) {
				t.Fatalf("%s = %v %q, want a failure saying %q:\n%s", tc.fail, c.Pass, c.Reason, tc.reason, js)
			}
			if c.ReasonZH == "" {
				t.Error("no Chinese reason")
			}
		})
	}
}

// A forger who controls the package (re-signs blocks with its own key and
// packages its own roots) passes only when the auditor trusts the package.
func TestVerifyForgedPackage(t *testing.T) {
	real := newLedger(t, "evidence-local")
	real.add(t, "contract")
	forged := newLedger(t, "evidence-local")
	forged.add(t, "contract")
	files := forged.build(t, 0, 0)
	if r := Verify(files, Options{}); !r.Pass() {
		t.Fatalf("a self-consistent package does not verify against its own roots: %+v", r.Checks)
	}
	pinned := real.roots(t)
	r := Verify(files, Options{TrustRoots: &pinned})
	if r.Pass() || !r.RootsDiffer || r.TrustRoots != RootsPinned {
		t.Fatalf("forged package passes against pinned roots: %+v", r)
	}
	if c := check(t, r, verifier.CheckProofIntact); !strings.Contains(c.Reason, "not among the trust roots") {
		t.Errorf("reason %q", c.Reason)
	}
}

func TestBuild(t *testing.T) {
	l := newLedger(t, "l")
	l.add(t, "a", "b")
	files, err := Build(l.receipt(0, 1), []Block{l.raw(t, 0)}, l.roots(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		if f.Description == "" {
			t.Errorf("%s has no description", f.Name)
		}
	}
	if got, want := strings.Join(names, " "), "receipt.json block-0.json trust-roots.json manifest.json"; got != want {
		t.Errorf("files %q, want %q", got, want)
	}
	p, err := Parse(toMap(files))
	if err != nil {
		t.Fatal(err)
	}
	if p.Receipt.ID != l.receipt(0, 1).ID || len(p.Blocks) != 1 || p.ManifestDigest != Digest(files[3].Data) {
		t.Errorf("parsed %+v", p)
	}
	// The block is carried byte for byte.
	if !bytes.Equal(files[1].Data, l.raw(t, 0).Raw) {
		t.Error("block bytes changed")
	}
	if _, err := Build(l.receipt(0, 1), nil, l.roots(t)); err == nil {
		t.Error("Build without the record's block succeeded")
	}
	if _, err := Build(l.receipt(0, 1), []Block{{Kind: "other", Number: 0}}, l.roots(t)); err == nil {
		t.Error("Build with an unknown block kind succeeded")
	}
}

func TestParseManifest(t *testing.T) {
	good := `{"format":"evidence-package","v":1,"id":"X","ledger":"l","ledger_kind":"embedded","files":[
{"name":"receipt.json","role":"receipt","size":1,"sha256":"` + strings.Repeat("a", 64) + `"},
{"name":"block-7.json","role":"block","kind":"embedded","number":7,"size":1,"sha256":"` + strings.Repeat("b", 64) + `"},
{"name":"trust-roots.json","role":"trust_roots","size":1,"sha256":"` + strings.Repeat("c", 64) + `"}]}`
	if _, err := ParseManifest([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ desc, old, new string }{
		{"unknown field", `"v":1`, `"v":1,"x":2`},
		{"other format", `"evidence-package"`, `"zip"`},
		{"upper-case digest", strings.Repeat("a", 64), strings.Repeat("A", 64)},
		{"short digest", strings.Repeat("a", 64), "aa"},
		{"block misnamed", `"block-7.json"`, `"block-8.json"`},
		{"block without number", `"number":7,`, ``},
		{"path in name", `"receipt.json","role":"receipt"`, `"../receipt.json","role":"receipt"`},
		{"unknown role", `"role":"trust_roots"`, `"role":"other"`},
		{"two receipts", `"block-7.json","role":"block","kind":"embedded","number":7`, `"receipt.json","role":"receipt"`},
		{"trailing data", `]}`, `]} {}`},
	} {
		if _, err := ParseManifest([]byte(strings.Replace(good, tc.old, tc.new, 1))); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: err = %v, want ErrManifest", tc.desc, err)
		}
	}
}

// FuzzParse feeds arbitrary attachments to Parse and Verify: no panic, and
// a manifest that parses encodes and parses again to the same value.
func FuzzParse(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input it finds, and
	// minimizing kilobytes of signed blocks would take a short run's whole
	// time. The unit tests cover real packages.
	l := newLedger(f, "evidence-local")
	l.add(f, "a", "b", "c")
	files := l.build(f, 0, 1)
	compact := func(b []byte) []byte {
		var out bytes.Buffer
		json.Compact(&out, b)
		return out.Bytes()
	}
	f.Add(compact(files[ManifestName]), []byte(`{"v":1,"id":"X","proof":{"kind":"embedded/v1"}}`), []byte(`{"v":1,"header":{},"records":[]}`), []byte(`{"ledger":"l","kind":"embedded","keys":[]}`))
	f.Add([]byte(`{"format":"evidence-package","v":1,"files":[]}`), []byte("{}"), []byte("{}"), []byte("{}"))
	f.Fuzz(func(t *testing.T, manifest, receipt, blk, roots []byte) {
		files := map[string][]byte{ManifestName: manifest, ReceiptName: receipt, "block-0.json": blk, TrustRootsName: roots}
		if m, err := ParseManifest(manifest); err == nil {
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			m2, err := ParseManifest(b)
			if err != nil {
				t.Fatalf("re-encoded manifest does not parse: %v\n%s", err, b)
			}
			b2, _ := json.Marshal(m2)
			if !bytes.Equal(b, b2) {
				t.Fatalf("manifest changed in a round trip:\n%s\n%s", b, b2)
			}
			// Make the digests agree so that Verify gets past the manifest.
			for i, e := range m.Files {
				if d, ok := files[e.Name]; ok {
					m.Files[i].SHA256, m.Files[i].Size = Digest(d), int64(len(d))
				}
			}
			files[ManifestName], _ = json.Marshal(m)
		}
		r := Verify(files, Options{Digests: []evidence.Digest{evidence.Sum(evidence.SHA256, []byte("b"))}})
		if len(r.Checks) != 3 {
			t.Fatalf("%d checks", len(r.Checks))
		}
	})
}

// The Fabric golden data of the verifier (a block from a real Fabric
// network, the receipts of its batch, the channel's roots) makes a Fabric
// package: the same format, a block-<n>.pb attachment.
func TestVerifyFabric(t *testing.T) {
	dir := filepath.Join("..", "testdata", "fabric")
	raw, err := os.ReadFile(filepath.Join(dir, "block.pb"))
	if err != nil {
		t.Skipf("no Fabric golden data: %v", err)
	}
	var rcs []verifier.Receipt
	var roots block.TrustRoots
	for name, v := range map[string]any{"receipts.json": &rcs, "roots.json": &roots} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	rc := rcs[0]
	files, err := Build(rc, []Block{{Kind: block.KindFabric, Number: rc.BlockNumber, Raw: raw}}, roots)
	if err != nil {
		t.Fatal(err)
	}
	m := toMap(files)
	name := BlockName(block.KindFabric, rc.BlockNumber)
	if _, ok := m[name]; !ok {
		t.Fatalf("no %s in %v", name, files)
	}
	if r := Verify(m, Options{TrustRoots: &roots}); !r.Pass() {
		t.Fatalf("fresh Fabric package: %+v", r.Checks)
	}
	// Another transaction ID: the block does not hold it.
	m2 := toMap(files)
	m2[ReceiptName] = bytes.Replace(m2[ReceiptName], []byte(rc.TxID), []byte(strings.Repeat("0", len(rc.TxID))), 1)
	relist(t, m2, nil)
	r := Verify(m2, Options{})
	if r.Pass() {
		t.Fatal("a receipt naming another transaction passes")
	}
	t.Log(check(t, r, verifier.CheckOnLedger).Reason)
	// A changed byte of the block.
	m3 := toMap(files)
	m3[name] = bytes.Clone(m3[name])
	m3[name][len(m3[name])/2] ^= 1
	if r := Verify(m3, Options{}); r.Pass() || !strings.Contains(check(t, r, verifier.CheckProofIntact).Reason, name) {
		t.Fatalf("a changed Fabric block byte: %+v", r.Checks)
	}
}

// TestOriginalEmbedded: a package may carry the original unchanged; with
// no original given by the holder, digest_match compares the embedded one.
func TestOriginalEmbedded(t *testing.T) {
	l := newLedger(t, "evidence-local")
	l.add(t, "contract one", "contract two")
	build := func(data []byte) map[string][]byte {
		files, err := Build(l.receipt(0, 1), []Block{l.raw(t, 0)}, l.roots(t), File{Name: "original.txt", Data: data})
		if err != nil {
			t.Fatal(err)
		}
		return toMap(files)
	}
	files := build([]byte("contract two"))
	r := Verify(files, Options{})
	if m := check(t, r, verifier.CheckDigestMatch); r.Verdict != verifier.VerdictPass || !m.Pass || !strings.Contains(m.Reason, "original.txt") {
		t.Fatalf("embedded original: %+v", r)
	}
	files["original.txt"] = []byte("contract twO")
	if r := Verify(files, Options{}); check(t, r, verifier.CheckProofIntact).Pass || !strings.Contains(check(t, r, verifier.CheckProofIntact).Reason, "original.txt") {
		t.Fatalf("changed original byte: %+v", r)
	}
	r = Verify(build([]byte("another contract")), Options{})
	if m := check(t, r, verifier.CheckDigestMatch); m.Pass || r.Outcome != verifier.OutcomeMismatch {
		t.Fatalf("a wrong original embedded: %+v", r)
	}
	if _, err := Build(l.receipt(0, 1), []Block{l.raw(t, 0)}, l.roots(t), File{Name: "../x", Data: nil}); err == nil {
		t.Fatal("bad original name accepted")
	}
}
