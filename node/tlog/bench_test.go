package tlog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/evidence-node/evidence-node/node/tlog"
)

// BenchmarkCatchUp: the log reading blocks of 1,000 records from a real
// embedded ledger on disk; reported per record.
func BenchmarkCatchUp(b *testing.B) {
	e := newEnv(b)
	l, err := tlog.Open(tlog.Config{DB: e.db, Hashes: e.hashes(), Origin: origin, Key: e.key, Source: tlog.LedgerSource(e.led)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	blocks := 5
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		sizes := make([]int, blocks)
		for j := range sizes {
			sizes[j] = 1000
		}
		e.appendBlocks(fmt.Sprint("b", i), sizes...)
		b.StartTimer()
		if err := l.CatchUp(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*blocks*1000), "ns/record")
}
