// Package embedded is the embedded ledger: an append-only chain of blocks
// kept in the node's badger store. Records are cut into blocks by count or
// time; a block's data hash is the RFC 6962 Merkle root of its records,
// its header is hashed as Fabric hashes headers, and each block is sealed
// (signed) with the node's ECDSA P-256 key. Append returns only after the
// block is synced to disk.
package embedded

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

var _ node.Ledger = (*Ledger)(nil)

// Config configures an embedded ledger.
type Config struct {
	// Name is the ledger name written in seals and receipts. It is fixed
	// when the ledger is created; opening with another name fails.
	Name string
	// Key signs block seals.
	Key *ecdsa.PrivateKey
	// MaxRecords cuts a block once it holds this many records (a single
	// Append is never split, so a block may exceed it by one request).
	MaxRecords int
	// MaxWait is how long to wait for more records before cutting a block
	// that is not full. Zero cuts as soon as the previous block is on disk,
	// which batches naturally under load.
	MaxWait time.Duration
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// Dir is the directory of the block files (required).
	Dir string
	// SegmentSize is the size at which a new block file is started
	// (default 256 MiB).
	SegmentSize int64
	// OnBlock, if set, is called after each block is committed.
	OnBlock func(number uint64, records int, took time.Duration)
	// OnLeaves, if set, is called after each block is committed, before
	// OnBlock, with the block's records in canonical encoding and block
	// order (the transparency log takes them so instead of reading the
	// block back: tlog.Log.Offer). The slices must not be changed.
	OnLeaves func(number uint64, leaves [][]byte)
	// CheckSpace, if set, is asked before each block is written; an error
	// (node.Space.Check: the disk is nearly full) fails the block's
	// appends with it, nothing written.
	CheckSpace func() error
	// OnSeal, if set, is called with the index batch of each new block
	// before it is written: writes it adds to b commit atomically with
	// the block's index (and are made again for a block Open indexes
	// after a machine crash) (the trusted-timestamp requests, node/tsa).
	OnSeal func(b *store.Batch, hdr block.Header, seal block.Seal)
	// OnCorrupted, if set, is called each time stored data is found not
	// to match its hashes (and so is not served): block is the block it
	// belongs to (-1 if not known); first is true the first time a
	// problem is found in that block since Open.
	OnCorrupted func(block int64, first bool)
}

// Ledger is the embedded ledger.
type Ledger struct {
	db    *store.DB
	segs  *segments
	cfg   Config
	roots block.TrustRoots

	batcher *node.Batcher
	closed  sync.Once

	mu       sync.RWMutex
	height   uint64
	lastHash []byte

	// maxID is the greatest record ID on the ledger. IDs are time-ordered
	// and a node issues them in increasing order, so a new record's ID is
	// almost always above it and needs no look-up to rule out a duplicate.
	// Only the writer goroutine uses it.
	maxID evidence.ID
	keyID string // of cfg.Key
	// digests makes the digest index's keys.
	digests *digestIndex
	// synced is when the writer last wrote the index synced.
	synced time.Time

	hmu     sync.Mutex
	headers map[uint64]headerRec // a bounded cache of decoded, checked block headers

	marks marks // blocks found corrupted since Open
}

const headerCacheSize = 4096

// MaxBlockRecords is the most records Config.MaxRecords may cut a block
// at. A block's index is one store batch: 3 keys a record at most (its
// entry and two digests) and a few for the block, within store.MaxOps.
// (The batcher never goes past MaxRecords unless one request alone is
// larger, and the node's requests hold at most 1,000 records.)
const MaxBlockRecords = 4000

// maxBlockKeys is the most record and digest keys a block's index may
// hold: the rest of store.MaxOps is the block's own keys.
const maxBlockKeys = store.MaxOps - 64

// A block of MaxBlockRecords records with two digests each fits: this
// does not compile if it does not.
const _ = uint(maxBlockKeys - 3*MaxBlockRecords)

