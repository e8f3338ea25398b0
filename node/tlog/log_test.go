package tlog_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/logproof"
)

const origin = "evidence-test/tlog"

// env is an embedded ledger on a real badger store in a temporary
// directory, and the log key; reopen opens the log again on them.
type env struct {
	t   testing.TB
	dir string
	db  *store.DB
	led *embedded.Ledger
	key tlog.Key
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.open()
	k, created, err := tlog.LoadOrCreateKey(filepath.Join(e.dir, "tlog-key"), origin)
	if err != nil || !created {
		t.Fatal(err, created)
	}
	e.key = k
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	nk, _, err := node.LoadOrCreateKey(filepath.Join(e.dir, "node-key.pem"))
	if err != nil {
		e.t.Fatal(err)
	}
	if e.db, err = store.Open(filepath.Join(e.dir, "db"), store.Options{}); err != nil {
		e.t.Fatal(err)
	}
	if e.led, err = embedded.Open(e.db, embedded.Config{Name: origin, Key: nk, Dir: filepath.Join(e.dir, "blocks"), MaxRecords: 1000}); err != nil {
		e.t.Fatal(err)
	}
}

// hashes is the log's stored-hash file.
func (e *env) hashes() string { return filepath.Join(e.dir, "tlog-hashes") }

func (e *env) close() {
	if e.led != nil {
		e.led.Close()
		e.db.Close()
		e.led = nil
	}
}

func (e *env) log() *tlog.Log {
	e.t.Helper()
	l, err := tlog.Open(tlog.Config{DB: e.db, Hashes: e.hashes(), Origin: origin, Key: e.key, Source: tlog.LedgerSource(e.led)})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { l.Close() })
	if err := l.CatchUp(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// appendBlocks appends n blocks of sizes[i] records; it returns the
// receipts in ledger order.
func (e *env) appendBlocks(prefix string, sizes ...int) []verifier.Receipt {
	e.t.Helper()
	var out []verifier.Receipt
	for i, n := range sizes {
		recs := make([]evidence.Record, n)
		for j := range recs {
			recs[j] = ledgertest.Record(e.t, fmt.Sprintf("%s-%d-%d", prefix, i, j))
		}
		rcs, err := e.led.Append(context.Background(), recs)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, rcs...)
	}
	return out
}

// checkLog checks the log against the receipts (all of the ledger, in
// order): size, checkpoint signature, every inclusion proof (with
// transparency-dev/merkle) and the root against an independent
// computation of the tree.
func checkLog(t *testing.T, l *tlog.Log, key tlog.Key, rcs []verifier.Receipt) logproof.Verified {
	t.Helper()
	cp, err := l.Latest()
	if err != nil {
		t.Fatal(err)
	}
	v, err := logproof.Open(cp.Note, origin, key.VerifierKey, nil)
	if err != nil {
		t.Fatalf("checkpoint: %v\n%s", err, cp.Note)
	}
	if v.Size != uint64(len(rcs)) {
		t.Fatalf("log size %d, want %d records", v.Size, len(rcs))
	}
	leaves := make([][]byte, len(rcs))
	for i, rc := range rcs {
		leaves[i] = rc.Proof.Record
	}
	if got, want := v.Root, rootOf(leaves); !bytes.Equal(got, want) {
		t.Fatalf("root %x, want %x", got, want)
	}
	for i, rc := range rcs {
		inc, err := l.Include(rc)
		if err != nil {
			t.Fatal(err)
		}
		if inc.Index != uint64(i) || inc.Checkpoint.Size <= inc.Index || inc.Checkpoint.Size > v.Size {
			t.Fatalf("record %d: index %d in %d", i, inc.Index, inc.Checkpoint.Size)
		}
		cv, err := logproof.Open(inc.Checkpoint.Note, origin, key.VerifierKey, nil)
		if err != nil || cv.Size != inc.Checkpoint.Size || !bytes.Equal(cv.Root, rootOf(leavesUpTo(rcs, cv.Size))) {
			t.Fatalf("record %d: its checkpoint %v %+v", i, err, cv)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, inc.Index, cv.Size, rfc6962.DefaultHasher.HashLeaf(rc.Proof.Record), inc.Proof, cv.Root); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		// Against the latest checkpoint too.
		at, err := l.IncludeAt(rc, cp)
		if err != nil {
			t.Fatal(err)
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, at.Index, v.Size, rfc6962.DefaultHasher.HashLeaf(rc.Proof.Record), at.Proof, v.Root); err != nil {
			t.Fatalf("record %d in the latest: %v", i, err)
		}
	}
	return v
}

