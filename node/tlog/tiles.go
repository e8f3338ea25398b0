package tlog

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidence-node/evidence-node/node"
)

// TileHeight is the height of every tile (c2sp.org/tlog-tiles: 8, 256
// hashes or entries a full tile).
const TileHeight = 8

// MaxEntry is the largest leaf an entry bundle can hold (a big-endian
// uint16 length prefix).
const MaxEntry = 1<<16 - 1

// maxTilePath bounds a tile path before it is parsed.
const maxTilePath = 96

// Tile returns the tile at path, relative to the log's prefix, as
// c2sp.org/tlog-tiles names it: "tile/<L>/<N>[.p/<W>]" (a hash tile of
// level L) or "tile/entries/<N>[.p/<W>]" (an entry bundle), N in groups
// of three digits with "x" before all but the last ("x001/234"). full
// says the tile is complete (immutable). A malformed path is
// node.ErrInvalid; a tile beyond the latest checkpoint is node.ErrNotFound.
func (l *Log) Tile(ctx context.Context, path string) (data []byte, full bool, err error) {
	t, err := ParseTilePath(path)
	if err != nil {
		return nil, false, err
	}
	size := l.Size()
	if t.L >= 0 {
		// A hash tile: the tree must hold N·256+W nodes at level 8·L.
		need := uint64(t.N)<<TileHeight + uint64(t.W)
		if size>>(uint(t.L)*TileHeight) < need {
			return nil, false, fmt.Errorf("%w: tile %s is beyond the log's latest checkpoint (size %d)", node.ErrNotFound, path, size)
		}
		data, err := tlog.ReadTileData(t, l.hashes())
		if err != nil {
			return nil, false, fmt.Errorf("tlog: tile %s: %w", path, err)
		}
		return data, t.W == 1<<TileHeight, nil
	}
	start := uint64(t.N) << TileHeight
	end := start + uint64(t.W)
	if end > size {
		return nil, false, fmt.Errorf("%w: entry bundle %s is beyond the log's latest checkpoint (size %d)", node.ErrNotFound, path, size)
	}
	data, err = l.entries(ctx, start, end)
	if err != nil {
		return nil, false, err
	}
	return data, t.W == 1<<TileHeight, nil
}

// entries is the entry bundle of leaves [start, end): each leaf with a
// big-endian uint16 length before it, read from the ledger's blocks and
// checked against the log's leaf hashes.
func (l *Log) entries(ctx context.Context, start, end uint64) ([]byte, error) {
	var out []byte
	for i := start; i < end; {
		blk, blkStart, blkEnd, err := l.blockOf(i)
		if err != nil {
			return nil, fmt.Errorf("tlog: entries: %w", err)
		}
		leaves, err := l.cfg.Source.BlockLeaves(ctx, blk)
		if err != nil {
			return nil, fmt.Errorf("tlog: entries: block %d: %w", blk, err)
		}
		if uint64(len(leaves)) < blkEnd-blkStart {
			return nil, fmt.Errorf("%w: block %d holds %d records, the transparency log %d", node.ErrCorrupted, blk, len(leaves), blkEnd-blkStart)
		}
		idx := []int64{}
		for j := i; j < end && j < blkEnd; j++ {
			idx = append(idx, tlog.StoredHashIndex(0, int64(j)))
		}
		hs, err := l.hashes().ReadHashes(idx)
		if err != nil {
			return nil, err
		}
		for k := range hs {
			leaf := leaves[i-blkStart]
			// The ledger must answer what the log hashed.
			if tlog.RecordHash(leaf) != hs[k] {
				return nil, fmt.Errorf("%w: block %d record %d is not the record the transparency log holds at %d", node.ErrCorrupted, blk, i-blkStart, i)
			}
			out = binary.BigEndian.AppendUint16(out, uint16(len(leaf)))
			out = append(out, leaf...)
			i++
		}
	}
	return out, nil
}

// ParseTilePath reads a c2sp.org/tlog-tiles path ("tile/0/x001/234",
// "tile/entries/005.p/7"; no leading slash) as an x/mod tile of height 8
// (L -1 for an entry bundle). Malformed paths are node.ErrInvalid.
func ParseTilePath(path string) (tlog.Tile, error) {
	bad := func() (tlog.Tile, error) {
		return tlog.Tile{}, fmt.Errorf("%w: %q is not a tile path: want tile/<level>/<N>[.p/<width>] or tile/entries/<N>[.p/<width>] (c2sp.org/tlog-tiles)", node.ErrInvalid, clip(path))
	}
	if len(path) > maxTilePath || !strings.HasPrefix(path, "tile/") {
		return bad()
	}
	rest := path[len("tile/"):]
	if strings.Contains(rest, "data") {
		return bad()
	}
	if strings.HasPrefix(rest, "entries/") {
		rest = "data/" + rest[len("entries/"):]
	}
	t, err := tlog.ParseTilePath(fmt.Sprintf("tile/%d/%s", TileHeight, rest))
	if err != nil {
		return bad()
	}
	if t.L > 7 { // level 8 would need 2^64 leaves
		return bad()
	}
	return t, nil
}

// TilePath is the c2sp.org/tlog-tiles path of t (ParseTilePath's inverse).
func TilePath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", t.H))
	if t.L == -1 {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
