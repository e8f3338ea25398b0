package embedded

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// problem is a corruption found by a check; whole is true when the
// block's own bytes (or its stored header) are bad, false when only a
// record's entry or index entry is.
type problem struct {
	ce    *node.CorruptedError
	whole bool
}

// checker checks blocks as stored: the block in the block file, its
// stored header, its records' entries and their index entries.
type checker struct {
	db    *store.DB
	segs  *segments
	roots block.TrustRoots
}

// checked is what a check learnt of a block it could read.
type checked struct {
	hash    []byte // the block hash, as computed from the block read (nil if unreadable)
	at      loc    // where the block lies
	end     int64  // end of its record entries in segment at.Seg
	records int
	bytes   int64
}

// block checks block n: it parses, its data hash is the Merkle root of its
// records, its previous hash is prev (if prev is not nil), its seal
// verifies against the trust roots, the stored header is the block's,
// every record entry after it is the one the block implies, and every
// record's index entry points at its entry. It returns the first problem
// found; err is an error of the store, not of the data.
func (c *checker) block(n uint64, prev []byte) (checked, *problem, error) {
	var out checked
	num := int64(n)
	bad := func(whole bool, id, format string, args ...any) (checked, *problem, error) {
		return out, &problem{&node.CorruptedError{Block: num, Record: id, Reason: fmt.Sprintf(format, args...)}, whole}, nil
	}
	v, err := c.db.Get(numKey(prefBlk, n))
	if errors.Is(err, store.ErrNotFound) {
		return bad(true, "", "the index has no location for this block")
	}
	if err != nil {
		return out, nil, err
	}
	if out.at, err = parseLoc(v); err != nil {
		return bad(true, "", "its index location does not parse: %v", err)
	}
	hr, p, err := c.header(n)
	if p != nil || err != nil {
		return out, p, err
	}
	raw, err := c.segs.read(out.at)
	if err != nil {
		return bad(true, "", "cannot read it from the block file: %v", err)
	}
	out.bytes = int64(len(raw))
	b, err := block.ParseEmbedded(raw)
	if err != nil {
		return bad(true, "", "the block file's bytes do not parse as a block: %v", err)
	}
	if b.Header.Number != n {
		return bad(true, "", "the block file holds block %d here", b.Header.Number)
	}
	out.hash = b.Hash()
	if b.Version != block.EmbeddedVersion {
		return bad(true, "", "block version %d, want %d", b.Version, block.EmbeddedVersion)
	}
	if len(b.Records) == 0 {
		return bad(true, "", "the block holds no records")
	}
	if got := block.DataHash(b.Records); !bytes.Equal(got, b.Header.DataHash) {
		return bad(true, "", "its records do not hash to its data hash (a record in the block was changed): data hash %x, records hash to %x", b.Header.DataHash, got)
	}
	if prev != nil && !bytes.Equal(b.Header.PreviousHash, prev) {
		if n == 0 {
			return bad(true, "", "block 0 has a previous hash %x", b.Header.PreviousHash)
		}
		return bad(true, "", "its previous hash %x is not the hash of block %d (%x): the chain is broken", b.Header.PreviousHash, n-1, prev)
	}
	if err := b.Seal.Verify(b.Header, c.roots); err != nil {
		return bad(true, "", "its seal does not verify: %v", err)
	}
	if why := sameAsStored(b, hr); why != "" {
		return bad(true, "", "the block file and the stored header differ: %s", why)
	}
	out.records = len(b.Records)

	// The record entries follow the block, in its order.
	paths := block.AuditPaths(b.Records)
	want := make([][]byte, len(b.Records))
	total := 0
	for i, leaf := range b.Records {
		want[i] = entry{Block: n, Index: uint64(i), Size: uint64(len(b.Records)), Path: paths[i], Leaf: leaf}.marshal()
		total += len(want[i])
	}
	start := out.at.Off + int64(out.at.Len)
	got, err := c.segs.read(loc{Seg: out.at.Seg, Off: start, Len: uint32(total)})
	if err != nil {
		return bad(false, "", "cannot read its record entries from the block file: %v", err)
	}
	out.bytes += int64(total)
	off := start
	for i, w := range want {
		g := got[:len(w)]
		got = got[len(w):]
		rec, err := evidence.ParseRecord(b.Records[i])
		if err != nil {
			return bad(false, "", "its record %d does not parse (it hashes to the data hash: a record this version cannot read): %v", i, err)
		}
		id := rec.ID.String()
		if !bytes.Equal(g, w) {
			return bad(false, id, "its record entry (%d of the block, segment %d offset %d) differs from the block: %s", i, out.at.Seg, off, entryDiff(g, w))
		}
		at := loc{Seg: out.at.Seg, Off: off, Len: uint32(len(w))}
		v, err := c.db.Get(recKey(rec.ID))
		if errors.Is(err, store.ErrNotFound) {
			return bad(false, id, "the record is not in the index")
		}
		if err != nil {
			return out, nil, err
		}
		if il, err := parseLoc(v); err != nil || il != at {
			return bad(false, id, "its index entry points at %s, not at its record entry (segment %d offset %d length %d)", describeLoc(v), at.Seg, at.Off, at.Len)
		}
		off += int64(len(w))
	}
	out.end = off
	return out, nil, nil
}