func leavesUpTo(rcs []verifier.Receipt, n uint64) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = rcs[i].Proof.Record
	}
	return out
}

// rootOf is the RFC 6962 tree hash by the definition (recursive split).
func rootOf(leaves [][]byte) []byte {
	h := rfc6962.DefaultHasher
	if len(leaves) == 1 {
		return h.HashLeaf(leaves[0])
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return h.HashChildren(rootOf(leaves[:k]), rootOf(leaves[k:]))
}

func TestBackfillAndFollow(t *testing.T) {
	e := newEnv(t)
	// Records on the ledger before the log exists: back-filled.
	rcs := e.appendBlocks("a", 3, 1, 300, 7)
	l := e.log()
	v1 := checkLog(t, l, e.key, rcs)

	rcs = append(rcs, e.appendBlocks("b", 1, 256, 2)...)
	if err := l.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	v2 := checkLog(t, l, e.key, rcs)

	// Consistency proofs between every pair of a few sizes.
	for _, old := range []uint64{1, 3, 4, 200, 311, v1.Size} {
		p, err := l.Consistency(old, v2.Size)
		if err != nil {
			t.Fatal(err)
		}
		leaves := make([][]byte, old)
		for i := range leaves {
			leaves[i] = rcs[i].Proof.Record
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, old, v2.Size, p, rootOf(leaves), v2.Root); err != nil {
			t.Errorf("consistency %d→%d: %v", old, v2.Size, err)
		}
	}
	for _, c := range [][2]uint64{{0, 5}, {6, 5}, {1, v2.Size + 1}} {
		if _, err := l.Consistency(c[0], c[1]); !errors.Is(err, node.ErrInvalid) {
			t.Errorf("consistency %d→%d: %v, want ErrInvalid", c[0], c[1], err)
		}
	}
}

func TestRestartResumes(t *testing.T) {
	e := newEnv(t)
	rcs := e.appendBlocks("a", 5, 9)
	l := e.log()
	checkLog(t, l, e.key, rcs)
	l.Close()
	e.close()

	e.open()
	rcs = append(rcs, e.appendBlocks("b", 4)...)
	l = e.log()
	checkLog(t, l, e.key, rcs)

	// Another key under the same origin does not open the stored log.
	other, err := tlog.ParseKey(mustGenerate(t))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := tlog.Open(tlog.Config{DB: e.db, Hashes: e.hashes(), Origin: origin, Key: other, Source: tlog.LedgerSource(e.led)}); err == nil {
		t.Error("the log opened under another key")
	}
}

func mustGenerate(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "k")
	if _, _, err := tlog.LoadOrCreateKey(p, origin); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSpace(b))
}

func TestEmptyLedger(t *testing.T) {
	e := newEnv(t)
	l := e.log()
	if _, err := l.Latest(); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("latest of an empty log: %v, want ErrNotFound", err)
	}
	if _, _, err := l.Tile(context.Background(), "tile/0/000.p/1"); !errors.Is(err, node.ErrNotFound) {
		t.Fatalf("tile of an empty log: %v", err)
	}
}

