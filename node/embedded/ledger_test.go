package embedded_test

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// ledgerOn opens an embedded ledger whose store closes with it.
type ledgerOn struct {
	*embedded.Ledger
	db *store.DB
}

func (l ledgerOn) Close() error {
	l.Ledger.Close()
	return l.db.Close()
}

func opener(t *testing.T, cfg embedded.Config) ledgertest.Opener {
	dir := t.TempDir()
	key, created, err := node.LoadOrCreateKey(filepath.Join(dir, "node-key.pem"))
	if err != nil || !created {
		t.Fatal(err, created)
	}
	cfg.Key = key
	cfg.Dir = filepath.Join(dir, "blocks")
	if cfg.Name == "" {
		cfg.Name = "test-ledger"
	}
	return func() (node.Ledger, error) {
		db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
		if err != nil {
			return nil, err
		}
		l, err := embedded.Open(db, cfg)
		if err != nil {
			db.Close()
			return nil, err
		}
		return ledgerOn{l, db}, nil
	}
}

func TestConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledgertest.Opener { return opener(t, embedded.Config{}) })
}

func TestConformanceSmallBlocksWithWait(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledgertest.Opener {
		return opener(t, embedded.Config{MaxRecords: 3, MaxWait: 5 * time.Millisecond})
	})
}

func TestKeyFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "k.pem")
	k1, created, err := node.LoadOrCreateKey(p)
	if err != nil || !created {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	k2, created, err := node.LoadOrCreateKey(p)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("reload: %v %v", err, created)
	}
	os.Chmod(p, 0o644)
	if _, _, err := node.LoadOrCreateKey(p); err == nil {
		t.Fatal("world-readable key accepted")
	}
	var _ *ecdsa.PrivateKey = k1
}

func TestNameFixedAtCreation(t *testing.T) {
	dir := t.TempDir()
	key, _, _ := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := embedded.Open(db, embedded.Config{Name: "one", Key: key, Dir: filepath.Join(dir, "blocks")})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := embedded.Open(db, embedded.Config{Name: "two", Key: key, Dir: filepath.Join(dir, "blocks")}); err == nil {
		t.Fatal("opened ledger 'one' as 'two'")
	}
}

// BenchmarkAppend measures durable records/s through the embedded ledger
// with appends of 100 records from 8 goroutines.
func BenchmarkAppend(b *testing.B) {
	dir := b.TempDir()
	key, _, _ := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, err := embedded.Open(db, embedded.Config{Name: "bench", Key: key, Dir: filepath.Join(dir, "blocks")})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			recs := make([]evidence.Record, 100)
			for i := range recs {
				recs[i] = ledgertest.Record(b, "x")
			}
			if _, err := l.Append(context.Background(), recs); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "records/s")
}

func TestConformanceSmallBlockFiles(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) ledgertest.Opener {
		return opener(t, embedded.Config{SegmentSize: 4096})
	})
}

// TestTornBlockFileTail: a crash after a block reached the block file but
// before it was indexed leaves bytes past the committed end; Open cuts
// them off and the ledger carries on from the last indexed block.
func TestTornBlockFileTail(t *testing.T) {
	dir := t.TempDir()
	key, _, _ := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	cfg := embedded.Config{Name: "torn", Key: key, Dir: filepath.Join(dir, "blocks")}
	open := func() (*embedded.Ledger, *store.DB) {
		db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := embedded.Open(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return l, db
	}
	l, db := open()
	r := ledgertest.Record(t, "before")
	rcs, err := l.Append(context.Background(), []evidence.Record{r})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	db.Close()
	seg := filepath.Join(cfg.Dir, "seg-000000.dat")
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(`{"v":1,"header":{"number":1,"previous_hash":"torn`))
	f.Close()

	l, db = open()
	defer db.Close()
	defer l.Close()
	got, err := l.Receipt(context.Background(), r.ID)
	if err != nil || got.BlockHash != rcs[0].BlockHash {
		t.Fatalf("after torn tail: %v", err)
	}
	if _, err := l.Append(context.Background(), []evidence.Record{ledgertest.Record(t, "after")}); err != nil {
		t.Fatal(err)
	}
	ledgertest.VerifyChain(t, l)
}