// Store keys, all under "L/".
var (
	keyMeta  = []byte("L/meta")
	keyHead  = []byte("L/head")
	prefBlk  = []byte("L/b/")
	prefHdr  = []byte("L/h/")
	prefRec  = []byte("L/r/")
	prefKeys = []byte("L/k/")
)

func numKey(prefix []byte, n uint64) []byte {
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	binary.BigEndian.PutUint64(k[len(prefix):], n)
	return k
}

func recKey(id evidence.ID) []byte { return append(append([]byte(nil), prefRec...), id[:]...) }

type meta struct {
	Version int    `json:"v"`
	Name    string `json:"name"`
	Created string `json:"created"`
}

// Open opens (or creates) the embedded ledger in db.
func Open(db *store.DB, cfg Config) (*Ledger, error) {
	if cfg.Name == "" {
		return nil, errors.New("embedded: ledger name is empty")
	}
	if cfg.Key == nil {
		return nil, errors.New("embedded: no signing key")
	}
	if cfg.Dir == "" {
		return nil, errors.New("embedded: no block file directory")
	}
	if cfg.SegmentSize <= 0 {
		cfg.SegmentSize = 256 << 20
	}
	if cfg.MaxRecords <= 0 {
		cfg.MaxRecords = 1000
	}
	if cfg.MaxRecords > MaxBlockRecords {
		return nil, fmt.Errorf("embedded: blocks of %d records: at most %d", cfg.MaxRecords, MaxBlockRecords)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Ledger{db: db, cfg: cfg, headers: map[uint64]headerRec{}}

	var b store.Batch
	m, err := db.Get(keyMeta)
	switch {
	case errors.Is(err, store.ErrNotFound):
		mb, _ := json.Marshal(meta{Version: 1, Name: cfg.Name, Created: verifier.FormatTime(cfg.Now())})
		b.Set(keyMeta, mb)
	case err != nil:
		return nil, fmt.Errorf("embedded: %w", err)
	default:
		var mm meta
		if err := json.Unmarshal(m, &mm); err != nil {
			return nil, fmt.Errorf("embedded: ledger metadata: %w", err)
		}
		if mm.Name != cfg.Name {
			return nil, fmt.Errorf("embedded: this data directory holds ledger %q, not %q", mm.Name, cfg.Name)
		}
	}
	if b.Len() > 0 {
		if err := db.Write(&b); err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
	}
	head, err := db.Get(keyHead)
	var seg uint32
	var end int64
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("embedded: %w", err)
	case len(head) != headLen:
		return nil, fmt.Errorf("embedded: corrupt head record (%d bytes)", len(head))
	default:
		l.height = binary.BigEndian.Uint64(head[:8])
		l.lastHash = append([]byte(nil), head[8:40]...)
		seg = binary.BigEndian.Uint32(head[40:44])
		end = int64(binary.BigEndian.Uint64(head[44:52]))
	}
	// Every key that ever sealed stays a trust root, with the blocks it
	// sealed. Whole blocks past the index's end (a machine crash) are
	// indexed first, checked against every key the ledger has had: they
	// were sealed, and answered, before the crash.
	recs, err := loadKeys(db)
	if err != nil {
		return nil, fmt.Errorf("embedded: trust roots: %w", err)
	}
	l.roots = block.TrustRoots{Ledger: cfg.Name, Kind: block.KindEmbedded}
	for _, r := range recs {
		k := r.Key
		k.Sealed = nil
		l.roots.Keys = append(l.roots.Keys, k)
	}
	nk, err := block.NewKey(&cfg.Key.PublicKey)
	if err != nil {
		return nil, err
	}
	if recs[nk.ID] == nil {
		l.roots.Keys = append(l.roots.Keys, nk)
	}
	if l.digests, err = loadDigestIndex(db); err != nil {
		return nil, err
	}
	if seg, end, err = l.recoverTail(seg, end); err != nil {
		return nil, err
	}
	// This key seals from the next block on, so old receipts verify
	// after a key rotation.
	kc, err := registerKey(db, &cfg.Key.PublicKey, l.height)
	if err != nil {
		return nil, err
	}
	if kc.Retired != nil && kc.Retired.Sealed != nil {
		cfg.Logger.Info(fmt.Sprintf("node key rotated: key %s sealed %s; key %s seals from block %d on", kc.Retired.ID, kc.Retired.Sealed, kc.Keys[len(kc.Keys)-1].ID, l.height), "component", "ledger")
	}
	l.keyID = nk.ID
	l.roots = block.TrustRoots{Ledger: cfg.Name, Kind: block.KindEmbedded, Keys: kc.Keys}
	switch k, err := db.LastKey(prefRec); {
	case err == nil && len(k) == len(prefRec)+len(evidence.ID{}):
		copy(l.maxID[:], k[len(prefRec):])
	case err == nil:
		return nil, fmt.Errorf("embedded: corrupt record key %x", k)
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("embedded: %w", err)
	}
	if l.segs, err = openSegments(cfg.Dir, cfg.SegmentSize, seg, end); err != nil {
		var te *truncatedError
		if errors.As(err, &te) {
			// Blocks are missing at the end: appending would leave a
			// hole in the chain's files. Refuse, naming the first block
			// cut.
			ce := &node.CorruptedError{Block: l.blockAt(loc{Seg: seg, Off: te.size}), Reason: te.Error() + "; the node does not start on a truncated ledger: run evidencectl fsck and restore the block files from a backup"}
			return nil, fmt.Errorf("embedded: %w", ce)
		}
		return nil, fmt.Errorf("embedded: block files: %w", err)
	}
	if err := l.checkTail(seg, end); err != nil {
		l.segs.close()
		return nil, err
	}
	if err := l.backfillDigests(); err != nil {
		l.segs.close()
		return nil, err
	}
	// One writer: blocks are cut and written in order.
	l.batcher = node.NewBatcher(node.BatcherConfig{MaxRecords: cfg.MaxRecords, MaxWait: cfg.MaxWait, LingerIdle: true}, l.write)
	return l, nil
}

