package embedded

import (
	"context"
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
//	L/d/<algorithm>/<32 digest bytes><16 ID bytes>   (empty value)
//
// written in the same batch as the block's other index keys, so a
// record is found by digest as soon as its receipt is served. keyDigests
// holds the height below which every block is indexed, advanced by each
// commit; blocks above it (written before the index existed, or by an
// older binary) are back-filled when the ledger is opened.
var (
	prefDig    = []byte("L/d/")
	keyDigests = []byte("L/dix") // height (8 bytes) below which every block is indexed
)

func digestPrefix(d evidence.Digest) []byte {
	k := make([]byte, 0, len(prefDig)+len(d.Algorithm)+1+len(d.Value)+len(evidence.ID{}))
	k = append(k, prefDig...)
	k = append(k, d.Algorithm...)
	k = append(k, '/')
	return append(k, d.Value...)
}

// indexDigests adds the digest index keys of record id to b.
func indexDigests(b *store.Batch, id evidence.ID, ds []evidence.Digest) {
	for _, d := range ds {
		b.Set(append(digestPrefix(d), id[:]...), nil)
	}
}

// FindDigest implements node.Ledger from the digest index.
func (l *Ledger) FindDigest(_ context.Context, d evidence.Digest, after evidence.ID, limit int) ([]evidence.ID, error) {
	if limit <= 0 {
		return nil, nil
	}
	prefix := digestPrefix(d)
	var start []byte
	if after != (evidence.ID{}) {
		// Just past prefix+after: the first key of a greater ID.
		start = append(append(append([]byte(nil), prefix...), after[:]...), 0)
	}
	var ids []evidence.ID
	err := l.db.Scan(prefix, start, func(k, _ []byte) (bool, error) {
		if len(k) != len(prefix)+len(evidence.ID{}) {
			return false, fmt.Errorf("digest index key %x", k)
		}
		var id evidence.ID
		copy(id[:], k[len(prefix):])
		ids = append(ids, id)
		return len(ids) < limit, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: digest index: %v", node.ErrUnavailable, err)
	}
	return ids, nil
}

// backfillDigests indexes the digests of blocks written before the index
// existed (or before a crash cut a back-fill short), from the block
// files. A new ledger has nothing to back-fill.
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
	if from >= l.height {
		return nil
	}
	start := time.Now()
	var b store.Batch
	records, skipped := 0, 0
	for n := from; n < l.height; n++ {
		blk, err := l.Block(context.Background(), n)
		var ce *node.CorruptedError
		if errors.As(err, &ce) {
			// Reported (logged, counted, served as 500) by Block itself; its
			// records are not found by digest until the block is restored
			// and the index rebuilt (delete L/dix).
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
			indexDigests(&b, r.ID, r.Digests)
			records++
		}
		if b.Len() >= 20000 {
			markDigests(&b, n+1)
			if err := l.db.Write(&b); err != nil {
				return fmt.Errorf("embedded: digest index: %w", err)
			}
			b = store.Batch{}
		}
	}
	markDigests(&b, l.height)
	if err := l.db.Write(&b); err != nil {
		return fmt.Errorf("embedded: digest index: %w", err)
	}
	l.cfg.Logger.Info(fmt.Sprintf("digest index: back-filled %d records of blocks %d–%d in %v (%d blocks not readable)", records, from, l.height-1, time.Since(start).Round(time.Millisecond), skipped), "component", "ledger")
	return nil
}

// markDigests records in b that every block below height is indexed.
func markDigests(b *store.Batch, height uint64) {
	mark := make([]byte, 8)
	binary.BigEndian.PutUint64(mark, height)
	b.Set(keyDigests, mark)
}
