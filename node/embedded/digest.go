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
// created (L/gkey). The key is 28 bytes, against 59 for the algorithm and
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
// advanced by each commit; blocks above it (written before this index
// existed, or by an older binary) are indexed from the block files when
// the ledger is opened, and the keys of the index before it (L/d/, with
// its mark L/dix) are then removed.
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
// whose keys carry d's tag, kept if they hold d. A record whose entry
// cannot be read (its block is corrupted, which the read reports) is kept
// too: it cannot be ruled out, and the receipt asked for next says why it
// cannot be served.
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
		switch ok, err := l.holds(id, d); {
		case errors.Is(err, node.ErrCorrupted):
			ids = append(ids, id)
		case err != nil:
			failed = err
			return false, nil
		case ok:
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

// holds reports whether record id holds digest d. A record the index
// names and the ledger does not hold is not found by its digest.
func (l *Ledger) holds(id evidence.ID, d evidence.Digest) (bool, error) {
	_, e, err := l.entry(id)
	if errors.Is(err, node.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r, err := evidence.ParseRecord(e.Leaf)
	if err != nil {
		return false, l.corrupted(int64(e.Block), id.String(), nil, false, "its record does not parse: %v", err)
	}
	rd, ok := r.DigestFor(d.Algorithm)
	return ok && bytes.Equal(rd.Value, d.Value), nil
}

// backfillDigests indexes the digests of blocks written before this index
// existed (or before a crash cut a back-fill short), from the block
// files, then removes the keys of the index before it. A new ledger has
// nothing to back-fill.
func (l *Ledger) backfillDigests() error {
	from := uint64(0)
	switch v, err := l.db.Get(keyDigests); {
	case err == nil && len(v) == 8:
		from = binary.BigEndian.Uint64(v)
	case err == nil:
		return fmt.Errorf("embedded: corrupt digest index mark (%d bytes)", len(v))
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("embedded: %w", err)
	}
	if from < l.height {
		if err := l.indexDigests(from); err != nil {
			return err
		}
	}
	return l.dropOldDigests()
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
		for i, leaf := range eb.Records {
			r, err := evidence.ParseRecord(leaf)
			if err != nil {
				return fmt.Errorf("embedded: digest index: block %d record %d: %w", n, i, err)
			}
			l.digests.add(&b, r.ID, r.Digests)
			records++
		}
		// A block adds at most 2 × MaxRecords keys.
		if b.Len() >= store.BulkOps/2 {
			markDigests(&b, n+1)
			if err := l.db.Write(&b); err != nil {
				return fmt.Errorf("embedded: digest index: %w", err)
			}
			b = store.Batch{}
			if time.Since(last) >= 10*time.Second {
				last = time.Now()
				l.cfg.Logger.Info(fmt.Sprintf("digest index: indexing block %d of %d–%d, %d records so far", n, from, l.height-1, records), "component", "ledger")
			}
		}
	}
	markDigests(&b, l.height)
	if err := l.db.Write(&b); err != nil {
		return fmt.Errorf("embedded: digest index: %w", err)
	}
	l.cfg.Logger.Info(fmt.Sprintf("digest index: back-filled %d records of blocks %d–%d in %v (%d blocks not readable)", records, from, l.height-1, time.Since(start).Round(time.Millisecond), skipped), "component", "ledger")
	return nil
}

// dropOldDigests removes the keys of the first digest index, which this
// one replaces once every block is indexed in it. A crash part way leaves
// the rest for the next open.
func (l *Ledger) dropOldDigests() error {
	removed := 0
	for {
		var b store.Batch
		err := l.db.Scan(prefOldDig, nil, func(k, _ []byte) (bool, error) {
			b.Delete(append([]byte(nil), k...))
			return b.Len() < store.BulkOps, nil
		})
		if err != nil {
			return fmt.Errorf("embedded: removing the old digest index: %w", err)
		}
		if b.Len() == 0 {
			break
		}
		removed += b.Len()
		if err := l.db.Write(&b); err != nil {
			return fmt.Errorf("embedded: removing the old digest index: %w", err)
		}
	}
	switch ok, err := l.db.Has(keyOldDigests); {
	case err != nil:
		return fmt.Errorf("embedded: removing the old digest index: %w", err)
	case ok:
		var b store.Batch
		b.Delete(keyOldDigests)
		if err := l.db.Write(&b); err != nil {
			return fmt.Errorf("embedded: removing the old digest index: %w", err)
		}
	}
	if removed == 0 {
		return nil
	}
	l.cfg.Logger.Info(fmt.Sprintf("digest index: removed %d keys of the index before it (L/d/)", removed), "component", "ledger")
	return nil
}

// markDigests records in b that every block below height is indexed.
func markDigests(b *store.Batch, height uint64) {
	mark := make([]byte, 8)
	binary.BigEndian.PutUint64(mark, height)
	b.Set(keyDigests, mark)
}