// Close stops the writer after the requests already queued are written.
func (l *Ledger) Close() error {
	var err error
	l.closed.Do(func() {
		l.batcher.Close()
		err = l.segs.close()
	})
	return err
}

// Info implements node.Ledger.
func (l *Ledger) Info(context.Context) (node.Info, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return node.Info{Name: l.cfg.Name, Kind: block.KindEmbedded, Height: l.height, TrustRoots: l.roots}, nil
}

// Append implements node.Ledger: the records go into the next block,
// and Append returns once it is synced to disk.
func (l *Ledger) Append(ctx context.Context, recs []evidence.Record) ([]verifier.Receipt, error) {
	// One request goes into one block whole, and a block's index into one
	// store batch.
	keys := 0
	for _, r := range recs {
		keys += 1 + len(r.Digests)
	}
	if keys > maxBlockKeys {
		return nil, fmt.Errorf("embedded: %d records in one append, with %d index keys (at most %d)", len(recs), keys, maxBlockKeys)
	}
	return l.batcher.Append(ctx, recs)
}

// entry is what the ledger keeps per record to answer Receipt quickly.
type entry struct {
	Block uint64
	Index uint64
	Size  uint64
	Path  [][]byte
	Leaf  []byte
}

// marshal encodes an entry: block (8) | index (4) | size (4) | path
// length (1) | path hashes (32 each) | leaf.
func (e entry) marshal() []byte { return e.appendTo(make([]byte, 0, e.size())) }

// size is the length of the encoded entry.
func (e entry) size() int { return 17 + 32*len(e.Path) + len(e.Leaf) }

// appendTo appends the encoded entry to b.
func (e entry) appendTo(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, e.Block)
	b = binary.BigEndian.AppendUint32(b, uint32(e.Index))
	b = binary.BigEndian.AppendUint32(b, uint32(e.Size))
	b = append(b, byte(len(e.Path)))
	for _, h := range e.Path {
		b = append(b, h...)
	}
	return append(b, e.Leaf...)
}

