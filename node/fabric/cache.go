package fabric

import (
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

// add parses raw and keeps it.
func (c *blockCache) add(raw []byte) (*cachedBlock, error) {
	b, err := fabricblock.Parse(raw)
	if err != nil {
		return nil, unavailable("block", err)
	}
	// Only the transaction IDs here: the transaction a receipt needs is
	// parsed and checked in full by txProof.
	ids, err := b.TxIDs()
	if err != nil {
		return nil, unavailable("block", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := b.Header.Number
	if cb := c.byNum[n]; cb != nil {
		return cb, nil
	}
	cb := &cachedBlock{raw: raw, b: b, txs: map[string]*txProof{}}
	c.byNum[n] = cb
	for _, id := range ids {
		c.txs[id] = n
	}
	cb.txIDs = ids
	c.order = append(c.order, n)
	for len(c.order) > c.max {
		old := c.order[0]
		c.order = c.order[1:]
		for _, id := range c.byNum[old].txIDs {
			delete(c.txs, id)
		}
		delete(c.byNum, old)
	}
	return cb, nil
}
