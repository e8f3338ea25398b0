package fabric_test

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/evidence-node/evidence-node/node/fabric"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// BenchmarkRawTx measures bare Fabric transactions (one record each, Put
// through the Gateway, waiting for commit) with 64 in flight: the rate the
// node's batching multiplies.
func BenchmarkRawTx(b *testing.B) {
	cc := gateway(&testing.T{}, "court")
	b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0))) // about 64 in flight
	cpu := procCPU(needNetwork(b))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			leaf, _ := ledgertest.Record(b, "raw").Canonical()
			if _, err := cc.Submit(fabricblock.FnPut, client.WithArguments(string(leaf))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
	reportCPU(b, needNetwork(b), cpu, b.N, "tx")
}

// BenchmarkAppend measures evidence records per second through the
// ledger: single-record appends from many goroutines, batched into
// transactions, with latency percentiles from submit to receipt.
func BenchmarkAppend(b *testing.B) {
	for _, inflight := range []int{256, 1024, 4096} {
		b.Run(fmt.Sprintf("clients=%d", inflight), func(b *testing.B) {
			cfg := config(b, "court")
			l, err := fabric.Open(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(inflight / 2)
			cpu := procCPU(needNetwork(b))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := ledgertest.Record(b, "bench")
					t0 := time.Now()
					if _, err := l.Append(context.Background(), []evidence.Record{r}); err != nil {
						b.Error(err)
						return
					}
					d := time.Since(t0)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
			}
			reportCPU(b, needNetwork(b), cpu, b.N, "rec")
		})
	}
}