func parseEntry(b []byte) (entry, error) {
	if len(b) < 17 || len(b) < 17+32*int(b[16]) {
		return entry{}, fmt.Errorf("record entry of %d bytes", len(b))
	}
	e := entry{Block: binary.BigEndian.Uint64(b[0:8]), Index: uint64(binary.BigEndian.Uint32(b[8:12])), Size: uint64(binary.BigEndian.Uint32(b[12:16]))}
	p := b[17:]
	for i := 0; i < int(b[16]); i++ {
		e.Path = append(e.Path, p[:32:32])
		p = p[32:]
	}
	e.Leaf = p
	return e, nil
}

// headLen is the head record: height (8) | last hash (32) | segment (4) |
// segment end (8).
const headLen = 8 + 32 + 4 + 8

type headerRec struct {
	Header  block.Header `json:"header"`
	Seal    block.Seal   `json:"seal"`
	Records int          `json:"records"`
}

// write commits one block for the batch of requests. Records already on
// the ledger (identical) are answered with their receipts; a request with
// a conflicting record fails whole.
func (l *Ledger) write(batch []*node.Request) {
	start := time.Now()
	type slot struct {
		req      *node.Request
		existing []int // indexes of records already on the ledger
		first    int   // index of the request's first new leaf in the block
	}
	var (
		leaves [][]byte
		ids    []evidence.ID
		digs   [][]evidence.Digest
		slots  []slot
		inThis = map[evidence.ID][]byte{}
	)
	for _, req := range batch {
		s := slot{req: req, first: len(leaves)}
		var fail error
		var fresh []int
		for i, r := range req.Records {
			if prev, ok := inThis[r.ID]; ok {
				if string(prev) != string(req.Leaves[i]) {
					fail = fmt.Errorf("%w: %s", node.ErrConflict, r.ID)
					break
				}
				s.existing = append(s.existing, i)
				continue
			}
			if bytes.Compare(r.ID[:], l.maxID[:]) > 0 {
				fresh = append(fresh, i) // above every stored ID: cannot be stored
				continue
			}
			_, e, err := l.entry(r.ID)
			if err == nil {
				if string(e.Leaf) != string(req.Leaves[i]) {
					fail = fmt.Errorf("%w: %s", node.ErrConflict, r.ID)
					break
				}
				s.existing = append(s.existing, i)
				continue
			}
			if !errors.Is(err, node.ErrNotFound) {
				fail = err
				break
			}
			fresh = append(fresh, i)
		}
		if fail != nil {
			req.Answer(nil, fail)
			continue
		}
		for _, i := range fresh {
			inThis[req.Records[i].ID] = req.Leaves[i]
			leaves = append(leaves, req.Leaves[i])
			ids = append(ids, req.Records[i].ID)
			digs = append(digs, req.Records[i].Digests)
		}
		slots = append(slots, s)
	}

	var hr headerRec
	var paths [][][]byte
	if len(leaves) > 0 {
		var err error
		hr, paths, err = l.commit(leaves, ids, digs)
		if err != nil {
			for _, s := range slots {
				s.req.Answer(nil, err)
			}
			return
		}
		if l.cfg.OnLeaves != nil {
			l.cfg.OnLeaves(hr.Header.Number, leaves)
		}
		if l.cfg.OnBlock != nil {
			l.cfg.OnBlock(hr.Header.Number, len(leaves), time.Since(start))
		}
	}
	seal := &hr.Seal // one copy for the block's receipts
	for _, s := range slots {
		out := make([]verifier.Receipt, len(s.req.Records))
		var err error
		k := s.first
		ex := 0
		for i, r := range s.req.Records {
			if ex < len(s.existing) && s.existing[ex] == i {
				ex++
				out[i], err = l.Receipt(context.Background(), r.ID)
				if err != nil {
					break
				}
				continue
			}
			out[i] = l.receipt(r, hr, entry{Block: hr.Header.Number, Index: uint64(k), Size: uint64(len(leaves)), Path: paths[k], Leaf: leaves[k]}, seal)
			k++
		}
		if err != nil {
			out = nil
		}
		s.req.Answer(out, err)
	}
}