func TestTiles(t *testing.T) {
	e := newEnv(t)
	rcs := e.appendBlocks("a", 100, 200, 300) // 600 = 2×256 + 88
	l := e.log()
	v := checkLog(t, l, e.key, rcs)
	ctx := context.Background()

	// Every tile a client of a tree of this size reads (x/mod's list),
	// its hashes those of the tree.
	for _, tl := range xtlog.NewTiles(tlog.TileHeight, 0, int64(v.Size)) {
		p := tlog.TilePath(tl)
		data, full, err := l.Tile(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(data) != tl.W*32 || full != (tl.W == 256) {
			t.Fatalf("%s: %d bytes, full %v", p, len(data), full)
		}
		if tl.L == 0 {
			for i := 0; i < tl.W; i++ {
				leaf := rcs[int(tl.N)*256+i].Proof.Record
				if !bytes.Equal(data[i*32:(i+1)*32], rfc6962.DefaultHasher.HashLeaf(leaf)) {
					t.Fatalf("%s: hash %d is not the leaf's", p, i)
				}
			}
		}
	}
	// Entry bundles: length-prefixed records.
	for _, c := range []struct {
		path       string
		start, end int
	}{{"tile/entries/000", 0, 256}, {"tile/entries/001", 256, 512}, {"tile/entries/002.p/88", 512, 600}, {"tile/entries/002.p/5", 512, 517}} {
		data, _, err := l.Tile(ctx, c.path)
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		var want []byte
		for _, rc := range rcs[c.start:c.end] {
			want = binary.BigEndian.AppendUint16(want, uint16(len(rc.Proof.Record)))
			want = append(want, rc.Proof.Record...)
		}
		if !bytes.Equal(data, want) {
			t.Errorf("%s: not the records %d to %d", c.path, c.start, c.end)
		}
	}
	for _, c := range []struct {
		path string
		want error
	}{
		{"tile/entries/002.p/89", node.ErrNotFound},
		{"tile/entries/002", node.ErrNotFound},
		{"tile/0/002.p/89", node.ErrNotFound},
		{"tile/1/000", node.ErrNotFound},
		{"tile/1/000.p/3", node.ErrNotFound},
		{"tile/0/x001/000", node.ErrNotFound},
		{"tile/0/2", node.ErrInvalid},
		{"tile/0/002.p/0", node.ErrInvalid},
		{"tile/0/002.p/256", node.ErrInvalid},
		{"tile/8/0/000", node.ErrInvalid},
		{"tile/data/000", node.ErrInvalid},
		{"tile/0/x000/001", node.ErrInvalid},
		{"tile/-1/000", node.ErrInvalid},
		{"tile/9/000", node.ErrInvalid},
		{"tile/entries/000/", node.ErrInvalid},
		{"tiles/0/000", node.ErrInvalid},
		{"tile/0/" + string(bytes.Repeat([]byte("x001/"), 30)) + "000", node.ErrInvalid},
	} {
		if _, _, err := l.Tile(ctx, c.path); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.path, err, c.want)
		}
	}
	if data, _, err := l.Tile(ctx, "tile/1/000.p/2"); err != nil || len(data) != 64 {
		t.Errorf("tile/1/000.p/2: %v", err)
	}
}

// TestLargeBlock: a block of more records than one write takes is split
// over writes; the tree, proofs and entry bundles are those of the whole.
func TestLargeBlock(t *testing.T) {
	e := newEnv(t)
	n := 2*tlog.MaxLeavesPerWrite + 500
	rcs := e.appendBlocks("a", n, 3)
	l := e.log()
	checkLog(t, l, e.key, rcs)
	// A bundle across the first write's end, read back from the block.
	b := uint64(tlog.MaxLeavesPerWrite / 256)
	data, _, err := l.Tile(context.Background(), tlog.TilePath(xtlog.Tile{H: 8, L: -1, N: int64(b), W: 256}))
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, rc := range rcs[b*256 : b*256+256] {
		want = binary.BigEndian.AppendUint16(want, uint16(len(rc.Proof.Record)))
		want = append(want, rc.Proof.Record...)
	}
	if !bytes.Equal(data, want) {
		t.Error("the entry bundle across a split block is not its records")
	}
}

// A log written by layout 1 (a store key a stored hash) opens: those keys
// are deleted, the hash file is computed from the ledger, the tree and
// proofs are the same, and it follows the ledger on.
func TestLayout1Moved(t *testing.T) {
	e := newEnv(t)
	rcs := e.appendBlocks("a", 3, 1, 300, 7, 20)
	l := e.log()
	before := checkLog(t, l, e.key, rcs)
	l.Close()
	if err := tlog.ToLayout1(e.db, e.hashes()); err != nil {
		t.Fatal(err)
	}
	if n, err := tlog.Layout1Keys(e.db); err != nil || n == 0 {
		t.Fatalf("layout 1 written: %d keys, %v", n, err)
	}
	l = e.log()
	after := checkLog(t, l, e.key, rcs)
	if after.Size != before.Size || !bytes.Equal(after.Root, before.Root) {
		t.Fatalf("after the move: size %d root %x, before %d %x", after.Size, after.Root, before.Size, before.Root)
	}
	if n, err := tlog.Layout1Keys(e.db); err != nil || n != 0 {
		t.Fatalf("after the move: %d keys of layout 1, %v", n, err)
	}
	rcs = append(rcs, e.appendBlocks("b", 17, 1)...)
	if err := l.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, e.key, rcs)
}