// header reads and checks the stored header of block n on its own: it
// parses, is for block n, and its seal names its hash and the ledger.
func (c *checker) header(n uint64) (headerRec, *problem, error) {
	b, err := c.db.Get(numKey(prefHdr, n))
	if errors.Is(err, store.ErrNotFound) {
		return headerRec{}, &problem{&node.CorruptedError{Block: int64(n), Reason: "the index has no stored header for this block"}, true}, nil
	}
	if err != nil {
		return headerRec{}, nil, err
	}
	hr, why := parseHeaderRec(b, n, c.roots.Ledger)
	if why != "" {
		return hr, &problem{&node.CorruptedError{Block: int64(n), Reason: why}, true}, nil
	}
	return hr, nil, nil
}

// parseHeaderRec decodes a stored header record and checks it on its own;
// why says what is wrong, if anything.
func parseHeaderRec(b []byte, n uint64, ledger string) (headerRec, string) {
	var hr headerRec
	if err := json.Unmarshal(b, &hr); err != nil {
		return hr, fmt.Sprintf("its stored header does not parse: %v", err)
	}
	switch {
	case hr.Header.Number != n:
		return hr, fmt.Sprintf("its stored header is for block %d", hr.Header.Number)
	case hr.Seal.Number != n:
		return hr, fmt.Sprintf("its stored seal is for block %d", hr.Seal.Number)
	case hr.Seal.BlockHash != hex.EncodeToString(hr.Header.Hash()):
		return hr, fmt.Sprintf("its stored header hashes to %x, its seal names %s", hr.Header.Hash(), hr.Seal.BlockHash)
	case ledger != "" && hr.Seal.Ledger != ledger:
		return hr, fmt.Sprintf("its stored seal is for ledger %q, not %q", hr.Seal.Ledger, ledger)
	case hr.Records <= 0:
		return hr, fmt.Sprintf("its stored header counts %d records", hr.Records)
	}
	return hr, ""
}