// commit writes one block holding leaves (the records ids, with digests
// digs): the block synced, its index after it (see below).
func (l *Ledger) commit(leaves [][]byte, ids []evidence.ID, digs [][]evidence.Digest) (headerRec, [][][]byte, error) {
	if l.cfg.CheckSpace != nil {
		if err := l.cfg.CheckSpace(); err != nil {
			return headerRec{}, nil, err
		}
	}
	l.mu.RLock()
	num, prev := l.height, l.lastHash
	l.mu.RUnlock()
	root, paths := block.Tree(leaves)
	hdr := block.Header{Number: num, PreviousHash: prev, DataHash: root}
	hash := hdr.Hash()
	seal := block.Seal{Ledger: l.cfg.Name, Number: num, BlockHash: hex.EncodeToString(hash), Time: verifier.FormatTime(l.cfg.Now())}
	if err := seal.SignAs(l.cfg.Key, l.keyID); err != nil {
		return headerRec{}, nil, fmt.Errorf("%w: %v", node.ErrUnavailable, err)
	}
	blk := block.Embedded{Version: block.EmbeddedVersion, Header: hdr, Records: leaves, Seal: seal}
	raw, err := blk.Marshal()
	if err != nil {
		return headerRec{}, nil, fmt.Errorf("%w: %v", node.ErrUnavailable, err)
	}
	hr := headerRec{Header: hdr, Seal: seal, Records: len(leaves)}
	hrb, _ := json.Marshal(hr)

	// The block and its records' entries go to the block file in one
	// synced write: from then on the block is durable. The index follows
	// in one batch that is not synced on its own (a crash of the process
	// keeps it; a crash of the machine may lose it, and Open indexes
	// again, from the block files, the blocks past the index's end). One
	// fsync per block, not two; syncIndex bounds how far the index lags.
	data, offs := blockData(num, raw, leaves, paths)
	at, err := l.segs.append(data)
	if err != nil {
		return headerRec{}, nil, fmt.Errorf("%w: writing block %d: %w", node.ErrUnavailable, num, err)
	}
	var b store.Batch
	l.indexBlock(&b, hr, hrb, hash, at, len(raw), offs, ids, digs)
	markDigests(&b, num+1)
	write := l.db.WriteUnsynced
	if time.Since(l.synced) >= syncIndex {
		write, l.synced = l.db.Write, time.Now()
	}
	if l.cfg.OnSeal != nil {
		l.cfg.OnSeal(&b, hdr, seal)
	}
	if err := write(&b); err != nil {
		return headerRec{}, nil, fmt.Errorf("%w: indexing block %d: %w", node.ErrUnavailable, num, err)
	}
	l.segs.commit(at)
	for _, id := range ids {
		if bytes.Compare(id[:], l.maxID[:]) > 0 {
			l.maxID = id
		}
	}
	l.mu.Lock()
	l.height, l.lastHash = num+1, hash
	l.mu.Unlock()
	return hr, paths, nil
}

// syncIndex is how often at most the index is written unsynced before a
// synced write: after a crash of the machine, Open re-indexes at most
// this long's worth of blocks.
const syncIndex = time.Second

// blockData is what a block takes in the block file: the block, then the
// entry of each of its records, with where each entry starts (and, last,
// where the data ends).
func blockData(num uint64, raw []byte, leaves [][]byte, paths [][][]byte) ([]byte, []int) {
	n := len(raw)
	for i := range leaves {
		n += entry{Path: paths[i], Leaf: leaves[i]}.size()
	}
	data := append(make([]byte, 0, n), raw...)
	offs := make([]int, len(leaves)+1)
	for i := range leaves {
		offs[i] = len(data)
		data = entry{Block: num, Index: uint64(i), Size: uint64(len(leaves)), Path: paths[i], Leaf: leaves[i]}.appendTo(data)
	}
	offs[len(leaves)] = len(data)
	return data, offs
}

