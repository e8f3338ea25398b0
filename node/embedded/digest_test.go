package embedded

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// openAt opens the embedded ledger of dir (its store under db, its blocks
// under blocks), cutting blocks at maxRecords, logging to logs.
func openAt(t *testing.T, dir string, logs *bytes.Buffer, maxRecords int) (*Ledger, *store.DB) {
	t.Helper()
	key, _, err := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Name: "backfill", Key: key, Dir: filepath.Join(dir, "blocks"), MaxRecords: maxRecords, Logger: slog.New(slog.NewTextHandler(logs, nil))}
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(db, cfg)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	return l, db
}

// appendSame appends five records, one a block: four of one content and
// the one at index other of another. It returns them.
func appendSame(t *testing.T, l *Ledger, other int) []evidence.Record {
	t.Helper()
	var recs []evidence.Record
	for i := range 5 {
		r := ledgertest.Record(t, "same content")
		if i == other {
			r = ledgertest.Record(t, "other content")
		}
		if _, err := l.Append(context.Background(), []evidence.Record{r}); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	return recs
}

func find(t *testing.T, l *Ledger, d evidence.Digest) []evidence.ID {
	t.Helper()
	ids, err := l.FindDigest(context.Background(), d, evidence.ID{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// keys returns the store's keys under prefix.
func keys(t *testing.T, db *store.DB, prefix string) [][]byte {
	t.Helper()
	var ks [][]byte
	err := db.Scan([]byte(prefix), nil, func(k, _ []byte) (bool, error) {
		ks = append(ks, append([]byte(nil), k...))
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// flipIn changes, in the block file, the first byte of old found in the
// stored bytes at the location the store key names (a block's L/b/ key,
// a record's L/r/ key): as damage on disk would.
func flipIn(t *testing.T, dir string, db *store.DB, key, old []byte) {
	t.Helper()
	v, err := db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	at, err := parseLoc(v)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(segName(filepath.Join(dir, "blocks"), at.Seg), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, at.Len)
	if _, err := f.ReadAt(b, at.Off); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, old)
	if i < 0 {
		t.Fatalf("%q is not in the stored bytes of %q", old, key)
	}
	c := byte('0')
	if b[i] == '0' {
		c = '1'
	}
	if _, err := f.WriteAt([]byte{c}, at.Off+int64(i)); err != nil {
		t.Fatal(err)
	}
}

// oldDigestKey is a key of the first digest index.
func oldDigestKey(d evidence.Digest, id evidence.ID) []byte {
	return append(append(append(append([]byte("L/d/"), d.Algorithm...), '/'), d.Value...), id[:]...)
}

// TestDigestBackfill: a ledger whose digest index is missing (its keys
// and mark removed here, as a crash part way through a back-fill could
// leave it) is indexed when opened, and only then: a ledger opened again
// does not back-fill.
func TestDigestBackfill(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	l, db := openAt(t, dir, &logs, 2)
	recs := appendSame(t, l, 4)
	want := []evidence.ID{recs[0].ID, recs[1].ID, recs[2].ID, recs[3].ID}
	if got := find(t, l, recs[0].Digests[0]); !slices.Equal(got, want) {
		t.Fatalf("FindDigest = %v, want %v", got, want)
	}
	l.Close()
	var b store.Batch
	for _, k := range append(keys(t, db, string(prefDig)), keyDigests) {
		b.Delete(k)
	}
	if b.Len() != 6 {
		t.Fatalf("index keys and mark: %d, want 6", b.Len())
	}
	if err := db.Write(&b); err != nil {
		t.Fatal(err)
	}
	db.Close()

	l, db = openAt(t, dir, &logs, 2)
	if got := find(t, l, recs[0].Digests[0]); !slices.Equal(got, want) {
		t.Fatalf("after back-fill: FindDigest = %v, want %v", got, want)
	}
	if !strings.Contains(logs.String(), "back-filled 5 records of blocks 0–4") {
		t.Errorf("log: %q", logs.String())
	}
	// New blocks are indexed as they are written, and the mark follows.
	more := ledgertest.Record(t, "same content")
	if _, err := l.Append(context.Background(), []evidence.Record{more}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	db.Close()
	logs.Reset()
	l, db = openAt(t, dir, &logs, 2)
	defer db.Close()
	defer l.Close()
	if got := find(t, l, recs[0].Digests[0]); !slices.Equal(got, append(want, more.ID)) {
		t.Fatalf("after restart: FindDigest = %v", got)
	}
	if strings.Contains(logs.String(), "back-filled") {
		t.Errorf("an indexed ledger was back-filled again: %q", logs.String())
	}
}

// TestDigestIndexMigration: a ledger left by a binary of the first digest
// index (keys L/d/<algorithm>/<digest><ID>, its mark L/dix, no tag key)
// gets its old keys converted when opened, no block read: a record of a
// block whose bytes were damaged since stays found by digest. The blocks
// past the old mark are back-filled from the block files; no old key is
// left.
func TestDigestIndexMigration(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	l, db := openAt(t, dir, &logs, 2)
	recs := appendSame(t, l, 4)
	l.Close()
	// As the older binary left it, its mark at block 3: blocks 3 and 4
	// were written before it indexed them.
	var b store.Batch
	for _, k := range append(keys(t, db, string(prefDig)), keyDigests, keyDigKey) {
		b.Delete(k)
	}
	for _, r := range recs[:3] {
		b.Set(oldDigestKey(r.Digests[0], r.ID), nil)
	}
	b.Set([]byte("L/dix"), []byte{0, 0, 0, 0, 0, 0, 0, 3})
	if err := db.Write(&b); err != nil {
		t.Fatal(err)
	}
	// Block 1 (recs[1]) damaged: a back-fill from the block files could
	// not index it.
	flipIn(t, dir, db, numKey(prefBlk, 1), []byte(`"seal"`))
	db.Close()

	l, db = openAt(t, dir, &logs, 2)
	defer db.Close()
	defer l.Close()
	want := []evidence.ID{recs[0].ID, recs[1].ID, recs[2].ID, recs[3].ID}
	if got := find(t, l, recs[0].Digests[0]); !slices.Equal(got, want) {
		t.Fatalf("after the migration: FindDigest = %v, want %v", got, want)
	}
	if got := find(t, l, recs[4].Digests[0]); !slices.Equal(got, []evidence.ID{recs[4].ID}) {
		t.Fatalf("after the migration: FindDigest of the other content = %v", got)
	}
	if old := keys(t, db, "L/d"); len(old) != 0 {
		t.Errorf("%d keys of the old index are left, the first %q", len(old), old[0])
	}
	if n := len(keys(t, db, string(prefDig))); n != 5 {
		t.Errorf("%d keys in the new index, want 5", n)
	}
	for _, want := range []string{"converted 3 keys of the index before it", "back-filled 2 records of blocks 3–4"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q: %q", want, logs.String())
		}
	}
}

// TestDigestTagCollision: a key whose tag is the digest's but whose record
// holds another digest (a tag collision), or names a record the ledger
// does not hold, is not an answer; a record whose entry was changed on
// disk is one, and its receipt reports the damage.
func TestDigestTagCollision(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	l, db := openAt(t, dir, &logs, 2)
	defer db.Close()
	defer l.Close()
	recs := appendSame(t, l, 1)
	d := recs[0].Digests[0]
	absent := ledgertest.Record(t, "never appended").ID
	var b store.Batch
	b.Set(append(l.digests.prefix(d), recs[1].ID[:]...), nil)
	b.Set(append(l.digests.prefix(d), absent[:]...), nil)
	if err := db.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := []evidence.ID{recs[0].ID, recs[2].ID, recs[3].ID, recs[4].ID}
	if got := find(t, l, d); !slices.Equal(got, want) {
		t.Fatalf("FindDigest = %v, want %v (not %s, %s)", got, want, recs[1].ID, absent)
	}
	// A limit counts answers, not keys: recs[1]'s key is passed over.
	got, err := l.FindDigest(context.Background(), d, evidence.ID{}, 2)
	if err != nil || !slices.Equal(got, want[:2]) {
		t.Fatalf("FindDigest, limit 2 = %v, %v; want %v", got, err, want[:2])
	}
	// Another ledger's tags are not this one's.
	other, odb := openAt(t, t.TempDir(), &logs, 2)
	defer odb.Close()
	defer other.Close()
	if bytes.Equal(other.digests.prefix(d), l.digests.prefix(d)) {
		t.Error("two ledgers gave one digest the same tag")
	}
	// recs[2]'s entry on disk now holds another digest: it is kept, not
	// "not recorded", and its receipt says why it cannot be served.
	flipIn(t, dir, db, recKey(recs[2].ID), []byte(hex.EncodeToString(d.Value)))
	if got := find(t, l, d); !slices.Equal(got, want) {
		t.Fatalf("with recs[2]'s entry changed: FindDigest = %v, want %v", got, want)
	}
	if _, err := l.Receipt(context.Background(), recs[2].ID); !errors.Is(err, node.ErrCorrupted) {
		t.Fatalf("receipt of the changed entry: %v", err)
	}
}

// TestLargestBlocks: blocks of MaxBlockRecords records, each with two
// digests, are written (a block's index is one store batch), back-filled
// (many such blocks are more than one batch) and found by digest; larger
// blocks are refused when the ledger is opened.
func TestLargestBlocks(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	l, db := openAt(t, dir, &logs, MaxBlockRecords)
	var all []evidence.Record
	for range 2 {
		recs := make([]evidence.Record, MaxBlockRecords)
		for i := range recs {
			recs[i] = ledgertest.Record(t, "large")
			recs[i].Digests = append(recs[i].Digests, evidence.Sum(evidence.SM3, []byte("large")))
		}
		if _, err := l.Append(context.Background(), recs); err != nil {
			t.Fatalf("a block of %d records: %v", len(recs), err)
		}
		all = append(all, recs...)
	}
	l.Close()
	// As the first digest index left it, 16,000 keys: converted in more
	// than one batch. Then without a mark: back-filled, in more than one.
	ks := append(keys(t, db, string(prefDig)), keyDigests)
	for len(ks) > 0 {
		var b store.Batch
		for _, k := range ks[:min(len(ks), store.BulkOps)] {
			b.Delete(k)
		}
		ks = ks[min(len(ks), store.BulkOps):]
		if err := db.Write(&b); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < len(all); i += 2000 {
		var b store.Batch
		for _, r := range all[i : i+2000] {
			for _, d := range r.Digests {
				b.Set(oldDigestKey(d, r.ID), nil)
			}
		}
		if err := db.Write(&b); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	l, db = openAt(t, dir, &logs, MaxBlockRecords)
	l.Close()
	if n := len(keys(t, db, string(prefDig))); n != 4*MaxBlockRecords {
		t.Errorf("%d keys converted, want %d", n, 4*MaxBlockRecords)
	}
	var b store.Batch
	b.Delete(keyDigests)
	if err := db.Write(&b); err != nil {
		t.Fatal(err)
	}
	db.Close()
	l, db = openAt(t, dir, &logs, MaxBlockRecords)
	defer db.Close()
	defer l.Close()
	for _, want := range []string{fmt.Sprintf("converted %d keys", 4*MaxBlockRecords), fmt.Sprintf("back-filled %d records of blocks 0–1", 2*MaxBlockRecords)} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q: %q", want, logs.String())
		}
	}
	last, before := all[len(all)-1], all[len(all)-2].ID
	for _, d := range last.Digests {
		if got := find(t, l, d); len(got) != 10 {
			t.Errorf("%s: FindDigest found %d, want its limit of 10", d.Algorithm, len(got))
		}
		if got, err := l.FindDigest(context.Background(), d, before, 5); err != nil || !slices.Equal(got, []evidence.ID{last.ID}) {
			t.Errorf("%s: FindDigest after %s = %v, %v; want the last record", d.Algorithm, before, got, err)
		}
	}
	big := make([]evidence.Record, 4400)
	for i := range big {
		big[i].Digests = last.Digests
	}
	if _, err := l.Append(context.Background(), big); err == nil || !strings.Contains(err.Error(), "with 13200 index keys (at most 12936)") {
		t.Errorf("an append of %d records: %v", len(big), err)
	}
	cfg := l.cfg
	cfg.MaxRecords = MaxBlockRecords + 1
	if _, err := Open(db, cfg); err == nil || !strings.Contains(err.Error(), "at most 4000") {
		t.Errorf("blocks of %d records: %v", cfg.MaxRecords, err)
	}
}
