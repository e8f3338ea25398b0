package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/store/storetest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// TestBlockFilesDiskFull: the block files on a 1 MiB file system that fills
// up. The append that meets ENOSPC fails as ErrUnavailable, leaves no byte
// of its block behind, and everything written before is served; once
// space is freed, appends go on, and the ledger checks clean.
func TestBlockFilesDiskFull(t *testing.T) {
	fsDir := storetest.Tmpfs(t, 1<<20)
	dir := t.TempDir()
	key, _, err := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blocks := filepath.Join(fsDir, "blocks")
	l, err := embedded.Open(db, embedded.Config{Name: "full", Key: key, Dir: blocks, MaxRecords: 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	appendN := func(n int) ([]verifier.Receipt, error) {
		recs := make([]evidence.Record, n)
		for i := range recs {
			recs[i] = ledgertest.Record(t, fmt.Sprint(i))
		}
		return l.Append(ctx, recs)
	}
	var acked []verifier.Receipt
	for range 5 {
		rcs, err := appendN(20)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, rcs...)
	}
	filler := filepath.Join(fsDir, "filler")
	storetest.Fill(t, filler, 30<<10) // room for about one more block of 20
	var failed error
	for i := 0; i < 50 && failed == nil; i++ {
		rcs, err := appendN(20)
		if err != nil {
			failed = err
			break
		}
		acked = append(acked, rcs...)
	}
	if !errors.Is(failed, syscall.ENOSPC) || !errors.Is(failed, node.ErrUnavailable) {
		t.Fatalf("append on a full disk: %v (want ErrUnavailable wrapping ENOSPC)", failed)
	}
	head, err := embedded.ReadHead(db)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(blocks, embedded.SegmentFile(head.Segment)))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != head.End {
		t.Fatalf("after ENOSPC the block file has %d bytes, the head says %d: a half-written block was left", fi.Size(), head.End)
	}
	for _, rc := range acked {
		id, _ := evidence.ParseID(rc.ID)
		if got, err := l.Receipt(ctx, id); err != nil || got.BlockHash != rc.BlockHash {
			t.Fatalf("reading %s on a full disk: %v", rc.ID, err)
		}
	}
	if _, err := l.Block(ctx, head.Height-1); err != nil {
		t.Fatalf("reading the last block on a full disk: %v", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	rcs, err := appendN(20)
	if err != nil {
		t.Fatalf("append after space was freed: %v", err)
	}
	acked = append(acked, rcs...)
	l.Close()
	r, err := embedded.Check(db, blocks, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() || len(r.Notes) > 0 || r.Records != uint64(len(acked)) {
		t.Fatalf("after the disk was full: %d records checked (%d acknowledged), problems %v, notes %v", r.Records, len(acked), r.Problems, r.Notes)
	}
	t.Logf("%d records acknowledged, %d blocks; the append on the full disk failed with: %v", len(acked), r.Blocks, failed)
}