// indexBlock adds to b the index of block hr (hashing to hash), written
// at at: the block (rawLen bytes), its header, its records' entries
// (starting at offs within at) and their digests, and the new head.
func (l *Ledger) indexBlock(b *store.Batch, hr headerRec, hrb, hash []byte, at loc, rawLen int, offs []int, ids []evidence.ID, digs [][]evidence.Digest) {
	num := hr.Header.Number
	b.Set(numKey(prefBlk, num), loc{Seg: at.Seg, Off: at.Off, Len: uint32(rawLen)}.bytes())
	b.Set(numKey(prefHdr, num), hrb)
	for i, id := range ids {
		b.Set(recKey(id), loc{Seg: at.Seg, Off: at.Off + int64(offs[i]), Len: uint32(offs[i+1] - offs[i])}.bytes())
		l.digests.add(b, id, digs[i])
	}
	head := make([]byte, headLen)
	binary.BigEndian.PutUint64(head[0:8], num+1)
	copy(head[8:40], hash)
	binary.BigEndian.PutUint32(head[40:44], at.Seg)
	binary.BigEndian.PutUint64(head[44:52], uint64(at.Off)+uint64(offs[len(ids)]))
	b.Set(keyHead, head)
}

// receipt is the receipt of record r, at e in block hr; seal is the
// block's seal (hr's), which the receipts of a block share: receipts are
// not changed once made.
func (l *Ledger) receipt(r evidence.Record, hr headerRec, e entry, seal *block.Seal) verifier.Receipt {
	rc := verifier.NewReceipt(r)
	rc.Ledger = l.cfg.Name
	rc.LedgerKind = block.KindEmbedded
	rc.TxID = verifier.EmbeddedTxID(e.Leaf)
	rc.BlockNumber = hr.Header.Number
	rc.BlockHash = hr.Seal.BlockHash
	rc.LedgerTime = hr.Seal.Time
	rc.TimeSource = verifier.TimeSourceNode
	rc.KeyIDs = []string{hr.Seal.KeyID}
	rc.Proof = verifier.Proof{
		Kind:      verifier.ProofEmbedded,
		Record:    e.Leaf,
		LeafIndex: e.Index,
		TreeSize:  e.Size,
		AuditPath: e.Path,
		BatchRoot: hr.Header.DataHash,
		Header:    hr.Header,
		Seal:      seal,
	}
	return rc
}

