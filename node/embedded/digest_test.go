package embedded

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// TestDigestBackfill: a ledger written before the digest index existed
// (its index keys removed here, as an older binary left it) is indexed
// when opened, and only then: a ledger opened again does not back-fill.
func TestDigestBackfill(t *testing.T) {
	dir := t.TempDir()
	key, _, _ := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	var logs bytes.Buffer
	cfg := Config{Name: "backfill", Key: key, Dir: filepath.Join(dir, "blocks"), MaxRecords: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	open := func() (*Ledger, *store.DB) {
		t.Helper()
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
	l, db := open()
	var recs []evidence.Record
	for i := range 5 {
		r := ledgertest.Record(t, "same content")
		if i == 4 {
			r = ledgertest.Record(t, "other content")
		}
		if _, err := l.Append(context.Background(), []evidence.Record{r}); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	want := []evidence.ID{recs[0].ID, recs[1].ID, recs[2].ID, recs[3].ID}
	find := func(l *Ledger) []evidence.ID {
		t.Helper()
		ids, err := l.FindDigest(context.Background(), recs[0].Digests[0], evidence.ID{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got := find(l); !slices.Equal(got, want) {
		t.Fatalf("FindDigest = %v, want %v", got, want)
	}
	l.Close()
	// As an older binary left it: no index keys, no mark.
	var b store.Batch
	err := db.Scan([]byte("L/d"), nil, func(k, _ []byte) (bool, error) {
		b.Delete(append([]byte(nil), k...))
		return true, nil
	})
	if err != nil || b.Len() < 6 {
		t.Fatalf("index keys: %d, %v", b.Len(), err)
	}
	if err := db.Write(&b); err != nil {
		t.Fatal(err)
	}
	db.Close()

	l, db = open()
	if got := find(l); !slices.Equal(got, want) {
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
	l, db = open()
	defer db.Close()
	defer l.Close()
	if got := find(l); !slices.Equal(got, append(want, more.ID)) {
		t.Fatalf("after restart: FindDigest = %v", got)
	}
	if strings.Contains(logs.String(), "back-filled") {
		t.Errorf("an indexed ledger was back-filled again: %q", logs.String())
	}
}
