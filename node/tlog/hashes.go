package tlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/store"
)

// The tree's stored hashes (golang.org/x/mod/sumdb/tlog's numbering: each
// complete subtree's hash once, about two a record) live in a file of
// their own, 32 bytes each at index × 32, not in the store: they are most
// of the log's bytes, and in badger they doubled its compaction work. The
// file is derived data. It is written before the store records the tree
// size it reaches and is not synced: a tail a crash of the machine loses,
// or a file a restore does not bring, is computed again from the ledger's
// blocks (repair), and the result must give the tree root the store
// recorded, or the log stops: the ledger no longer holds what the log
// signed.

// The log's files in the node's data directory: its key (KeyFile, the
// verifier key in KeyFile+".pub", the rotated-away one in
// KeyFile+PreviousSuffix) and its stored hashes (HashesFile; backups leave
// it out: it is computed again from the ledger).
const (
	KeyFile    = "tlog-key"
	HashesFile = "tlog-hashes"
)

// hashFile is the open stored-hash file.
type hashFile struct {
	f *os.File

	// hot keeps hashes read before (written hashes never change; the
	// upper levels are in every proof): at most maxHot, emptied when
	// full and when the file is computed again.
	mu  sync.Mutex
	hot map[int64]tlog.Hash
}

// maxHot bounds hashFile.hot: 65,536 hashes, about 5 MB with the map's
// own memory; every hash at level 5 and above of a tree of two million
// records.
const maxHot = 1 << 16

func openHashFile(path string) (*hashFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("tlog: stored hashes: %w", err)
	}
	return &hashFile{f: f}, nil
}

// count is how many whole hashes the file holds.
func (h *hashFile) count() (int64, error) {
	fi, err := h.f.Stat()
	if err != nil {
		return 0, fmt.Errorf("tlog: stored hashes: %w", err)
	}
	return fi.Size() / tlog.HashSize, nil
}

// truncate keeps the first n hashes.
func (h *hashFile) truncate(n int64) error {
	h.forget()
	if err := h.f.Truncate(n * tlog.HashSize); err != nil {
		return fmt.Errorf("tlog: stored hashes: %w", err)
	}
	return nil
}

// write writes hs as hashes from, from+1, ….
func (h *hashFile) write(from int64, hs []tlog.Hash) error {
	if len(hs) == 0 {
		return nil
	}
	buf := make([]byte, 0, len(hs)*tlog.HashSize)
	for i := range hs {
		buf = append(buf, hs[i][:]...)
	}
	if _, err := h.f.WriteAt(buf, from*tlog.HashSize); err != nil {
		return fmt.Errorf("tlog: writing stored hashes from %d: %w", from, err)
	}
	return nil
}

// read reads hash x.
func (h *hashFile) read(x int64, out *tlog.Hash) error {
	h.mu.Lock()
	v, ok := h.hot[x]
	h.mu.Unlock()
	if ok {
		*out = v
		return nil
	}
	if _, err := h.f.ReadAt(out[:], x*tlog.HashSize); err != nil {
		return fmt.Errorf("tlog: stored hash %d: %w", x, err)
	}
	h.mu.Lock()
	if len(h.hot) >= maxHot || h.hot == nil {
		h.hot = make(map[int64]tlog.Hash, 1024)
	}
	h.hot[x] = *out
	h.mu.Unlock()
	return nil
}

// forget empties the cache of hashes read (the file is computed again).
func (h *hashFile) forget() {
	h.mu.Lock()
	h.hot = nil
	h.mu.Unlock()
}

func (h *hashFile) close() error { return h.f.Close() }

// errRepairing: a reader asked for hashes the log is still computing
// again (repair).
var errRepairing = errors.New("the transparency log is rebuilding its stored hashes from the ledger")

// ReadHashes reads stored hashes (tlog.HashReader): those of the write
// being prepared, then the file's.
func (l *Log) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return l.readHashes(indexes, true)
}

