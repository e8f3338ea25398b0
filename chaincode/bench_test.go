package chaincode

import (
	"fmt"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"

	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// BenchmarkInvokePutBatch is the chaincode's share of one node batch (the
// node's fabric.MaxBatch records) as the peer calls it: through Invoke,
// arguments and answer through the contract's serializer, into an empty
// state. The figure is per record.
func BenchmarkInvokePutBatch(b *testing.B) {
	cc, err := New()
	if err != nil {
		b.Fatal(err)
	}
	const n = 500
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = leaf(b, record(i, fmt.Sprint("bench-", i)))
	}
	arg := fabricblock.JoinRecords(leaves)
	b.SetBytes(int64(len(arg)) / n)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N / n {
		resp, writes := newLedger().invoke(cc, t0, fabricblock.FnPutBatch, arg)
		if resp.Status != shim.OK || len(writes) == 0 {
			b.Fatalf("PutBatch: %d %s", resp.Status, resp.Message)
		}
	}
}
