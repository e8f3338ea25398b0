package backup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/backup"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// dataDir is a node's data directory with an embedded ledger on it.
type dataDir struct {
	dir string
	db  *store.DB
	l   *embedded.Ledger
}

func openData(t *testing.T, dir string, segSize int64) *dataDir {
	t.Helper()
	key, _, err := node.LoadOrCreateKey(filepath.Join(dir, "node-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := embedded.Open(db, embedded.Config{Name: "backup-test", Key: key, Dir: filepath.Join(dir, "blocks"), MaxRecords: 50, SegmentSize: segSize})
	if err != nil {
		t.Fatal(err)
	}
	d := &dataDir{dir: dir, db: db, l: l}
	t.Cleanup(d.close)
	return d
}

func (d *dataDir) close() {
	if d.l != nil {
		d.l.Close()
		d.db.Close()
		d.l = nil
	}
}

func (d *dataDir) append(t *testing.T, n int) []verifier.Receipt {
	t.Helper()
	recs := make([]evidence.Record, n)
	for i := range recs {
		recs[i] = ledgertest.Record(t, fmt.Sprint(i))
	}
	rcs, err := d.l.Append(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	return rcs
}

func writeBackup(t *testing.T, d *dataDir, path string, base *backup.Info) backup.Info {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	info, err := backup.Write(f, backup.Options{DB: d.db, DataDir: d.dir, Base: base, Track: node.DeletedPrefixes()})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return info
}

// checkRestored opens the restored directory, runs the full check and
// compares every receipt with the one acknowledged.
func checkRestored(t *testing.T, dir string, want []verifier.Receipt) {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := embedded.Check(db, filepath.Join(dir, "blocks"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || len(r.Notes) > 0 {
		t.Fatalf("restored ledger: problems %v, notes %v", r.Problems, r.Notes)
	}
	db.Close()
	d := openData(t, dir, 4096)
	for _, rc := range want {
		id, _ := evidence.ParseID(rc.ID)
		got, err := d.l.Receipt(context.Background(), id)
		if err != nil {
			t.Fatalf("restored %s: %v", rc.ID, err)
		}
		if got.BlockHash != rc.BlockHash || got.BlockNumber != rc.BlockNumber || got.TxID != rc.TxID {
			t.Fatalf("restored %s: block %d %s, acknowledged block %d %s", rc.ID, got.BlockNumber, got.BlockHash, rc.BlockNumber, rc.BlockHash)
		}
	}
	ledgertest.VerifyChain(t, d.l)
	d.close()
}

// TestBackupRestore: a full backup taken while blocks are appended, an
// incremental one after more blocks (across block files) and queue keys
// deleted; restoring the full one, and the full and the incremental one,
// gives ledgers that check clean and hold every record acknowledged before
// each backup began.
func TestBackupRestore(t *testing.T) {
	src := openData(t, t.TempDir(), 16<<10) // small block files: backups cross several
	os.WriteFile(filepath.Join(src.dir, "platforms.json"), []byte(`{"platforms":[]}`), 0o600)
	var before []verifier.Receipt
	for range 4 {
		before = append(before, src.append(t, 30)...)
	}
	// Queue keys: deleted after the full backup, they must not come back.
	var qb store.Batch
	for i := range 10 {
		qb.Set(append(bytes.Clone(node.DeletedPrefixes()[0]), byte(i)), []byte("queued"))
	}
	if err := src.db.Write(&qb); err != nil {
		t.Fatal(err)
	}

	// Appends go on while the full backup is written.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var during []verifier.Receipt
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			rcs := src.append(t, 7)
			mu.Lock()
			during = append(during, rcs...)
			mu.Unlock()
		}
	}()
	out := t.TempDir()
	full := writeBackup(t, src, filepath.Join(out, "full.tar"), nil)
	stop.Store(true)
	wg.Wait()
	if full.Manifest.Kind != backup.KindFull || full.Manifest.Head.Height < 4 || full.Manifest.Ledger != "backup-test" {
		t.Fatalf("full backup: %+v", full.Manifest)
	}

	var qd store.Batch
	for i := range 10 {
		qd.Delete(append(bytes.Clone(node.DeletedPrefixes()[0]), byte(i)))
	}
	if err := src.db.Write(&qd); err != nil {
		t.Fatal(err)
	}
	var after []verifier.Receipt
	for range 10 {
		after = append(after, src.append(t, 30)...)
	}
	inc := writeBackup(t, src, filepath.Join(out, "inc.tar"), &full)
	if inc.Manifest.Kind != backup.KindIncremental || inc.Manifest.Base != full.ID || inc.Manifest.Head.Segment <= full.Manifest.Head.Segment {
		t.Fatalf("incremental backup: %+v (full: %+v)", inc.Manifest, full.Manifest.Head)
	}
	t.Logf("full backup %d bytes (height %d), incremental %d bytes (height %d)", full.Size, full.Manifest.Head.Height, inc.Size, inc.Manifest.Head.Height)

	// The full backup alone: every record acknowledged before it began.
	one := filepath.Join(t.TempDir(), "one")
	if _, err := backup.Restore(one, []string{filepath.Join(out, "full.tar")}); err != nil {
		t.Fatal(err)
	}
	checkRestored(t, one, before)
	if b, err := os.ReadFile(filepath.Join(one, "platforms.json")); err != nil || string(b) != `{"platforms":[]}` {
		t.Fatalf("platforms.json restored: %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(one, "node-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("node-key.pem restored: %v %v", fi, err)
	}

	// Full + incremental: everything, and the deleted queue keys gone.
	src.close()
	two := filepath.Join(t.TempDir(), "two")
	res, err := backup.Restore(two, []string{filepath.Join(out, "full.tar"), filepath.Join(out, "inc.tar")})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restored: %+v", res)
	all := append(append(before, during...), after...)
	checkRestored(t, two, all)
	db, err := store.Open(filepath.Join(two, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	db.Scan(node.DeletedPrefixes()[0], nil, func(_, _ []byte) (bool, error) { n++; return true, nil })
	db.Close()
	if n != 0 {
		t.Fatalf("%d deleted queue keys came back", n)
	}

	// Refusals: out of order, a non-empty directory, a backup missing.
	if _, err := backup.Restore(filepath.Join(t.TempDir(), "x"), []string{filepath.Join(out, "inc.tar")}); !errors.Is(err, backup.ErrChain) {
		t.Fatalf("incremental alone: %v", err)
	}
	if _, err := backup.Restore(filepath.Join(t.TempDir(), "x"), []string{filepath.Join(out, "full.tar"), filepath.Join(out, "full.tar")}); !errors.Is(err, backup.ErrChain) {
		t.Fatalf("two full backups: %v", err)
	}
	if _, err := backup.Restore(two, []string{filepath.Join(out, "full.tar")}); !errors.Is(err, backup.ErrNotEmpty) {
		t.Fatalf("into a non-empty directory: %v", err)
	}
}

// TestIncrementalRefusesAnotherLedger: a base from another ledger, or
// ahead of this one, is refused.
func TestIncrementalRefusesAnotherLedger(t *testing.T) {
	a := openData(t, t.TempDir(), 1<<20)
	a.append(t, 30)
	fullA := writeBackup(t, a, filepath.Join(t.TempDir(), "a.tar"), nil)
	b := openData(t, t.TempDir(), 1<<20)
	b.append(t, 10)
	var buf bytes.Buffer
	_, err := backup.Write(&buf, backup.Options{DB: b.db, DataDir: b.dir, Base: &fullA})
	if !errors.Is(err, backup.ErrBase) {
		t.Fatalf("a base of another ledger copy: %v", err)
	}
}

// TestEveryChangedByteIsRefused: a backup with any one byte changed, or cut
// short, or with bytes added, is refused, and a restore of it writes
// nothing.
func TestEveryChangedByteIsRefused(t *testing.T) {
	src := openData(t, t.TempDir(), 1<<20)
	src.append(t, 3)
	out := t.TempDir()
	p := filepath.Join(out, "full.tar")
	writeBackup(t, src, p, nil)
	good, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(p); err != nil {
		t.Fatalf("intact backup: %v", err)
	}
	t.Logf("checking all %d bytes", len(good))
	bad := filepath.Join(out, "bad.tar")
	refused := func(what string, b []byte) {
		t.Helper()
		if _, err := backup.VerifyBytes(b); !errors.Is(err, backup.ErrDamaged) {
			t.Fatalf("%s: not refused: %v", what, err)
		}
	}
	b := bytes.Clone(good)
	for i := range b {
		b[i] ^= 0x01
		refused(fmt.Sprintf("byte %d changed", i), b)
		b[i] ^= 0x01
	}
	refused("cut short", good[:len(good)-512])
	refused("a block added", append(bytes.Clone(good), make([]byte, 512)...))
	refused("empty", nil)
	b[len(b)/2] ^= 0x80
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(bad); !errors.Is(err, backup.ErrDamaged) {
		t.Fatalf("a changed byte in a file: not refused: %v", err)
	}
	dst := filepath.Join(t.TempDir(), "restored")
	if _, err := backup.Restore(dst, []string{bad}); !errors.Is(err, backup.ErrDamaged) {
		t.Fatalf("restore of a damaged backup: %v", err)
	}
	if _, err := os.Stat(dst); !os.IsNotExist(err) {
		t.Fatalf("a refused restore wrote %s: %v", dst, err)
	}
}