// copyDir copies the files of dir (flat, as badger's) to a new folder.
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// TestIndexBehindBlockFiles: the index is written unsynced after each
// block's synced write, so a machine crash can leave it blocks behind the
// block files (across a new block file too). Open indexes those blocks
// again from the files: every answered record keeps its receipt, is found
// by digest, and the chain goes on; a write cut short after them is cut
// off.
func TestIndexBehindBlockFiles(t *testing.T) {
	dir := t.TempDir()
	key, _, _ := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	cfg := embedded.Config{Name: "behind", Key: key, Dir: filepath.Join(dir, "blocks"), MaxRecords: 2, SegmentSize: 4096}
	dbDir := filepath.Join(dir, "db")
	open := func() (*embedded.Ledger, *store.DB) {
		db, err := store.Open(dbDir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := embedded.Open(db, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return l, db
	}
	c := context.Background()
	append2 := func(l *embedded.Ledger, seed string) []evidence.Record {
		recs := []evidence.Record{ledgertest.Record(t, seed+"a"), ledgertest.Record(t, seed+"b")}
		if _, err := l.Append(c, recs); err != nil {
			t.Fatal(err)
		}
		return recs
	}
	l, db := open()
	append2(l, "0")
	l.Close()
	db.Close()
	old := copyDir(t, dbDir) // the index as it was after block 0

	l, db = open()
	var later []evidence.Record
	want := map[evidence.ID]string{}
	for i := 1; i <= 12; i++ { // enough to fill more than one 4 KiB block file
		later = append(later, append2(l, fmt.Sprint(i))...)
	}
	for _, r := range later {
		rc, err := l.Receipt(c, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		want[r.ID] = rc.BlockHash
	}
	l.Close()
	db.Close()
	segs, _ := filepath.Glob(filepath.Join(cfg.Dir, "seg-*.dat"))
	if len(segs) < 2 {
		t.Fatalf("%d block files: the test wants blocks across files", len(segs))
	}
	// The machine lost the index's later writes; a last write was cut short.
	os.RemoveAll(dbDir)
	if err := os.Rename(old, dbDir); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte(`{"v":1,"header":{"number":13,"previous_hash":"cut`))
	f.Close()
	unindexed := func() int64 {
		db, err := store.Open(dbDir, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		n, err := embedded.Unindexed(db, cfg.Dir)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := unindexed(); n == 0 {
		t.Fatal("Unindexed sees nothing past the index's end")
	}

	l, db = open()
	defer db.Close()
	defer l.Close()
	info, err := l.Info(c)
	if err != nil || info.Height != 13 {
		t.Fatalf("height %d after recovery, want 13: %v", info.Height, err)
	}
	for _, r := range later {
		rc, err := l.Receipt(c, r.ID)
		if err != nil || rc.BlockHash != want[r.ID] {
			t.Fatalf("record %s after recovery: %v", r.ID, err)
		}
		if _, err := verifier.VerifyReceipt(rc, info.TrustRoots); err != nil {
			t.Fatalf("receipt of %s: %v", r.ID, err)
		}
		ids, err := l.FindDigest(c, r.Digests[0], evidence.ID{}, 10)
		if err != nil || len(ids) != 1 || ids[0] != r.ID {
			t.Fatalf("digest of %s found as %v: %v", r.ID, ids, err)
		}
	}
	append2(l, "after")
	ledgertest.VerifyChain(t, l)
	l.Close()
	db.Close()
	if n := unindexed(); n != 0 {
		t.Fatalf("%d bytes past the index's end after a start", n)
	}
}
