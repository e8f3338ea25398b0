package embedded

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/store"
)

// Head is where the embedded ledger ends, as its head record says: the
// number of blocks, the hash of the last one, and the end of the block
// files (the segment being appended to and the offset its committed
// bytes end at). The bytes of the block files before that end never
// change; a backup copies the block files up to it.
type Head struct {
	Height   uint64
	LastHash []byte
	Segment  uint32
	End      int64
}

// HeadKey is the store key of the head record.
func HeadKey() []byte { return append([]byte(nil), keyHead...) }

// ParseHead decodes a head record (the value under HeadKey).
func ParseHead(b []byte) (Head, error) {
	if len(b) != headLen {
		return Head{}, fmt.Errorf("embedded: head record of %d bytes, want %d", len(b), headLen)
	}
	return Head{Height: binary.BigEndian.Uint64(b[:8]), LastHash: append([]byte(nil), b[8:40]...),
		Segment: binary.BigEndian.Uint32(b[40:44]), End: int64(binary.BigEndian.Uint64(b[44:52]))}, nil
}

// SegmentFile is the name of block file n in the block directory.
func SegmentFile(n uint32) string { return fmt.Sprintf("seg-%06d.dat", n) }

// ReadHead returns the head record of the ledger in db; a zero Head (and
// no error) if the ledger has no block yet, ErrNoLedger if db holds no
// embedded ledger.
func ReadHead(db *store.DB) (Head, error) {
	if _, err := db.Get(keyMeta); errors.Is(err, store.ErrNotFound) {
		return Head{}, ErrNoLedger
	} else if err != nil {
		return Head{}, fmt.Errorf("embedded: %w", err)
	}
	b, err := db.Get(keyHead)
	if errors.Is(err, store.ErrNotFound) {
		return Head{}, nil
	}
	if err != nil {
		return Head{}, fmt.Errorf("embedded: %w", err)
	}
	return ParseHead(b)
}

// LedgerName returns the name of the embedded ledger in db (ErrNoLedger
// if there is none).
func LedgerName(db *store.DB) (string, error) {
	mb, err := db.Get(keyMeta)
	if errors.Is(err, store.ErrNotFound) {
		return "", ErrNoLedger
	}
	if err != nil {
		return "", fmt.Errorf("embedded: %w", err)
	}
	var m meta
	if err := json.Unmarshal(mb, &m); err != nil {
		return "", fmt.Errorf("embedded: ledger metadata: %w", err)
	}
	return m.Name, nil
}

// StoredBlockHash returns the hash of block n as its stored header gives
// it (node.ErrNotFound if the ledger has no block n).
func StoredBlockHash(db *store.DB, n uint64) ([]byte, error) {
	b, err := db.Get(numKey(prefHdr, n))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("block %d: %w", n, node.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	}
	hr, why := parseHeaderRec(b, n, "")
	if why != "" {
		return nil, &node.CorruptedError{Block: int64(n), Reason: why}
	}
	return hex.DecodeString(hr.Seal.BlockHash)
}

// Unindexed returns how many bytes the block files in dir hold past the
// end the head record in db names: whole blocks that a crash of the
// machine kept the index from reaching (see commit), or a write cut
// short. The node's next start indexes the former and cuts off the
// latter; until then, tools that work from the index alone (an offline
// backup, a key rotation) would leave the blocks out.
func Unindexed(db *store.DB, dir string) (int64, error) {
	h, err := ReadHead(db)
	if err != nil {
		return 0, err
	}
	var n int64
	for seg := h.Segment; ; seg++ {
		fi, err := os.Stat(filepath.Join(dir, SegmentFile(seg)))
		if errors.Is(err, fs.ErrNotExist) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("embedded: %w", err)
		}
		if seg == h.Segment {
			n += max(0, fi.Size()-h.End)
		} else {
			n += fi.Size()
		}
	}
}
