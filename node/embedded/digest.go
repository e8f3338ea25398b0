package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// The digest index answers "which records hold this digest?" (FindDigest).
// For every digest of every record it keeps one key
//
//	L/g/<8-byte tag><16 ID bytes>   (empty value)
//
// where the tag is the first 8 bytes of SHA-256(tag key ‖ algorithm ‖ 0 ‖
// digest) and the tag key 32 random bytes the ledger draws when it is
// created, or first opened by a binary with this index (L/gkey). The key is 28 bytes, against 59 for the algorithm and
// the whole digest: badger carries every byte of it through its
// memtables, tables and compactions, and this index is most of the bytes
// a record adds to the store. A tag names a digest only probably, so a
// look-up reads each record its tag finds and keeps those that hold the
// digest; as the tag key is the ledger's own, a platform cannot choose
// digests whose tags collide with another's.
//
// The keys are written in the same batch as the block's other index keys,
// so a record is found by digest as soon as its receipt is served.
// keyDigests holds the height below which every block is indexed,
// advanced by each commit; blocks above it (a back-fill a crash cut
// short, or blocks past the older index's mark) are indexed from the
// block files when the ledger is opened. The keys of the index before
// this one (L/d/, with its mark L/dix) are converted then, first.
var (
	prefDig    = []byte("L/g/")
	keyDigests = []byte("L/gix") // height (8 bytes) below which every block is indexed
	keyDigKey  = []byte("L/gkey")

	prefOldDig    = []byte("L/d/") // the first index: L/d/<algorithm>/<digest><ID>
	keyOldDigests = []byte("L/dix")
)

const tagLen = 8

// digestIndex makes the digest index's keys.
type digestIndex struct{ key [32]byte }

