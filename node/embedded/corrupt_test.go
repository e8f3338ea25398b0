package embedded

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// lockedBuffer is a log sink the ledger's goroutines may write to.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fixture is an embedded ledger on disk with a few blocks of records,
// written and closed, to be damaged and reopened.
type fixture struct {
	t    *testing.T
	dir  string
	cfg  Config
	logs *lockedBuffer
	recs [][]evidence.Record // by block

	mu     sync.Mutex
	events []string // OnCorrupted calls: "block first"
}

func newFixture(t *testing.T, blocks, perBlock int) *fixture {
	t.Helper()
	dir := t.TempDir()
	key, _, err := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, dir: dir, logs: &lockedBuffer{}}
	f.cfg = Config{Name: "damaged", Key: key, Dir: filepath.Join(dir, "blocks"), MaxRecords: perBlock,
		Logger: slog.New(slog.NewTextHandler(f.logs, nil)),
		OnCorrupted: func(b int64, first bool) {
			f.mu.Lock()
			f.events = append(f.events, fmt.Sprint(b, first))
			f.mu.Unlock()
		}}
	l, done := f.open()
	for b := 0; b < blocks; b++ {
		recs := make([]evidence.Record, perBlock)
		for i := range recs {
			recs[i] = ledgertest.Record(t, fmt.Sprintf("b%dr%d", b, i))
		}
		rcs, err := l.Append(context.Background(), recs)
		if err != nil {
			t.Fatal(err)
		}
		if rcs[0].BlockNumber != uint64(b) {
			t.Fatalf("block %d written as %d", b, rcs[0].BlockNumber)
		}
		f.recs = append(f.recs, recs)
	}
	done()
	return f
}

// open opens the store and the ledger; close closes both (it runs at
// the test's end too).
func (f *fixture) open() (l *Ledger, close func()) {
	f.t.Helper()
	l, close, err := f.tryOpen()
	if err != nil {
		f.t.Fatal(err)
	}
	return l, close
}

