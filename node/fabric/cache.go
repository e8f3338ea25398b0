package fabric

import (
	"slices"
	"sync"

	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// cachedBlock is a block as read from the ledger, parsed, with the proofs
// of the transactions receipts were built for.
type cachedBlock struct {
	raw   []byte
	b     *fabricblock.Block
	txIDs []string

	mu  sync.Mutex
	txs map[string]*txProof
	// checked is set once the whole block passed checkBlock.
	checked bool
}

// txProof is what the receipts of one transaction share.
type txProof struct {
	tx     *fabricblock.Tx
	leaves [][]byte
	paths  [][][]byte
	root   []byte
	keyIDs []string
	// recs are the leaves parsed, index the leaf index of each record ID
	// (parsed once per transaction, not once per receipt).
	recs  []evidence.Record
	index map[evidence.ID]int
	// wrote holds the IDs whose entry this transaction wrote (not those
	// it carried but found already stored).
	wrote map[evidence.ID]bool
}

// blockCache keeps the last few blocks read: committed blocks never
// change, so it only saves round trips.
type blockCache struct {
	mu    sync.Mutex
	max   int
	order []uint64
	byNum map[uint64]*cachedBlock
	txs   map[string]uint64
}

func newBlockCache(max int) *blockCache {
	return &blockCache{max: max, byNum: map[uint64]*cachedBlock{}, txs: map[string]uint64{}}
}

func (c *blockCache) get(n uint64) *cachedBlock {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byNum[n]
}

func (c *blockCache) byTx(txID string) *cachedBlock {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.txs[txID]; ok {
		return c.byNum[n]
	}
	return nil
}

// parseBlock parses bytes the peer served as a block. An error is about
// the bytes (they are not a Fabric block), never the network.
func parseBlock(raw []byte) (*cachedBlock, error) {
	b, err := fabricblock.Parse(raw)
	if err != nil {
		return nil, err
	}
	// Only the transaction IDs here: the transaction a receipt needs is
	// parsed and checked in full by txProof.
	ids, err := b.TxIDs()
	if err != nil {
		return nil, err
	}
	return &cachedBlock{raw: raw, b: b, txIDs: ids, txs: map[string]*txProof{}}, nil
}

// add keeps cb, or returns the block of that number already kept.
func (c *blockCache) add(cb *cachedBlock) *cachedBlock {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := cb.b.Header.Number
	if old := c.byNum[n]; old != nil {
		return old
	}
	c.byNum[n] = cb
	for _, id := range cb.txIDs {
		c.txs[id] = n
	}
	c.order = append(c.order, n)
	for len(c.order) > c.max {
		old := c.order[0]
		c.order = c.order[1:]
		for _, id := range c.byNum[old].txIDs {
			delete(c.txs, id)
		}
		delete(c.byNum, old)
	}
	return cb
}

// drop forgets cb (its bytes failed their check): the next read asks the
// peer again.
func (c *blockCache) drop(cb *cachedBlock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := cb.b.Header.Number
	if c.byNum[n] != cb {
		return
	}
	for _, id := range cb.txIDs {
		if c.txs[id] == n {
			delete(c.txs, id)
		}
	}
	delete(c.byNum, n)
	if i := slices.Index(c.order, n); i >= 0 {
		c.order = slices.Delete(c.order, i, i+1)
	}
}