// sameAsStored compares a block read from the block file with its stored
// header; it says how they differ, or "".
func sameAsStored(b block.Embedded, hr headerRec) string {
	switch {
	case !bytes.Equal(b.Header.PreviousHash, hr.Header.PreviousHash):
		return fmt.Sprintf("previous hash %x, stored %x", b.Header.PreviousHash, hr.Header.PreviousHash)
	case !bytes.Equal(b.Header.DataHash, hr.Header.DataHash):
		return fmt.Sprintf("data hash %x, stored %x", b.Header.DataHash, hr.Header.DataHash)
	case b.Seal.Ledger != hr.Seal.Ledger || b.Seal.Number != hr.Seal.Number || b.Seal.BlockHash != hr.Seal.BlockHash ||
		b.Seal.Time != hr.Seal.Time || b.Seal.KeyID != hr.Seal.KeyID || !bytes.Equal(b.Seal.Signature, hr.Seal.Signature):
		return "the seals differ"
	case len(b.Records) != hr.Records:
		return fmt.Sprintf("%d records, stored %d", len(b.Records), hr.Records)
	}
	return ""
}

// entryDiff says how a stored record entry differs from the one expected.
func entryDiff(got, want []byte) string {
	g, err := parseEntry(got)
	if err != nil {
		return "it does not parse: " + err.Error()
	}
	w, _ := parseEntry(want)
	switch {
	case g.Block != w.Block || g.Index != w.Index || g.Size != w.Size:
		return fmt.Sprintf("it says record %d of %d in block %d", g.Index, g.Size, g.Block)
	case !bytes.Equal(g.Leaf, w.Leaf):
		return "its record bytes were changed"
	}
	return "its Merkle audit path was changed"
}

func describeLoc(v []byte) string {
	l, err := parseLoc(v)
	if err != nil {
		return fmt.Sprintf("nothing (%v)", err)
	}
	return fmt.Sprintf("segment %d offset %d length %d", l.Seg, l.Off, l.Len)
}

// MaxProblems is how many problems a Report lists; it counts the rest.
const MaxProblems = 100

