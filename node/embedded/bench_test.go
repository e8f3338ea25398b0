package embedded_test

import (
	"context"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// benchLedger is an embedded ledger of blocks × perBlock records on disk,
// with the IDs of its records.
func benchLedger(b *testing.B, blocks, perBlock int) (*embedded.Ledger, []evidence.ID) {
	b.Helper()
	dir := b.TempDir()
	key, _, _ := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	l, err := embedded.Open(db, embedded.Config{Name: "bench", Key: key, Dir: filepath.Join(dir, "blocks"), MaxRecords: perBlock})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	var ids []evidence.ID
	for i := 0; i < blocks; i++ {
		recs := make([]evidence.Record, perBlock)
		for j := range recs {
			recs[j] = ledgertest.Record(b, "bench")
			ids = append(ids, recs[j].ID)
		}
		if _, err := l.Append(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	return l, ids
}

// BenchmarkReceipt measures Receipt (what GET /evidence/{id} reads) over
// 20 blocks of 1000 records, IDs taken in a scattered order.
func BenchmarkReceipt(b *testing.B) {
	l, ids := benchLedger(b, 20, 1000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Receipt(ctx, ids[(i*7919)%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReceiptParallel is BenchmarkReceipt from GOMAXPROCS goroutines.
func BenchmarkReceiptParallel(b *testing.B) {
	l, ids := benchLedger(b, 20, 1000)
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := l.Receipt(ctx, ids[(i*7919)%len(ids)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBlock measures Block (what packages and GET /blocks/{n} read)
// on blocks of 1000 records.
func BenchmarkBlock(b *testing.B) {
	l, _ := benchLedger(b, 4, 1000)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Block(ctx, uint64(i%4)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck measures Check (evidencectl fsck) over 20 blocks of 1000
// records.
func BenchmarkCheck(b *testing.B) {
	dir := b.TempDir()
	key, _, _ := node.LoadOrCreateKey(filepath.Join(dir, "k.pem"))
	db, err := store.Open(filepath.Join(dir, "db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	l, err := embedded.Open(db, embedded.Config{Name: "bench", Key: key, Dir: filepath.Join(dir, "blocks"), MaxRecords: 1000})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		recs := make([]evidence.Record, 1000)
		for j := range recs {
			recs[j] = ledgertest.Record(b, "bench")
		}
		if _, err := l.Append(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	l.Close()
	b.ResetTimer()
	var r *embedded.Report
	for i := 0; i < b.N; i++ {
		if r, err = embedded.Check(db, filepath.Join(dir, "blocks"), nil); err != nil || !r.OK() {
			b.Fatal(err, r.Problems)
		}
	}
	b.ReportMetric(float64(b.N)*float64(r.Records)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)*float64(r.Bytes)/b.Elapsed().Seconds()/(1<<20), "MiB/s")
}

// BenchmarkAppendSingles measures single-record appends from 64 writers at
// once (what concurrent single POSTs become): each block is one group
// commit, so the cost per record is the block's durable write shared by
// the records waiting for it. Reported as records/s and blocks.
func BenchmarkAppendSingles(b *testing.B) {
	l, _ := benchLedger(b, 0, 1000)
	recs := make([]evidence.Record, b.N)
	for i := range recs {
		recs[i] = ledgertest.Record(b, "bench")
	}
	info0, _ := l.Info(context.Background())
	var next atomic.Int64
	b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := recs[next.Add(1)-1]
			if _, err := l.Append(context.Background(), []evidence.Record{r}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	info, _ := l.Info(context.Background())
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/float64(max(1, info.Height-info0.Height)), "records/block")
}