func (f *fixture) tryOpen() (*Ledger, func(), error) {
	db, err := store.Open(filepath.Join(f.dir, "db"), store.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	l, err := Open(db, f.cfg)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	var once sync.Once
	close := func() {
		once.Do(func() {
			l.Close()
			db.Close()
		})
	}
	f.t.Cleanup(close)
	return l, close, nil
}

// withDB runs fn on the store alone (the ledger closed).
func (f *fixture) withDB(fn func(db *store.DB)) {
	f.t.Helper()
	db, err := store.Open(filepath.Join(f.dir, "db"), store.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	fn(db)
}

// check runs Check with the ledger closed.
func (f *fixture) check() *Report {
	f.t.Helper()
	var r *Report
	f.withDB(func(db *store.DB) {
		var err error
		var last uint64
		r, err = Check(db, f.cfg.Dir, func(done, total uint64) {
			if done != last+1 || done > total {
				f.t.Errorf("progress %d/%d after %d", done, total, last)
			}
			last = done
		})
		if err != nil {
			f.t.Fatal(err)
		}
		if last != r.Height {
			f.t.Errorf("progress ended at %d of %d", last, r.Height)
		}
	})
	return r
}

func (f *fixture) seg() string { return segName(f.cfg.Dir, 0) }

// patch changes the byte at the offset found by at in the block file.
func (f *fixture) patch(at func(b []byte) int, to func(byte) byte) {
	f.t.Helper()
	b, err := os.ReadFile(f.seg())
	if err != nil {
		f.t.Fatal(err)
	}
	i := at(b)
	if i < 0 || i >= len(b) {
		f.t.Fatalf("nothing to patch at %d", i)
	}
	old := b[i]
	b[i] = to(old)
	if b[i] == old {
		f.t.Fatal("patch changed nothing")
	}
	if err := os.WriteFile(f.seg(), b, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

// locOf returns where the store says block n lies.
func (f *fixture) locOf(n uint64) loc {
	var at loc
	f.withDB(func(db *store.DB) {
		v, err := db.Get(numKey(prefBlk, n))
		if err != nil {
			f.t.Fatal(err)
		}
		at, _ = parseLoc(v)
	})
	return at
}

// inBlock finds needle inside block n's bytes in the block file.
func (f *fixture) inBlock(n uint64, needle string) func([]byte) int {
	at := f.locOf(n)
	return func(b []byte) int {
		i := bytes.Index(b[at.Off:at.Off+int64(at.Len)], []byte(needle))
		if i < 0 {
			f.t.Fatalf("%q not in block %d", needle, n)
		}
		return int(at.Off) + i + len(needle)
	}
}

// inEntry finds the record entry of r (its plain canonical bytes occur
// only there: the block holds them in base64) and a needle after its ID.
func (f *fixture) inEntry(r evidence.Record, needle string) func([]byte) int {
	return func(b []byte) int {
		i := bytes.Index(b, []byte(`"id":"`+r.ID.String()+`"`))
		if i < 0 || bytes.Count(b, []byte(r.ID.String())) != 1 {
			f.t.Fatalf("record %s not found once in the block file", r.ID)
		}
		j := bytes.Index(b[i:], []byte(needle))
		if j < 0 {
			f.t.Fatalf("%q not in the entry of %s", needle, r.ID)
		}
		return i + j + len(needle)
	}
}

func otherB64(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

func nextDigit(c byte) byte { return '0' + (c-'0'+1)%10 }

// corrupted asserts err is a *node.CorruptedError naming block n with a
// reason containing want.
func corrupted(t *testing.T, what string, err error, n int64, want string) *node.CorruptedError {
	t.Helper()
	var ce *node.CorruptedError
	if !errors.As(err, &ce) || !errors.Is(err, node.ErrCorrupted) {
		t.Fatalf("%s: %v, want a CorruptedError", what, err)
	}
	if ce.Block != n || !strings.Contains(ce.Reason, want) {
		t.Fatalf("%s: %v, want block %d and %q", what, ce, n, want)
	}
	return ce
}

// firstProblem asserts the report's first problem names block n and want.
func firstProblem(t *testing.T, r *Report, n int64, want string) {
	t.Helper()
	if r.OK() {
		t.Fatalf("fsck found nothing wrong (%d blocks, %d records)", r.Blocks, r.Records)
	}
	p := r.Problems[0]
	if p.Block != n || !strings.Contains(p.Reason, want) {
		t.Fatalf("fsck's first problem: %v; want block %d and %q (all: %v)", p, n, want, r.Problems)
	}
}

func TestCheckCleanLedger(t *testing.T) {
	f := newFixture(t, 4, 5)
	r := f.check()
	if !r.OK() || r.Blocks != 4 || r.Records != 20 || r.Ledger != "damaged" || len(r.Notes) != 0 {
		t.Fatalf("clean ledger: %+v %v", r, r.Problems)
	}
	// A clean ledger opens with nothing reported and serves everything.
	l, _ := f.open()
	for _, recs := range f.recs {
		for _, rec := range recs {
			if _, err := l.Receipt(context.Background(), rec.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if f.logs.String() != "" || len(f.events) != 0 {
		t.Fatalf("clean ledger reported: %s %v", f.logs, f.events)
	}
}

// A changed byte inside a block's records (not the last block, which Open
// checks): reading the block fails; once it has, so does every receipt of
// that block; other blocks are served; fsck names the block.
func TestCorruptBlockRecord(t *testing.T) {
	f := newFixture(t, 3, 4)
	f.patch(f.inBlock(1, `"records":["eyJ2Ijox`), otherB64)

	l, done := f.open()
	ctx := context.Background()
	if f.logs.String() != "" {
		t.Fatalf("an intact tail was reported: %s", f.logs)
	}
	_, err := l.Block(ctx, 1)
	corrupted(t, "block 1", err, 1, "do not hash to its data hash")
	rec := f.recs[1][2]
	_, err = l.Receipt(ctx, rec.ID)
	ce := corrupted(t, "receipt in block 1", err, 1, "the block's bytes failed their check")
	if ce.Stored == nil || ce.Stored.ID != rec.ID.String() {
		t.Fatalf("the stored receipt is not kept for verification: %+v", ce.Stored)
	}
	for _, n := range []uint64{0, 2} {
		if _, err := l.Block(ctx, n); err != nil {
			t.Fatalf("block %d: %v", n, err)
		}
		if _, err := l.Receipt(ctx, f.recs[n][0].ID); err != nil {
			t.Fatalf("receipt in block %d: %v", n, err)
		}
	}
	// Logged once for the block, counted every time.
	if got := strings.Count(f.logs.String(), "CORRUPTED"); got != 1 {
		t.Fatalf("logged %d times:\n%s", got, f.logs)
	}
	if !strings.Contains(f.logs.String(), "block 1") {
		t.Fatalf("log does not name the block: %s", f.logs)
	}
	if want := []string{"1 true", "1 false"}; fmt.Sprint(f.events) != fmt.Sprint(want) {
		t.Fatalf("OnCorrupted calls %v, want %v", f.events, want)
	}
	done()
	firstProblem(t, f.check(), 1, "do not hash to its data hash")
}

// A changed byte in a record's entry (the bytes a receipt is built from):
// that receipt is refused, with the stored receipt kept for verification;
// the block and its other records are served.
func TestCorruptRecordEntry(t *testing.T) {
	f := newFixture(t, 3, 4)
	rec := f.recs[0][1]
	f.patch(f.inEntry(rec, `"submitted_at":"20`), nextDigit)

	l, done := f.open()
	ctx := context.Background()
	_, err := l.Receipt(ctx, rec.ID)
	ce := corrupted(t, "receipt", err, 0, "does not match the block's data hash")
	if ce.Stored == nil || ce.Record != rec.ID.String() || ce.Stored.SubmittedAt == rec.SubmittedAt.UTC().Format(evidence.TimeLayout) {
		t.Fatalf("stored receipt: %+v", ce.Stored)
	}
	if _, err := l.Receipt(ctx, f.recs[0][2].ID); err != nil {
		t.Fatalf("another receipt of the block: %v", err)
	}
	if _, err := l.Block(ctx, 0); err != nil {
		t.Fatalf("the block itself: %v", err)
	}
	done()
	r := f.check()
	firstProblem(t, r, 0, "its record bytes were changed")
	if r.Problems[0].Record != rec.ID.String() {
		t.Fatalf("fsck names record %q, want %s", r.Problems[0].Record, rec.ID)
	}
}

// A changed byte in a block's seal: the block is refused; fsck says the
// seal does not verify.
func TestCorruptSeal(t *testing.T) {
	f := newFixture(t, 3, 2)
	f.patch(f.inBlock(0, `"signature":"`), otherB64)

	l, done := f.open()
	_, err := l.Block(context.Background(), 0)
	corrupted(t, "block 0", err, 0, "the seals differ")
	done()
	firstProblem(t, f.check(), 0, "its seal does not verify")
}

// A changed seal time (what a receipt shows as the ledger time) in the
// stored header is caught by the signature fsck checks.
func TestCorruptSealTime(t *testing.T) {
	f := newFixture(t, 2, 2)
	f.patch(f.inBlock(0, `"time":"20`), nextDigit)
	firstProblem(t, f.check(), 0, "its seal does not verify")
}

// Corruption in the last block is found by Open, before anything is
// served: logged, counted, and the block's receipts refused; the node
// still starts, serves the other blocks and appends after it.
func TestCorruptTailFoundAtOpen(t *testing.T) {
	f := newFixture(t, 2, 3)
	f.patch(f.inBlock(1, `"records":["eyJ2Ijox`), otherB64)

	l, done := f.open()
	if !strings.Contains(f.logs.String(), "CORRUPTED") || !strings.Contains(f.logs.String(), "block 1") || fmt.Sprint(f.events) != "[1 true]" {
		t.Fatalf("Open did not report the tail: %q %v", f.logs, f.events)
	}
	ctx := context.Background()
	for _, rec := range f.recs[1] {
		_, err := l.Receipt(ctx, rec.ID)
		corrupted(t, "receipt in the last block", err, 1, "do not hash to its data hash")
	}
	if _, err := l.Receipt(ctx, f.recs[0][0].ID); err != nil {
		t.Fatal(err)
	}
	rcs, err := l.Append(ctx, []evidence.Record{ledgertest.Record(t, "after")})
	if err != nil || rcs[0].BlockNumber != 2 {
		t.Fatalf("append after a corrupted tail: %v", err)
	}
	if _, err := l.Block(ctx, 2); err != nil {
		t.Fatal(err)
	}
	done()
	r := f.check()
	firstProblem(t, r, 1, "do not hash to its data hash")
	if len(r.Problems) != 1 {
		t.Fatalf("the chain past the bad block should hold: %v", r.Problems)
	}
}

// A changed record entry in the last block is found by Open too.
func TestCorruptTailEntryFoundAtOpen(t *testing.T) {
	f := newFixture(t, 2, 3)
	rec := f.recs[1][2]
	f.patch(f.inEntry(rec, `"submitted_at":"20`), nextDigit)
	l, _ := f.open()
	if !strings.Contains(f.logs.String(), "block 1") || !strings.Contains(f.logs.String(), rec.ID.String()) {
		t.Fatalf("Open did not report the entry: %q", f.logs)
	}
	_, err := l.Receipt(context.Background(), rec.ID)
	corrupted(t, "receipt", err, 1, "does not match the block's data hash")
	if _, err := l.Receipt(context.Background(), f.recs[1][0].ID); err != nil {
		t.Fatalf("an intact entry of the block: %v", err)
	}
}

// A block file cut short inside the last block: the node refuses to
// start, naming the block; fsck names it.
func TestTruncatedTail(t *testing.T) {
	f := newFixture(t, 3, 2)
	at := f.locOf(2)
	if err := os.Truncate(f.seg(), at.Off+int64(at.Len)/2); err != nil {
		t.Fatal(err)
	}
	_, _, err := f.tryOpen()
	corrupted(t, "open", err, 2, "truncated")
	firstProblem(t, f.check(), 2, "cannot read it from the block file")

	// Cut inside the last block's record entries: the same.
	f = newFixture(t, 3, 2)
	at = f.locOf(2)
	if err := os.Truncate(f.seg(), at.Off+int64(at.Len)+10); err != nil {
		t.Fatal(err)
	}
	_, _, err = f.tryOpen()
	corrupted(t, "open", err, 2, "truncated")
	firstProblem(t, f.check(), 2, "cannot read its record entries")
}

// An index entry pointing at another record's entry: the receipt is
// refused (never another record's); fsck names the record.
func TestIndexPointsElsewhere(t *testing.T) {
	f := newFixture(t, 3, 3)
	victim, other := f.recs[0][0], f.recs[0][2]
	f.withDB(func(db *store.DB) {
		v, err := db.Get(recKey(other.ID))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Set(recKey(victim.ID), v); err != nil {
			t.Fatal(err)
		}
	})
	l, done := f.open()
	_, err := l.Receipt(context.Background(), victim.ID)
	corrupted(t, "receipt", err, 0, "points at the entry of record "+other.ID.String())
	done()
	r := f.check()
	firstProblem(t, r, 0, "its index entry points at")
	if r.Problems[0].Record != victim.ID.String() {
		t.Fatalf("fsck names %q, want %s", r.Problems[0].Record, victim.ID)
	}
}

// A record in the index that no block holds.
func TestIndexStrayRecord(t *testing.T) {
	f := newFixture(t, 2, 2)
	stray := ledgertest.Record(t, "stray")
	f.withDB(func(db *store.DB) {
		v, _ := db.Get(recKey(f.recs[1][0].ID))
		db.Set(recKey(stray.ID), v)
	})
	r := f.check()
	firstProblem(t, r, -1, "another record's entry")
	if r.Problems[0].Record != stray.ID.String() {
		t.Fatalf("fsck names %q, want %s", r.Problems[0].Record, stray.ID)
	}
}

// A crash's unindexed tail is a note, not a problem.
func TestCheckUnindexedTail(t *testing.T) {
	f := newFixture(t, 2, 2)
	fh, err := os.OpenFile(f.seg(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.Write([]byte(`{"v":1,"header":{"number":2`))
	fh.Close()
	r := f.check()
	if !r.OK() || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "unindexed bytes") {
		t.Fatalf("unindexed tail: %v %v", r.Problems, r.Notes)
	}
}

// Across block files (small segments), the whole ledger checks clean, and
// a changed byte in a later file is found in the right block.
func TestCheckManySegments(t *testing.T) {
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, logs: &lockedBuffer{}}
	key, _, _ := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	f.cfg = Config{Name: "segments", Key: key, Dir: filepath.Join(dir, "blocks"), MaxRecords: 3, SegmentSize: 4096, Logger: slog.New(slog.NewTextHandler(f.logs, nil))}
	l, done := f.open()
	for b := 0; b < 12; b++ {
		recs := []evidence.Record{ledgertest.Record(t, "a"), ledgertest.Record(t, "b"), ledgertest.Record(t, "c")}
		if _, err := l.Append(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		f.recs = append(f.recs, recs)
	}
	done()
	if r := f.check(); !r.OK() || r.Blocks != 12 {
		t.Fatalf("clean: %v", r.Problems)
	}
	at := f.locOf(7)
	if at.Seg == 0 {
		t.Fatal("the ledger fits one block file; the test means nothing")
	}
	seg := segName(f.cfg.Dir, at.Seg)
	b, _ := os.ReadFile(seg)
	i := int(at.Off) + bytes.Index(b[at.Off:at.Off+int64(at.Len)], []byte(`"data_hash":"`)) + len(`"data_hash":"`)
	b[i] = map[bool]byte{true: 'a', false: 'b'}[b[i] != 'a']
	os.WriteFile(seg, b, 0o600)
	firstProblem(t, f.check(), 7, "")
}

// Check refuses a store with no ledger.
func TestCheckNoLedger(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Check(db, t.TempDir(), nil); !errors.Is(err, ErrNoLedger) {
		t.Fatalf("empty store: %v", err)
	}
}