// The hash file is derived data: cut short (a crash of the machine loses
// its unsynced tail), missing (a restore), or damaged, it is computed again
// from the ledger when the log opens; a ledger that no longer holds the
// logged records stops the log.
func TestHashFileRepaired(t *testing.T) {
	e := newEnv(t)
	rcs := e.appendBlocks("a", 5, 300, 1, 64, 2)
	l := e.log()
	want := checkLog(t, l, e.key, rcs)
	l.Close()
	full, err := os.ReadFile(e.hashes())
	if err != nil {
		t.Fatal(err)
	}
	damage := map[string]func(){
		"cut short": func() { os.Truncate(e.hashes(), int64(len(full))/3+7) },
		"missing":   func() { os.Remove(e.hashes()) },
		"damaged": func() {
			b := bytes.Clone(full)
			b[len(b)/2] ^= 1
			os.WriteFile(e.hashes(), b, 0o644)
		},
		"too long": func() { os.WriteFile(e.hashes(), append(bytes.Clone(full), make([]byte, 100)...), 0o644) },
	}
	for _, name := range []string{"cut short", "missing", "damaged", "too long"} {
		damage[name]()
		l := e.log()
		if name == "damaged" {
			// The root still checks (the damage is off the tree's
			// right edge): the proofs through it do not, and the
			// first of them makes the log compute its hashes again.
			refused := 0
			for _, rc := range rcs {
				if _, err := l.Include(rc); errors.Is(err, node.ErrUnavailable) {
					refused++
				} else if err != nil {
					t.Fatal(err)
				}
			}
			if refused == 0 {
				t.Fatal("damaged: every proof was given")
			}
			if err := l.CatchUp(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		got := checkLog(t, l, e.key, rcs)
		if got.Size != want.Size || !bytes.Equal(got.Root, want.Root) {
			t.Fatalf("%s: size %d root %x, want %d %x", name, got.Size, got.Root, want.Size, want.Root)
		}
		l.Close()
		if b, err := os.ReadFile(e.hashes()); err != nil || !bytes.Equal(b, full) {
			t.Fatalf("%s: the file was not computed again (%d bytes, want %d; %v)", name, len(b), len(full), err)
		}
	}

	// A receipt whose record is not the log's leaf at its place: the
	// first failing proof makes the log compute its hashes again; once
	// they are the ledger's own, the same proof is corruption, and asking
	// again computes nothing.
	l = e.log()
	bad := rcs[7]
	bad.Proof.Record = rcs[8].Proof.Record
	if _, err := l.Include(bad); !errors.Is(err, node.ErrUnavailable) {
		t.Fatalf("a receipt that does not match the log, first: %v, want ErrUnavailable", err)
	}
	if err := l.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := l.Include(bad); !errors.Is(err, node.ErrCorrupted) {
			t.Fatalf("a receipt that does not match the log, after the recomputation: %v, want ErrCorrupted", err)
		}
		if err := l.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	checkLog(t, l, e.key, rcs)
	l.Close()

	// Another ledger under the same log state: its records are not the
	// ones the log signed.
	os.Remove(e.hashes())
	other := newEnv(t)
	other.appendBlocks("z", 5, 300, 1, 64, 2)
	l, err = tlog.Open(tlog.Config{DB: e.db, Hashes: e.hashes(), Origin: origin, Key: e.key, Source: tlog.LedgerSource(other.led)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.CatchUp(context.Background()); !errors.Is(err, node.ErrCorrupted) {
		t.Fatalf("catch-up over a changed ledger: %v, want ErrCorrupted", err)
	}
}