// Receipt implements node.Ledger. The record's entry is checked against
// the block's stored header first: its leaf and audit path must lead to
// the block's data hash, and the record must be the one asked for. A
// mismatch, or a block whose own bytes were found corrupted, is a
// *node.CorruptedError.
func (l *Ledger) Receipt(_ context.Context, id evidence.ID) (verifier.Receipt, error) {
	at, e, err := l.entry(id)
	if err != nil {
		return verifier.Receipt{}, err
	}
	hr, err := l.header(e.Block)
	if errors.Is(err, node.ErrNotFound) {
		return verifier.Receipt{}, l.corrupted(l.blockAt(at), id.String(), nil, false, "its record entry names block %d, which is not on the ledger", e.Block)
	}
	if err != nil {
		return verifier.Receipt{}, err
	}
	rec, perr := evidence.ParseRecord(e.Leaf)
	h := rfc6962.DefaultHasher
	root, err := proof.RootFromInclusionProof(h, e.Index, e.Size, h.HashLeaf(e.Leaf), e.Path)
	if err != nil || !bytes.Equal(root, hr.Header.DataHash) || e.Size != uint64(hr.Records) {
		switch {
		case err != nil:
		case e.Size != uint64(hr.Records):
			err = fmt.Errorf("it counts %d records in the block, the block holds %d", e.Size, hr.Records)
		default:
			err = fmt.Errorf("its record and audit path lead to %x, the block's data hash is %x", root, hr.Header.DataHash)
		}
		var stored *verifier.Receipt
		if perr == nil && rec.ID == id {
			rc := l.receipt(rec, hr, e, &hr.Seal)
			stored = &rc
		}
		n := l.blockAt(at)
		if n < 0 {
			n = int64(e.Block)
		}
		return verifier.Receipt{}, l.corrupted(n, id.String(), stored, false, "its record entry does not match the block's data hash (the entry's bytes were changed): %v", err)
	}
	if perr != nil {
		// The bytes are those committed (they hash to the data hash):
		// not damage, a record this version cannot read.
		return verifier.Receipt{}, fmt.Errorf("%w: stored record %s: %v", node.ErrUnavailable, id, perr)
	}
	if rec.ID != id {
		return verifier.Receipt{}, l.corrupted(int64(e.Block), id.String(), nil, false, "its index entry points at the entry of record %s", rec.ID)
	}
	rc := l.receipt(rec, hr, e, &hr.Seal)
	if why, bad := l.marks.bad(e.Block); bad {
		return verifier.Receipt{}, l.corrupted(int64(e.Block), id.String(), &rc, true, "the block's bytes failed their check: %s", why)
	}
	return rc, nil
}

// entry reads the stored entry of a record and where it lies: ErrNotFound
// if there is none.
func (l *Ledger) entry(id evidence.ID) (loc, entry, error) {
	lb, err := l.db.Get(recKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return loc{}, entry{}, fmt.Errorf("record %s: %w", id, node.ErrNotFound)
	}
	if err != nil {
		return loc{}, entry{}, fmt.Errorf("%w: %v", node.ErrUnavailable, err)
	}
	at, err := parseLoc(lb)
	if err != nil {
		return loc{}, entry{}, l.corrupted(-1, id.String(), nil, false, "its index entry does not parse: %v", err)
	}
	b, err := l.segs.read(at)
	if err != nil {
		return at, entry{}, l.readFailed(l.blockAt(at), id.String(), "its record entry", err)
	}
	e, err := parseEntry(b)
	if err != nil {
		return at, entry{}, l.corrupted(l.blockAt(at), id.String(), nil, false, "its record entry does not parse: %v", err)
	}
	return at, e, nil
}

func (l *Ledger) header(n uint64) (headerRec, error) {
	l.hmu.Lock()
	hr, ok := l.headers[n]
	l.hmu.Unlock()
	if ok {
		return hr, nil
	}
	hr, err := l.readHeader(n)
	if err == nil {
		l.hmu.Lock()
		if len(l.headers) >= headerCacheSize {
			for k := range l.headers { // evict one at random
				delete(l.headers, k)
				break
			}
		}
		l.headers[n] = hr
		l.hmu.Unlock()
	}
	return hr, err
}

// readHeader reads the stored header of block n and checks it on its own
// (its hash is what its seal names); the seal's signature is checked
// where the block itself is read.
func (l *Ledger) readHeader(n uint64) (headerRec, error) {
	b, err := l.db.Get(numKey(prefHdr, n))
	if errors.Is(err, store.ErrNotFound) {
		return headerRec{}, fmt.Errorf("block %d: %w", n, node.ErrNotFound)
	}
	if err != nil {
		return headerRec{}, fmt.Errorf("%w: %v", node.ErrUnavailable, err)
	}
	hr, why := parseHeaderRec(b, n, l.cfg.Name)
	if why != "" {
		return headerRec{}, l.corrupted(int64(n), "", nil, true, "%s", why)
	}
	return hr, nil
}

