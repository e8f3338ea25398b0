package embedded

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier"
)

// The ledger remembers, in memory, the blocks it found corrupted since it
// was opened: to log each once, and to refuse every receipt of a block
// whose own bytes failed their check (a receipt is checked against the
// stored header, which does not read the block itself).
type marks struct {
	n atomic.Int32 // len(m), read without the lock on the fast path

	mu          sync.Mutex
	m           map[uint64]string // block → why its bytes are bad ("" if only an entry is)
	lastUnknown time.Time         // last log of a problem in no known block
}

// maxMarks bounds the memory of marks; past it, problems are still
// refused and counted, and logged at most once a minute.
const maxMarks = 1 << 16

// bad says why block n's bytes were found corrupted, if they were.
func (m *marks) bad(n uint64) (string, bool) {
	if m.n.Load() == 0 {
		return "", false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	why := m.m[n]
	return why, why != ""
}

// note records a problem; whole is true when the block's own bytes (not
// only one record's entry) are bad. It reports whether this is the first
// problem seen in that block (or, outside any block, the first in a
// minute).
func (m *marks) note(ce *node.CorruptedError, whole bool, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[uint64]string{}
	}
	if ce.Block >= 0 {
		n := uint64(ce.Block)
		why, seen := m.m[n]
		switch {
		case seen:
			if whole && why == "" {
				m.m[n] = ce.Reason
			}
			return false
		case len(m.m) < maxMarks:
			if whole {
				why = ce.Reason
			}
			m.m[n] = why
			m.n.Store(int32(len(m.m)))
			return true
		}
	}
	if now.Sub(m.lastUnknown) < time.Minute {
		return false
	}
	m.lastUnknown = now
	return true
}

// corrupted reports a problem in block n (-1: not known) met while reading
// record id (may be empty), and returns it as the error to answer.
func (l *Ledger) corrupted(n int64, id string, stored *verifier.Receipt, whole bool, format string, args ...any) error {
	ce := &node.CorruptedError{Block: n, Record: id, Reason: fmt.Sprintf(format, args...), Stored: stored}
	l.report(ce, whole)
	return ce
}

// report logs ce (once per block) and counts it.
func (l *Ledger) report(ce *node.CorruptedError, whole bool) {
	first := l.marks.note(ce, whole, time.Now())
	if first {
		l.cfg.Logger.Error(fmt.Sprintf("CORRUPTED: %v; this data is not served (answered 500 ledger_corrupted). "+
			"Stop the node and run `evidencectl fsck --data DIR` to check the whole ledger, then restore the block files from a backup.", ce),
			"component", "ledger", "block", ce.Block, "record", ce.Record)
	}
	if l.cfg.OnCorrupted != nil {
		l.cfg.OnCorrupted(ce.Block, first)
	}
}

// readFailed classifies an error reading the block files: bytes or a file
// missing is corruption; anything else is the disk failing now.
func (l *Ledger) readFailed(n int64, id, what string, err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return l.corrupted(n, id, nil, true, "%s: the block file ends before it: %v", what, err)
	case errors.Is(err, fs.ErrNotExist):
		return l.corrupted(n, id, nil, true, "%s: the block file is missing: %v", what, err)
	}
	return fmt.Errorf("%w: %s: %v", node.ErrUnavailable, what, err)
}

// blockAt finds the block whose bytes (block and record entries) hold at,
// by bisecting the block index; -1 if it cannot tell.
func (l *Ledger) blockAt(at loc) int64 {
	l.mu.RLock()
	height := l.height
	l.mu.RUnlock()
	before := func(a, b loc) bool { return a.Seg < b.Seg || (a.Seg == b.Seg && a.Off <= b.Off) }
	lo, hi := uint64(0), height // the answer is lo-1: the last block at or before at
	for lo < hi {
		mid := lo + (hi-lo)/2
		v, err := l.db.Get(numKey(prefBlk, mid))
		if err != nil {
			return -1
		}
		b, err := parseLoc(v)
		if err != nil {
			return -1
		}
		if before(b, at) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return int64(lo) - 1
}
