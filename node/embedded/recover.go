package embedded

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// maxTailBlock bounds what recovery reads for one block past the index's
// end: more than any block the writer cuts (MaxRecords records of at most
// a record's size each, with their entries).
const maxTailBlock = 64 << 20

// recoverTail indexes the complete blocks that follow the index's end
// (seg, end) in the block files. The index is written unsynced after each
// block's synced write (see commit), so a crash of the machine can leave
// it behind the block files by a few blocks; those blocks were durable,
// and answered, before the crash. A block is taken only if it is the
// next one in the chain (number, previous hash), its seal and data hash
// verify and its entries follow it byte for byte; the first bytes that
// are not such a block (a write cut short) are left for openSegments to
// cut off. It returns the new end.
func (l *Ledger) recoverTail(seg uint32, end int64) (uint32, int64, error) {
	mark, err := l.db.Get(keyDigests)
	digestsCurrent := err == nil && len(mark) == 8 && binary.BigEndian.Uint64(mark) >= l.height
	start, blocks := time.Now(), 0
	for {
		f, err := os.Open(segName(l.cfg.Dir, seg))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return 0, 0, fmt.Errorf("embedded: recovering the block files: %w", err)
		}
		stop, n, err := l.recoverSegment(f, seg, end, digestsCurrent)
		f.Close()
		blocks += n
		if err != nil {
			return 0, 0, err
		}
		end = stop.end
		if !stop.full {
			break
		}
		// This file ends with a complete block: the writer may have gone
		// on in the next file, starting it with the next block.
		if !l.startsWithNext(seg + 1) {
			break
		}
		seg, end = seg+1, 0
	}
	if blocks > 0 {
		l.cfg.Logger.Warn(fmt.Sprintf("indexed %d blocks found in the block files after the index's end (the machine stopped before the index reached the disk), now at height %d, in %v", blocks, l.height, time.Since(start).Round(time.Millisecond)), "component", "ledger")
	}
	return seg, end, nil
}

// segEnd is where recovery in one block file stopped: end, and whether
// the file holds nothing after it.
type segEnd struct {
	end  int64
	full bool
}

// recoverSegment indexes the blocks in f from end on, as recoverTail.
func (l *Ledger) recoverSegment(f *os.File, seg uint32, end int64, digestsCurrent bool) (*segEnd, int, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("embedded: recovering the block files: %w", err)
	}
	n := 0
	for end < fi.Size() {
		tb, ok := l.readTailBlock(f, end, fi.Size())
		if !ok {
			return &segEnd{end: end}, n, nil
		}
		var b store.Batch
		hrb, _ := json.Marshal(tb.hr)
		l.indexBlock(&b, tb.hr, hrb, tb.hash, loc{Seg: seg, Off: end}, tb.rawLen, tb.offs, tb.ids, tb.digs)
		if digestsCurrent {
			markDigests(&b, tb.hr.Header.Number+1)
		}
		if l.cfg.OnSeal != nil {
			// What commit staged with the block's index (its timestamp
			// requests) was lost with it: stage it again.
			l.cfg.OnSeal(&b, tb.hr.Header, tb.hr.Seal)
		}
		if err := l.db.Write(&b); err != nil {
			return nil, n, fmt.Errorf("embedded: indexing block %d found after the index's end: %w", tb.hr.Header.Number, err)
		}
		l.height, l.lastHash = tb.hr.Header.Number+1, tb.hash
		end += int64(tb.offs[len(tb.ids)])
		n++
	}
	return &segEnd{end: end, full: true}, n, nil
}

// startsWithNext reports whether block file seg exists and starts with
// the next block of the chain.
func (l *Ledger) startsWithNext(seg uint32) bool {
	f, err := os.Open(segName(l.cfg.Dir, seg))
	if err != nil {
		return false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	_, ok := l.readTailBlock(f, 0, fi.Size())
	return ok
}

// tailBlock is a block found past the index's end, checked.
type tailBlock struct {
	hr     headerRec
	hash   []byte
	rawLen int
	offs   []int
	ids    []evidence.ID
	digs   [][]evidence.Digest
}

// readTailBlock reads the block at off in f (size bytes) and checks it is
// the next block of the chain, whole: false if it is not.
func (l *Ledger) readTailBlock(f *os.File, off, size int64) (tailBlock, bool) {
	dec := json.NewDecoder(io.NewSectionReader(f, off, min(size-off, maxTailBlock)))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil || dec.InputOffset() != int64(len(raw)) {
		return tailBlock{}, false
	}
	blk, err := block.ParseEmbedded(raw)
	if err != nil || blk.Header.Number != l.height || !bytes.Equal(blk.Header.PreviousHash, l.lastHash) ||
		len(blk.Records) == 0 || !bytes.Equal(blk.Header.DataHash, block.DataHash(blk.Records)) ||
		blk.Seal.Verify(blk.Header, l.roots) != nil {
		return tailBlock{}, false
	}
	tb := tailBlock{hr: headerRec{Header: blk.Header, Seal: blk.Seal, Records: len(blk.Records)}, hash: blk.Header.Hash(), rawLen: len(raw)}
	for _, leaf := range blk.Records {
		r, err := evidence.ParseRecord(leaf)
		if err != nil {
			return tailBlock{}, false
		}
		tb.ids = append(tb.ids, r.ID)
		tb.digs = append(tb.digs, r.Digests)
	}
	data, offs := blockData(blk.Header.Number, raw, blk.Records, block.AuditPaths(blk.Records))
	if int64(len(data)) > size-off {
		return tailBlock{}, false
	}
	got := make([]byte, len(data)-len(raw))
	if _, err := f.ReadAt(got, off+int64(len(raw))); err != nil || !bytes.Equal(got, data[len(raw):]) {
		return tailBlock{}, false
	}
	tb.offs = offs
	return tb, true
}