// loadDigestIndex reads the ledger's tag key, drawing one if it has none.
// A new key makes every stored tag meaningless, so the index's mark is
// removed with it: the whole ledger is indexed again when it is opened.
func loadDigestIndex(db *store.DB) (*digestIndex, error) {
	dx := &digestIndex{}
	switch v, err := db.Get(keyDigKey); {
	case err == nil && len(v) == len(dx.key):
		copy(dx.key[:], v)
		return dx, nil
	case err == nil:
		return nil, fmt.Errorf("embedded: corrupt digest index key (%d bytes)", len(v))
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if _, err := rand.Read(dx.key[:]); err != nil {
		return nil, fmt.Errorf("embedded: digest index key: %w", err)
	}
	var b store.Batch
	b.Set(keyDigKey, dx.key[:])
	b.Delete(keyDigests)
	if err := db.Write(&b); err != nil {
		return nil, fmt.Errorf("embedded: digest index key: %w", err)
	}
	return dx, nil
}

// prefix is the start of the keys of digest d: prefDig and its tag.
func (dx *digestIndex) prefix(d evidence.Digest) []byte {
	in := make([]byte, 0, 128)
	in = append(append(append(append(in, dx.key[:]...), d.Algorithm...), 0), d.Value...)
	sum := sha256.Sum256(in)
	k := make([]byte, 0, len(prefDig)+tagLen+len(evidence.ID{}))
	k = append(k, prefDig...)
	return append(k, sum[:tagLen]...)
}

// add adds the digest index keys of record id to b.
func (dx *digestIndex) add(b *store.Batch, id evidence.ID, ds []evidence.Digest) {
	for _, d := range ds {
		b.Set(append(dx.prefix(d), id[:]...), nil)
	}
}

// FindDigest implements node.Ledger from the digest index: the records
// whose keys carry d's tag, kept if they hold d (see holds).
func (l *Ledger) FindDigest(_ context.Context, d evidence.Digest, after evidence.ID, limit int) ([]evidence.ID, error) {
	if limit <= 0 {
		return nil, nil
	}
	prefix := l.digests.prefix(d)
	var start []byte
	if after != (evidence.ID{}) {
		// Just past prefix+after: the first key of a greater ID.
		start = append(append(append([]byte(nil), prefix...), after[:]...), 0)
	}
	var ids []evidence.ID
	var failed error
	err := l.db.Scan(prefix, start, func(k, _ []byte) (bool, error) {
		if len(k) != len(prefix)+len(evidence.ID{}) {
			return false, fmt.Errorf("digest index key %x", k)
		}
		var id evidence.ID
		copy(id[:], k[len(prefix):])
		ok, err := l.holds(id, d)
		if err != nil {
			failed = err
			return false, nil
		}
		if ok {
			ids = append(ids, id)
		}
		return len(ids) < limit, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: digest index: %v", node.ErrUnavailable, err)
	}
	if failed != nil {
		return nil, failed
	}
	return ids, nil
}

// holds reports whether the record id, which a key of digest d's tag
// names, is an answer to a look-up of d. It is if its entry holds d, and
// also if the entry cannot be shown to be the record's own, committed
// one (unreadable, changed, another record's): the receipt asked for next
// reports why it cannot be served, where leaving the record out would
// say "not recorded". Only a record whose entry verifies as Receipt
// verifies it, and holds another digest (a tag collision, about 2⁻⁶⁴ a
// key), is left out; and a record the ledger does not hold.
func (l *Ledger) holds(id evidence.ID, d evidence.Digest) (bool, error) {
	_, e, err := l.entry(id)
	switch {
	case errors.Is(err, node.ErrNotFound):
		return false, nil
	case errors.Is(err, node.ErrCorrupted):
		return true, nil // reported by entry
	case err != nil:
		return false, err
	}
	if r, err := evidence.ParseRecord(e.Leaf); err == nil && r.ID == id {
		if rd, ok := r.DigestFor(d.Algorithm); ok && bytes.Equal(rd.Value, d.Value) {
			return true, nil
		}
	}
	switch _, err := l.Receipt(context.Background(), id); {
	case err == nil, errors.Is(err, node.ErrNotFound):
		return false, nil
	default:
		return true, nil
	}
}

// backfillDigests brings the digest index up to the ledger's height when
// it is opened: the keys of the index before this one are converted
// (migrateDigests), then the blocks past the index's mark are indexed
// from the block files. A new ledger has nothing to do.
func (l *Ledger) backfillDigests() error {
	if err := l.migrateDigests(); err != nil {
		return err
	}
	from := uint64(0)
	switch v, err := l.db.Get(keyDigests); {
	case err == nil && len(v) == 8:
		from = binary.BigEndian.Uint64(v)
	case err == nil:
		return fmt.Errorf("embedded: corrupt digest index mark (%d bytes)", len(v))
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("embedded: %w", err)
	}
	if from >= l.height {
		return nil
	}
	return l.indexDigests(from)
}

// indexDigests indexes the digests of the blocks from from on.
func (l *Ledger) indexDigests(from uint64) error {
	start, last := time.Now(), time.Now()
	var b store.Batch
	records, skipped := 0, 0
	for n := from; n < l.height; n++ {
		blk, err := l.Block(context.Background(), n)
		var ce *node.CorruptedError
		if errors.As(err, &ce) {
			// Reported (logged, counted, served as 500) by Block itself; its
			// records are not found by digest until the block is restored
			// and the index rebuilt (delete L/gix).
			l.cfg.Logger.Warn("digest index: a block is not indexed", "component", "ledger", "block", n, "err", err)
			skipped++
			continue
		}
		if err != nil {
			return fmt.Errorf("embedded: digest index: %w", err)
		}
		eb, err := block.ParseEmbedded(blk.Raw)
		if err != nil {
			return fmt.Errorf("embedded: digest index: block %d: %w", n, err)
		}
		// A block adds at most 2 keys a record. Blocks of up to 4,000
		// records add at most 8,000; older binaries cut larger ones.
		if b.Len() > 0 && b.Len()+2*len(eb.Records) > store.BulkOps {
			markDigests(&b, n)
			if err := l.db.Write(&b); err != nil {
				return fmt.Errorf("embedded: digest index: %w", err)
			}
			b = store.Batch{}
		}
		for i, leaf := range eb.Records {
			r, err := evidence.ParseRecord(leaf)
			if err != nil {
				return fmt.Errorf("embedded: digest index: block %d record %d: %w", n, i, err)
			}
			l.digests.add(&b, r.ID, r.Digests)
			records++
		}
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			l.cfg.Logger.Info(fmt.Sprintf("digest index: indexing block %d of %d–%d, %d records so far", n, from, l.height-1, records), "component", "ledger")
		}
	}
	markDigests(&b, l.height)
	if err := l.db.Write(&b); err != nil {
		return fmt.Errorf("embedded: digest index: %w", err)
	}
	l.cfg.Logger.Info(fmt.Sprintf("digest index: back-filled %d records of blocks %d–%d in %v (%d blocks not readable)", records, from, l.height-1, time.Since(start).Round(time.Millisecond), skipped), "component", "ledger")
	return nil
}

// migrateDigests converts the keys of the first digest index
// (L/d/<algorithm>/<digest><ID>, its mark L/dix) into this one's: each
// old key holds all a new key needs, so no block is read, and a record of
// a block that cannot be read now stays found as it was. Each batch sets
// new keys and deletes the old keys they replace, so a crash part way
// leaves the rest for the next open. The old mark goes last, and becomes
// this index's mark if it has none: the blocks past it are back-filled.
func (l *Ledger) migrateDigests() error {
	oldMark, err := l.db.Get(keyOldDigests)
	switch {
	case errors.Is(err, store.ErrNotFound):
		oldMark = nil
	case err != nil:
		return fmt.Errorf("embedded: %w", err)
	}
	start, last := time.Now(), time.Now()
	converted := 0
	var from []byte
	for {
		var b store.Batch
		var lastKey []byte
		err := l.db.Scan(prefOldDig, from, func(k, _ []byte) (bool, error) {
			lastKey = append(lastKey[:0], k...)
			b.Delete(bytes.Clone(k))
			converted++
			if d, id, ok := parseOldDigestKey(k); ok {
				l.digests.add(&b, id, []evidence.Digest{d})
			}
			return b.Len() < store.BulkOps, nil
		})
		if err != nil {
			return fmt.Errorf("embedded: converting the old digest index: %w", err)
		}
		if b.Len() == 0 {
			break
		}
		if err := l.db.Write(&b); err != nil {
			return fmt.Errorf("embedded: converting the old digest index: %w", err)
		}
		// Past the last key converted: the scan need not walk its
		// deleted keys again.
		from = append(lastKey, 0)
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			l.cfg.Logger.Info(fmt.Sprintf("digest index: converting the old index, %d keys so far", converted), "component", "ledger")
		}
	}
	if oldMark == nil && converted == 0 {
		return nil
	}
	var b store.Batch
	b.Delete(keyOldDigests)
	switch _, err := l.db.Get(keyDigests); {
	case errors.Is(err, store.ErrNotFound):
		if len(oldMark) == 8 {
			b.Set(keyDigests, oldMark)
		}
	case err != nil:
		return fmt.Errorf("embedded: %w", err)
	}
	if err := l.db.Write(&b); err != nil {
		return fmt.Errorf("embedded: converting the old digest index: %w", err)
	}
	l.cfg.Logger.Info(fmt.Sprintf("digest index: converted %d keys of the index before it (L/d/) in %v", converted, time.Since(start).Round(time.Millisecond)), "component", "ledger")
	return nil
}

// parseOldDigestKey reads a key of the first digest index.
func parseOldDigestKey(k []byte) (evidence.Digest, evidence.ID, bool) {
	var id evidence.ID
	rest := k[len(prefOldDig):]
	i := bytes.IndexByte(rest, '/')
	if i <= 0 || len(rest)-i-1 <= len(id) {
		return evidence.Digest{}, id, false
	}
	v := rest[i+1 : len(rest)-len(id)]
	copy(id[:], rest[len(rest)-len(id):])
	return evidence.Digest{Algorithm: evidence.Algorithm(rest[:i]), Value: bytes.Clone(v)}, id, true
}

// markDigests records in b that every block below height is indexed.
func markDigests(b *store.Batch, height uint64) {
	mark := make([]byte, 8)
	binary.BigEndian.PutUint64(mark, height)
	b.Set(keyDigests, mark)
}