func (l *Log) readHashes(indexes []int64, pending bool) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	have := l.have.Load()
	for i, x := range indexes {
		if pending && x >= l.pendFrom && x < l.pendFrom+int64(len(l.pend)) {
			out[i] = l.pend[x-l.pendFrom]
			continue
		}
		if !pending && !l.repaired.Load() {
			return nil, fmt.Errorf("%w: %w", node.ErrUnavailable, errRepairing)
		}
		if x >= have {
			return nil, fmt.Errorf("tlog: stored hash %d: the log holds %d", x, have)
		}
		if err := l.hf.read(x, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// storedReader reads only written hashes (for readers other than the
// log's goroutine, which may be preparing a write).
type storedReader struct{ l *Log }

func (r storedReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return r.l.readHashes(indexes, false)
}

func (l *Log) hashes() tlog.HashReader { return storedReader{l} }

// blockOf returns the block that holds leaf i, and the leaves of the log
// it spans: [start, end).
func (l *Log) blockOf(i uint64) (blk, start, end uint64, err error) {
	found := false
	err = l.cfg.DB.Scan(prefEnd, numKey(prefEnd, i+1), func(k, v []byte) (bool, error) {
		end, blk, found = binary.BigEndian.Uint64(k[len(prefEnd):]), binary.BigEndian.Uint64(v), true
		return false, nil
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("tlog: the block of leaf %d: %w", i, err)
	}
	if !found {
		return 0, 0, 0, fmt.Errorf("tlog: no block holds leaf %d", i)
	}
	sv, err := l.cfg.DB.Get(numKey(prefStart, blk))
	if err != nil || len(sv) != 8 {
		return 0, 0, 0, fmt.Errorf("tlog: block %d's first leaf: %v", blk, err)
	}
	return blk, binary.BigEndian.Uint64(sv), end, nil
}

// checkRoot reports whether the file's hashes give the recorded root.
func (l *Log) checkRoot(size uint64, root []byte) bool {
	if size == 0 {
		return true
	}
	h, err := tlog.TreeHash(int64(size), l) // the log's own reader: before repaired is set
	return err == nil && bytes.Equal(h[:], root)
}

// quickCheck takes the file as it is when it holds the recorded tree
// with the recorded root (a longer file is cut), and returns how many of
// its hashes may be kept otherwise: those of the largest tree it holds, or
// none (the root differs, or a reader found a proof that does not check:
// damaged).
func (l *Log) quickCheck(st state) (int64, error) {
	want := tlog.StoredHashCount(int64(st.Size))
	n, err := l.hf.count()
	if err != nil {
		return 0, err
	}
	if l.damaged.Swap(false) {
		l.hf.forget()
		l.recomputed.Store(true)
		return 0, nil
	}
	if n < want {
		return n, nil
	}
	if err := l.hf.truncate(want); err != nil {
		return 0, err
	}
	l.have.Store(want)
	if l.checkRoot(st.Size, st.Root) {
		l.repaired.Store(true)
		return want, nil
	}
	l.log.Warn("transparency log: the stored hashes do not give the recorded root; computing them again from the ledger", "size", st.Size)
	return 0, nil
}

// hashesDamaged is called when a proof made from the file does not check
// against its checkpoint (that is, the leaf at the record's index is not
// its record, or a hash on the way is wrong). The first time, the file is
// taken as damaged: readers are refused (unavailable) until the log has
// computed it again from the ledger. Once that was done, the file is the
// ledger's own and another failing proof means the ledger and the log
// disagree about that record: corruption, answered as such, with no
// recomputation each time it is asked.
func (l *Log) hashesDamaged(what string) error {
	if l.recomputed.Load() {
		l.log.Error("transparency log: a proof from stored hashes computed from the ledger does not check: the ledger and the log disagree", "proof", what)
		return fmt.Errorf("%w: transparency log: %s does not check against its checkpoint", node.ErrCorrupted, what)
	}
	// damaged before repaired is cleared: a repair that finds the file
	// unrepaired then also finds it damaged (and computes it again).
	l.damaged.Store(true)
	if l.repaired.Swap(false) {
		l.log.Error("transparency log: a proof made from the stored hashes does not check; computing them again from the ledger", "proof", what)
	}
	l.Wake()
	return fmt.Errorf("%w: %w", node.ErrUnavailable, errRepairing)
}

// repair makes the file hold every stored hash of the recorded tree:
// it drops a tail past it, and computes a missing part again from the
// ledger's blocks. The recomputed tree must have the recorded root. It
// runs before the log reads new blocks (CatchUp), so a ledger that cannot
// be read yet (a Fabric peer down) is retried like any block.
func (l *Log) repair(ctx context.Context) error {
	if l.repaired.Load() {
		return nil
	}
	l.mu.RLock()
	st := l.st
	l.mu.RUnlock()
	n, err := l.quickCheck(st)
	if err != nil || l.repaired.Load() {
		return err
	}
	// The largest tree the file holds whole.
	leaves := uint64(sort.Search(int(st.Size)+1, func(k int) bool { return tlog.StoredHashCount(int64(k)) > n })) - 1
	from := tlog.StoredHashCount(int64(leaves))
	if err := l.hf.truncate(from); err != nil {
		return err
	}
	l.have.Store(from)
	l.log.Info("transparency log: computing stored hashes from the ledger", "from_leaf", leaves, "to_leaf", st.Size)
	start, report := time.Now(), time.Now()
	for leaves < st.Size {
		blk, bstart, bend, err := l.blockOf(leaves)
		if err != nil {
			return err
		}
		ls, err := l.cfg.Source.BlockLeaves(ctx, blk)
		if err != nil {
			return fmt.Errorf("tlog: block %d: %w", blk, err)
		}
		if uint64(len(ls)) < bend-bstart || bstart > leaves {
			return fmt.Errorf("%w: block %d holds %d records, the transparency log %d from leaf %d", node.ErrCorrupted, blk, len(ls), bend-bstart, bstart)
		}
		l.pendFrom, l.pend = l.have.Load(), l.pend[:0]
		for ; leaves < bend && leaves < st.Size; leaves++ {
			hs, err := tlog.StoredHashes(int64(leaves), ls[leaves-bstart], l)
			if err != nil {
				return fmt.Errorf("tlog: hash leaf %d: %w", leaves, err)
			}
			l.pend = append(l.pend, hs...)
		}
		if err := l.hf.write(l.pendFrom, l.pend); err != nil {
			return err
		}
		l.have.Store(l.pendFrom + int64(len(l.pend)))
		l.pend = l.pend[:0]
		if time.Since(report) > 10*time.Second {
			l.log.Info("transparency log: computing stored hashes", "leaf", leaves, "of", st.Size)
			report = time.Now()
		}
	}
	if !l.checkRoot(st.Size, st.Root) {
		return fmt.Errorf("%w: the ledger's records no longer give the transparency log's tree of size %d that the log signed: the ledger was changed after the log recorded it", node.ErrCorrupted, st.Size)
	}
	l.log.Info("transparency log: stored hashes computed", "size", st.Size, "took", time.Since(start).Round(time.Millisecond))
	l.repaired.Store(true)
	return nil
}

// dropOld deletes the stored hashes earlier layouts kept in the store: one
// key a hash (layout 1), or 16 to a key (T/hc/, briefly in layout 2's
// place before the file).
func dropOld(db *store.DB) error {
	for _, p := range [][]byte{prefHash, []byte("T/hc/")} {
		var b store.Batch
		err := db.Scan(p, nil, func(k, _ []byte) (bool, error) {
			b.Delete(bytes.Clone(k))
			if b.Len() >= store.BulkOps {
				if err := db.WriteUnsynced(&b); err != nil {
					return false, err
				}
				b = store.Batch{}
			}
			return true, nil
		})
		if err == nil && b.Len() > 0 {
			err = db.Write(&b)
		}
		if err != nil {
			return fmt.Errorf("tlog: deleting an earlier layout's stored hashes: %w", err)
		}
	}
	return nil
}