// Block implements node.Ledger. The block read is checked first: it
// parses, its records hash to its data hash, its seal verifies against
// the trust roots, and it is the block the stored header describes; a
// mismatch is a *node.CorruptedError.
func (l *Ledger) Block(_ context.Context, n uint64) (node.Block, error) {
	l.mu.RLock()
	height := l.height
	l.mu.RUnlock()
	if n >= height {
		return node.Block{}, fmt.Errorf("block %d: %w", n, node.ErrNotFound)
	}
	num := int64(n)
	lb, err := l.db.Get(numKey(prefBlk, n))
	if errors.Is(err, store.ErrNotFound) {
		return node.Block{}, l.corrupted(num, "", nil, true, "the index has no location for this block")
	}
	if err != nil {
		return node.Block{}, fmt.Errorf("%w: %v", node.ErrUnavailable, err)
	}
	at, err := parseLoc(lb)
	if err != nil {
		return node.Block{}, l.corrupted(num, "", nil, true, "its index location does not parse: %v", err)
	}
	hr, err := l.header(n)
	if errors.Is(err, node.ErrNotFound) {
		return node.Block{}, l.corrupted(num, "", nil, true, "the index has no stored header for this block")
	}
	if err != nil {
		return node.Block{}, err
	}
	raw, err := l.segs.read(at)
	if err != nil {
		return node.Block{}, l.readFailed(num, "", "the block", err)
	}
	b, err := block.ParseEmbedded(raw)
	if err != nil {
		return node.Block{}, l.corrupted(num, "", nil, true, "the block file's bytes do not parse as a block: %v", err)
	}
	if why := sameAsStored(b, hr); why != "" || b.Header.Number != n || b.Version != block.EmbeddedVersion {
		if why == "" {
			why = fmt.Sprintf("block %d, version %d", b.Header.Number, b.Version)
		}
		return node.Block{}, l.corrupted(num, "", nil, true, "the block file and the stored header differ: %s", why)
	}
	if got := block.DataHash(b.Records); !bytes.Equal(got, hr.Header.DataHash) {
		return node.Block{}, l.corrupted(num, "", nil, true, "its records do not hash to its data hash (a record in the block was changed): data hash %x, records hash to %x", hr.Header.DataHash, got)
	}
	if err := b.Seal.Verify(b.Header, l.roots); err != nil {
		return node.Block{}, l.corrupted(num, "", nil, true, "its seal does not verify: %v", err)
	}
	return node.Block{Header: b.Header, Kind: block.KindEmbedded, Raw: raw, Records: len(b.Records), Time: b.Seal.Time}, nil
}

// checkTail checks the last block at Open, as Check checks every block,
// and that the head record (whose block files end at seg, end) names it.
// A problem marks the block corrupted: its records are not served, the
// rest of the ledger is, and new blocks are appended after it.
func (l *Ledger) checkTail(seg uint32, end int64) error {
	if l.height == 0 {
		return nil
	}
	n := l.height - 1
	c := &checker{db: l.db, segs: l.segs, roots: l.roots}
	prev := []byte{}
	if n > 0 {
		hr, p, err := c.header(n - 1)
		if err != nil {
			return fmt.Errorf("embedded: checking the last blocks: %w", err)
		}
		prev = nil // unknown: not checked
		if p != nil {
			l.report(p.ce, p.whole)
		} else {
			prev = hr.Header.Hash()
		}
	}
	got, p, err := c.block(n, prev)
	if err != nil {
		return fmt.Errorf("embedded: checking the last block: %w", err)
	}
	switch {
	case p != nil:
		l.report(p.ce, p.whole)
	case !bytes.Equal(got.hash, l.lastHash):
		l.report(&node.CorruptedError{Block: int64(n), Reason: fmt.Sprintf("the head record names hash %x, the block hashes to %x", l.lastHash, got.hash)}, true)
	case got.at.Seg != seg || got.end != end:
		l.report(&node.CorruptedError{Block: int64(n), Reason: fmt.Sprintf("the head record says the block files end at segment %d offset %d, the block's entries end at segment %d offset %d", seg, end, got.at.Seg, got.end)}, true)
	}
	return nil
}
