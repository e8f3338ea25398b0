package fabricblock

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestTxIDs: the IDs read from the channel headers alone are those of the
// fully parsed endorser transactions, on the real Raft and BFT blocks
// and the genesis block (a config block: none).
func TestTxIDs(t *testing.T) {
	for _, name := range []string{"fabric/block.pb", "fabric-bft/block.pb", "fabric/genesis.pb"} {
		raw, err := os.ReadFile(filepath.Join("..", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		ids, err := b.TxIDs()
		if err != nil {
			t.Fatal(err)
		}
		txs, err := b.Transactions()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, tx := range txs {
			want = append(want, tx.ID)
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("%s: TxIDs %v, transactions %v", name, ids, want)
		}
		if name != "fabric/genesis.pb" && len(ids) == 0 {
			t.Fatalf("%s: no transactions", name)
		}
	}
}
