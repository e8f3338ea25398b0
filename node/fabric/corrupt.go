package fabric

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/evidence-node/evidence-node/node"
)

// A block or transaction the peer served whose bytes fail the verifier's
// check (verifier.CheckFabricTx, the block's data hash) is corruption, not
// an outage: the Ledger answers a *node.CorruptedError (500
// ledger_corrupted), logs it once per block and counts every refused
// read (Config.OnCorrupted). A peer that cannot be reached, or answers an
// error, stays node.ErrUnavailable: only bytes that arrived are judged.

// maxReported bounds the memory of the blocks already logged; past it,
// problems are still refused and counted, and logged at most once a
// minute.
const maxReported = 1 << 16

// reported remembers the blocks found corrupted since the ledger was
// opened, to log each once.
type reported struct {
	mu          sync.Mutex
	blocks      map[int64]bool
	lastUnknown time.Time // last log of a problem in no known block (or past maxReported)
}

// first records a problem in block n (-1: not known) and reports whether
// it is the first in that block (outside a known block: the first in a
// minute).
func (r *reported) first(n int64, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n >= 0 {
		if r.blocks[n] {
			return false
		}
		if len(r.blocks) < maxReported {
			if r.blocks == nil {
				r.blocks = map[int64]bool{}
			}
			r.blocks[n] = true
			return true
		}
	}
	if now.Sub(r.lastUnknown) < time.Minute {
		return false
	}
	r.lastUnknown = now
	return true
}

// corrupted reports that what the peer served for block n (-1: not known)
// fails its check, in transaction txID and record id (either may be
// empty), and returns the error to answer. cb, if not nil, is dropped from
// the cache so that the next read asks the peer again.
func (l *Ledger) corrupted(cb *cachedBlock, n int64, txID, id string, err error) error {
	if cb != nil {
		l.cache.drop(cb)
	}
	reason := err.Error()
	if txID != "" && !strings.Contains(reason, txID) {
		reason = fmt.Sprintf("transaction %s: %v", txID, err)
	}
	ce := &node.CorruptedError{Block: n, Record: id, Reason: reason}
	first := l.reported.first(n, time.Now())
	if first {
		l.cfg.Logger.Error(fmt.Sprintf("CORRUPTED: %v; the peer served it, it fails the verifier's check, it is not served (answered 500 ledger_corrupted). "+
			"Compare the block with the copy another organisation's peer serves (`peer channel fetch`); "+
			"rebuild a damaged peer ledger with `peer node reset` (blocks, fetched again from the orderers) or `peer node rebuild-dbs` (state).", ce),
			"component", "ledger", "block", n, "tx_id", txID, "record", id)
	}
	if l.cfg.OnCorrupted != nil {
		l.cfg.OnCorrupted(n, first)
	}
	return ce
}