// Report is the outcome of Check.
type Report struct {
	// Ledger is the ledger's name.
	Ledger string
	// Height is the number of blocks the head record names.
	Height uint64
	// Blocks and Records are how many were checked; Bytes how many bytes
	// of block files were read.
	Blocks, Records uint64
	Bytes           int64
	// Problems are the first MaxProblems problems found, in ledger order:
	// Problems[0] is the first bad block. More counts those past them.
	Problems []*node.CorruptedError
	More     int
	// Notes are findings that are not corruption (e.g. an unindexed tail
	// left by a crash, which the node indexes or cuts off when it starts).
	Notes []string
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(ce *node.CorruptedError) {
	if len(r.Problems) < MaxProblems {
		r.Problems = append(r.Problems, ce)
	} else {
		r.More++
	}
}

// ErrNoLedger means the store holds no embedded ledger.
var ErrNoLedger = errors.New("embedded: the store holds no embedded ledger")

// Check checks the whole embedded ledger kept in db, with its block files
// in dir, reading and changing nothing else: every block parses, its data
// hash is the Merkle root of its records, its header hash is what its seal
// signs and the next block's previous hash, its seal verifies against the
// ledger's keys, the stored header is the block's, every record entry is
// the one its block implies, every record's index entry points at its
// entry, the index holds no other records, and the head record names the
// last block and the end of the block files. The node must not be running
// (the store's directory lock keeps it so). progress, if not nil, is
// called after each block with the blocks done and their total. The error
// is for what stops the check (the store cannot be read, no ledger);
// corruption is in the Report.
func Check(db *store.DB, dir string, progress func(done, total uint64)) (*Report, error) {
	r := &Report{}
	mb, err := db.Get(keyMeta)
	if errors.Is(err, store.ErrNotFound) {
		if _, herr := db.Get(keyHead); errors.Is(herr, store.ErrNotFound) {
			return nil, ErrNoLedger
		}
		r.add(&node.CorruptedError{Block: -1, Reason: "the ledger's metadata record is missing"})
	} else if err != nil {
		return nil, fmt.Errorf("embedded: %w", err)
	} else {
		var m meta
		if err := json.Unmarshal(mb, &m); err != nil {
			r.add(&node.CorruptedError{Block: -1, Reason: fmt.Sprintf("the ledger's metadata record does not parse: %v", err)})
		}
		r.Ledger = m.Name
	}
	c := &checker{db: db, segs: &segments{dir: dir, files: map[uint32]*os.File{}}, roots: block.TrustRoots{Ledger: r.Ledger, Kind: block.KindEmbedded}}
	defer c.segs.close()
	err = db.Scan(prefKeys, nil, func(k, v []byte) (bool, error) {
		var key keyRec
		if err := json.Unmarshal(v, &key); err != nil {
			r.add(&node.CorruptedError{Block: -1, Reason: fmt.Sprintf("trust root %x does not parse: %v", k[len(prefKeys):], err)})
			return true, nil
		}
		if key.Unused {
			return true, nil
		}
		if _, err := key.Public(); err != nil {
			r.add(&node.CorruptedError{Block: -1, Reason: fmt.Sprintf("trust root: %v", err)})
			return true, nil
		}
		c.roots.Keys = append(c.roots.Keys, key.Key)
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: trust roots: %w", err)
	}

	var headSeg uint32
	var headEnd int64
	var headHash []byte
	hb, err := db.Get(keyHead)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("embedded: %w", err)
	case len(hb) != headLen:
		r.add(&node.CorruptedError{Block: -1, Reason: fmt.Sprintf("the head record has %d bytes, want %d", len(hb), headLen)})
		return r, nil
	default:
		r.Height = binary.BigEndian.Uint64(hb[:8])
		headHash = hb[8:40]
		headSeg = binary.BigEndian.Uint32(hb[40:44])
		headEnd = int64(binary.BigEndian.Uint64(hb[44:52]))
	}
	if k, err := db.LastKey(prefBlk); err == nil {
		if last := binary.BigEndian.Uint64(k[len(prefBlk):]); last+1 != r.Height {
			r.add(&node.CorruptedError{Block: int64(last), Reason: fmt.Sprintf("the index holds block %d, the head record says the ledger has %d blocks", last, r.Height)})
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("embedded: %w", err)
	} else if r.Height > 0 {
		r.add(&node.CorruptedError{Block: -1, Reason: fmt.Sprintf("the head record says %d blocks, the index holds none", r.Height)})
	}

	prev := []byte{} // block 0 has no previous hash
	var last checked
	lastOK, whole := false, false
	for n := uint64(0); n < r.Height; n++ {
		got, p, err := c.block(n, prev)
		if err != nil {
			return nil, fmt.Errorf("embedded: block %d: %w", n, err)
		}
		if p != nil {
			r.add(p.ce)
			whole = whole || p.whole
		} else if lastOK {
			// The block lies right after the previous one's entries, or at
			// the start of the next block file.
			if got.at != (loc{Seg: last.at.Seg, Off: last.end, Len: got.at.Len}) && got.at != (loc{Seg: last.at.Seg + 1, Off: 0, Len: got.at.Len}) {
				r.add(&node.CorruptedError{Block: int64(n), Reason: fmt.Sprintf("it lies at segment %d offset %d, not right after block %d (segment %d offset %d)", got.at.Seg, got.at.Off, n-1, last.at.Seg, last.end)})
			}
		}
		r.Blocks++
		r.Records += uint64(got.records)
		r.Bytes += got.bytes
		// The next block must link to this one: to its hash as read if it
		// could be read, else to its stored header's hash.
		prev = got.hash
		if prev == nil {
			if hr, p, err := c.header(n); err == nil && p == nil {
				prev = hr.Header.Hash()
			}
		}
		last, lastOK = got, p == nil
		if progress != nil {
			progress(n+1, r.Height)
		}
	}
	if r.Height > 0 {
		if prev != nil && !bytes.Equal(prev, headHash) {
			r.add(&node.CorruptedError{Block: int64(r.Height - 1), Reason: fmt.Sprintf("the head record names hash %x, the last block hashes to %x", headHash, prev)})
		}
		if lastOK && (last.at.Seg != headSeg || last.end != headEnd) {
			r.add(&node.CorruptedError{Block: int64(r.Height - 1), Reason: fmt.Sprintf("the head record says the block files end at segment %d offset %d, the last block's entries end at segment %d offset %d", headSeg, headEnd, last.at.Seg, last.end)})
		}
	}
	c.tail(r, headSeg, headEnd)

	// Every record of every block has been found in the index where it
	// belongs; the index must hold no others.
	if whole {
		r.Notes = append(r.Notes, "the record index was not counted against the blocks: some blocks could not be read whole")
		return r, nil
	}
	var indexed uint64
	err = db.Scan(prefRec, nil, func(_, _ []byte) (bool, error) { indexed++; return true, nil })
	if err != nil {
		return nil, fmt.Errorf("embedded: record index: %w", err)
	}
	if indexed != r.Records {
		stray, err := c.findStray(r.Height)
		if err != nil {
			return nil, err
		}
		if stray == nil {
			stray = &node.CorruptedError{Block: -1, Reason: fmt.Sprintf("the index holds %d records, the blocks %d", indexed, r.Records)}
		}
		r.add(stray)
	}
	return r, nil
}

// tail notes bytes past the end the head record names: blocks the index
// had not reached when the machine stopped, or a write cut short, which
// Open indexes or cuts off.
func (c *checker) tail(r *Report, seg uint32, end int64) {
	if fi, err := os.Stat(segName(c.segs.dir, seg)); err == nil && fi.Size() > end {
		r.Notes = append(r.Notes, fmt.Sprintf("%d unindexed bytes after the last block in %s (blocks the index had not reached, or a write cut short, when the machine stopped; the node indexes the whole blocks among them and cuts off the rest when it starts)", fi.Size()-end, segName(c.segs.dir, seg)))
	} else if err == nil && fi.Size() < end {
		r.add(&node.CorruptedError{Block: -1, Reason: fmt.Sprintf("block file %s has %d bytes, the head record says %d: it was truncated", segName(c.segs.dir, seg), fi.Size(), end)})
	} else if errors.Is(err, fs.ErrNotExist) && end > 0 {
		r.add(&node.CorruptedError{Block: -1, Reason: fmt.Sprintf("block file %s is missing", segName(c.segs.dir, seg))})
	}
	for n := seg + 1; ; n++ {
		if _, err := os.Stat(segName(c.segs.dir, n)); err != nil {
			break
		}
		r.Notes = append(r.Notes, fmt.Sprintf("block file %s is past the last block (a crash while starting it; the node removes it when it starts)", segName(c.segs.dir, n)))
	}
}

// findStray returns a problem for the first index entry that names no
// record entry of its own record on the ledger.
func (c *checker) findStray(height uint64) (*node.CorruptedError, error) {
	var stray *node.CorruptedError
	err := c.db.Scan(prefRec, nil, func(k, v []byte) (bool, error) {
		var id evidence.ID
		copy(id[:], k[len(prefRec):])
		why := ""
		if len(k) != len(prefRec)+len(id) {
			why = fmt.Sprintf("index key %x is not a record ID", k)
		} else if at, err := parseLoc(v); err != nil {
			why = "its index entry does not parse: " + err.Error()
		} else if b, err := c.segs.read(at); err != nil {
			why = fmt.Sprintf("its index entry points outside the block files: %v", err)
		} else if e, err := parseEntry(b); err != nil {
			why = "its index entry points at no record entry: " + err.Error()
		} else if rec, err := evidence.ParseRecord(e.Leaf); err != nil || rec.ID != id {
			why = "its index entry points at another record's entry"
		} else if e.Block >= height {
			why = fmt.Sprintf("its index entry points at an entry of block %d, past the head", e.Block)
		}
		if why != "" {
			stray = &node.CorruptedError{Block: -1, Record: id.String(), Reason: why}
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: record index: %w", err)
	}
	return stray, nil
}
