// Package tlog is the node's transparency log: one append-only RFC 6962
// Merkle tree (SHA-256) over every record on the ledger, in ledger order,
// with C2SP checkpoints signed by an Ed25519 log key
// (c2sp.org/tlog-checkpoint, c2sp.org/signed-note) and served as C2SP
// tiles (c2sp.org/tlog-tiles).
//
// The log follows the ledger: it reads each committed block (Source) and
// appends the block's records in the order the block holds them. The
// leaves are the records' canonical encodings (evidence.Record.Canonical),
// the same bytes the ledger's batch trees hash, so a record's log leaf
// hash is the leaf hash of its batch audit path. What a block adds to the
// log (the record→index map on Fabric, the new checkpoint, the log's
// position) is written in one atomic store batch, the stored hashes to
// their file just before: after a crash the log resumes at the first
// block it has not written, and a new log back-fills every block
// already on the ledger. On Fabric the log is computed from the committed
// blocks alone, so every organisation's node builds the same tree.
//
// Tree hashes are kept as golang.org/x/mod/sumdb/tlog "stored hashes"
// (each complete subtree's hash once) in a file of their own (hashes.go),
// computed again from the ledger when it is short, missing or damaged;
// tiles and proofs are read from it.
package tlog

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/logging"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/logproof"
)

// Source is the ledger the log follows.
type Source interface {
	// Height is the number of committed blocks.
	Height(ctx context.Context) (uint64, error)
	// BlockLeaves returns the canonical encodings of the records block n
	// adds to the ledger, in ledger order (none for a block without
	// evidence). It must give the same answer every time it is asked.
	BlockLeaves(ctx context.Context, n uint64) ([][]byte, error)
}

// Config configures a Log.
type Config struct {
	DB *store.DB
	// Hashes is the file of the tree's stored hashes (derived data,
	// computed again from the ledger when it is short or missing).
	Hashes string
	// Origin is the checkpoints' origin line: the ledger's name.
	Origin string
	// Key signs checkpoints (LoadOrCreateKey). Previous, after a key
	// rotation, is the key rotated away (LoadPreviousKey): it signs
	// beside Key until it is retired (rotate.go).
	Key      Key
	Previous *Key
	Source   Source
	// Poll is how often the log asks the Source for new blocks when
	// nobody calls Wake (default 1 s; Fabric blocks of other
	// organisations arrive without a Wake).
	Poll time.Duration
	// Gather is the least time between two catch-ups (default 5 ms): the
	// blocks committed meanwhile go into one write and one signed
	// checkpoint, not one each (under many small blocks the signature and
	// the store write per block were a few per cent of the node's CPU).
	// Receipts do not wait for the log; its checkpoints lag by this much
	// more at most. Negative: none.
	Gather time.Duration
	// OnCheckpoint, if set, is called (from the log's goroutine) after
	// each new checkpoint is stored.
	OnCheckpoint func(Checkpoint)
	// Witnesses cosign each new checkpoint (c2sp.org/tlog-witness); one
	// that is down or refuses holds nothing up.
	Witnesses []Witness
	// WitnessInterval is the least time between two submissions to one
	// witness (default 1 s): under load the log signs a checkpoint a block,
	// and a witness, somebody else's server, is sent the latest one at
	// that pace, not each.
	WitnessInterval time.Duration
	// Registerer receives the log's metrics (nil: none).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

var _ node.TransparencyLog = (*Log)(nil)

// Checkpoint is a signed checkpoint of the log.
type Checkpoint struct {
	Size uint64
	Root []byte
	// Note is the signed note: "<origin>\n<size>\n<base64 root>\n", a
	// blank line and the log's signature line (c2sp.org/tlog-checkpoint).
	Note []byte

	made time.Time // when this node signed it (zero if read back)
}

// Errors the Log returns (wrapped).
var (
	// ErrEmpty: the log has no checkpoint yet (no record on the ledger,
	// or the back-fill has not reached one).
	ErrEmpty = errors.New("the transparency log has no checkpoint yet")
)

// Store keys, all under "T/".
var (
	keyState  = []byte("T/state")
	prefHash  = []byte("T/h/")  // layout 1 only: stored hash index → 32 bytes (now in Config.Hashes)
	prefRec   = []byte("T/r/")  // record ID → leaf index (a Source that is not positional)
	prefEnd   = []byte("T/e/")  // end leaf index (exclusive) → block number, for blocks with records
	prefStart = []byte("T/b/")  // block number → first leaf index
	prefCP    = []byte("T/cp/") // tree size → signed checkpoint
)

// stateVersion is the layout of the log's data: 2 keeps the stored hashes
// in their own file (Config.Hashes); 1 (before 2026-12-02) kept them in
// the store, a key each: Open deletes those and the file is computed from
// the ledger.
const stateVersion = 2

func numKey(prefix []byte, n uint64) []byte {
	k := make([]byte, len(prefix)+8)
	copy(k, prefix)
	binary.BigEndian.PutUint64(k[len(prefix):], n)
	return k
}

// state is what the log has written.
type state struct {
	V int `json:"v"`
	// Next is the first block not wholly in the log; Offset how many of
	// its records are.
	Next   uint64 `json:"next_block"`
	Offset uint64 `json:"offset,omitempty"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root,omitempty"`
}

// Log is the transparency log.
type Log struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	catchMu sync.Mutex // serialises CatchUp

	ring keyring // the log's keys (rotate.go)

	mu sync.RWMutex
	st state
	cp Checkpoint // the latest; Size 0 before the first
	// cpSince is when cp was signed (or, read back at Open, when the log
	// opened): the witnesses' lag is counted from it.
	cpSince time.Time

	// pend are the stored hashes of the write being prepared, from index
	// pendFrom (ReadHashes sees them before they reach the file); only
	// the log's goroutine uses them.
	pend     []tlog.Hash
	pendFrom int64
	hf       *hashFile
	// have is how many stored hashes the file holds for certain; repaired
	// is set once the file holds the recorded tree (repair).
	have     atomic.Int64
	repaired atomic.Bool
	damaged  atomic.Bool // a reader found a proof that does not check
	// recomputed: the file was computed again after a proof failed; one
	// that fails after that is not the file's fault (hashesDamaged).
	recomputed atomic.Bool
	// positional: the Source's blocks hold the records at their receipts'
	// leaf index, so a record's log index is its block's first leaf plus
	// that (no record→index key is stored).
	positional bool

	// offered are the leaves of blocks the ledger has just committed,
	// handed over by Offer so that CatchUp need not read them back
	// (bounded by maxOffered leaves; past it a block is read back).
	offerMu  sync.Mutex
	offered  map[uint64][][]byte
	offeredN int

	size      prometheus.Gauge
	lag       prometheus.Gauge
	fails     prometheus.Counter
	witnessed *prometheus.CounterVec
	// delay: from a block's commit (Wake) to the checkpoint that holds
	// it; cosignDelay: from a checkpoint to a witness's cosignature.
	delay       prometheus.Histogram
	cosignDelay prometheus.Histogram
	woke        atomic.Int64 // unix ns of the first Wake not yet served

	witnessers []*witnesser
	wg         sync.WaitGroup
	// bestCosigned is the largest tree size a witness cosigned (under mu).
	bestCosigned uint64
	// cps caches ProofCheckpoint's answers by tree size: the signed note
	// with its cosignature lines (an entry goes when a cosignature for its
	// size is stored).
	cpsMu  sync.Mutex
	cps    map[uint64]Checkpoint
	cpsGen uint64 // counts the cosignatures stored
}

// MaxLeavesPerWrite bounds the leaves one store write adds (about three
// keys each, well under badger's largest transaction with the node's
// small memtables); back-fill and large blocks go in steps of at most this
// many, each signed.
const MaxLeavesPerWrite = 2000

// Open opens (or creates) the log and starts following the Source: a new
// log back-fills the ledger's blocks in the background.
func Open(cfg Config) (*Log, error) {
	if cfg.DB == nil || cfg.Source == nil || cfg.Key.Signer == nil || cfg.Hashes == "" {
		return nil, errors.New("tlog: DB, Hashes, Source and Signer are required")
	}
	if err := ValidOrigin(cfg.Origin); err != nil {
		return nil, err
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.WitnessInterval <= 0 {
		cfg.WitnessInterval = time.Second
	}
	if cfg.Gather == 0 {
		cfg.Gather = 5 * time.Millisecond
	}
	l := &Log{cfg: cfg, log: logging.Or(cfg.Logger).With("part", "tlog"),
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	l.size = prometheus.NewGauge(prometheus.GaugeOpts{Name: "evidence_tlog_size", Help: "Records in the transparency log (its latest checkpoint's tree size)."})
	l.lag = prometheus.NewGauge(prometheus.GaugeOpts{Name: "evidence_tlog_blocks_behind", Help: "Committed blocks the transparency log has not read yet."})
	l.fails = prometheus.NewCounter(prometheus.CounterOpts{Name: "evidence_tlog_errors_total", Help: "Failed attempts to extend the transparency log (retried)."})
	l.witnessed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_tlog_witness_total",
		Help: "Checkpoints submitted to witnesses by witness and outcome (cosigned, refused, unreachable)."}, []string{"witness", "outcome"})
	buckets := prometheus.ExponentialBuckets(0.001, 2, 15)
	l.delay = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "evidence_tlog_checkpoint_delay_seconds",
		Help: "From a block's commit to the signed checkpoint that holds it.", Buckets: buckets})
	l.cosignDelay = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "evidence_tlog_cosign_delay_seconds",
		Help: "From a checkpoint to a witness's cosignature on it.", Buckets: buckets})
	// The witnesses' lag: how long the newest checkpoint has waited for a
	// cosignature (0 once one holds it, and on a node without witnesses).
	uncosigned := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "evidence_tlog_checkpoint_age_seconds",
		Help: "Seconds the newest checkpoint has waited for a witness's cosignature (0 once cosigned, or without --witness)."},
		func() float64 {
			l.mu.RLock()
			defer l.mu.RUnlock()
			if len(l.cfg.Witnesses) == 0 || l.cp.Size == 0 || l.bestCosigned >= l.cp.Size || l.cpSince.IsZero() {
				return 0
			}
			return time.Since(l.cpSince).Seconds()
		})
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{l.size, l.lag, l.fails, l.witnessed, l.delay, l.cosignDelay, uncosigned} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("tlog: metrics: %w", err)
			}
		}
	}
	history, err := KeyHistory(cfg.DB)
	if err != nil {
		return nil, err
	}
	if l.ring, err = newKeyring(history, cfg.Key, cfg.Previous); err != nil {
		return nil, err
	}
	b, err := cfg.DB.Get(keyState)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("tlog: read state: %w", err)
	default:
		if err := json.Unmarshal(b, &l.st); err != nil {
			return nil, fmt.Errorf("tlog: state: %w", err)
		}
		switch l.st.V {
		case 1, stateVersion:
			if err := dropOld(cfg.DB); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("tlog: the log's layout is version %d; this node knows 1 and %d (written by a newer node?)", l.st.V, stateVersion)
		}
		if l.st.Size > 0 {
			n, err := cfg.DB.Get(numKey(prefCP, l.st.Size))
			if err != nil {
				return nil, fmt.Errorf("tlog: checkpoint %d: %w", l.st.Size, err)
			}
			l.cp = Checkpoint{Size: l.st.Size, Root: l.st.Root, Note: n}
			// Its signing time is not stored: the witnesses' lag counts
			// from this start.
			l.cpSince = time.Now()
		}
	}
	if l.cp.Size > 0 {
		// A checkpoint of another origin or key (the ledger was renamed,
		// the key file replaced) would be a second history: refuse.
		c, err := logproof.OpenKeys(l.cp.Note, cfg.Origin, l.ring.trust, nil)
		if err != nil {
			return nil, fmt.Errorf("tlog: the stored checkpoint does not verify under origin %q and the log key: %w", cfg.Origin, err)
		}
		if c.Size != l.st.Size || string(c.Root) != string(l.st.Root) {
			return nil, fmt.Errorf("tlog: the stored checkpoint (size %d) is not the stored state (size %d)", c.Size, l.st.Size)
		}
	}
	l.size.Set(float64(l.st.Size))
	err = cfg.DB.Scan(prefWitness, nil, func(_, v []byte) (bool, error) {
		if len(v) == 8 {
			l.bestCosigned = max(l.bestCosigned, binary.BigEndian.Uint64(v))
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("tlog: witnesses: %w", err)
	}
	if l.hf, err = openHashFile(cfg.Hashes); err != nil {
		return nil, err
	}
	if p, ok := cfg.Source.(interface{ Positional() bool }); ok {
		l.positional = p.Positional()
	}
	// A whole file is taken at once; one to compute again is computed
	// before the log reads new blocks (repair, in CatchUp).
	if _, err := l.quickCheck(l.st); err != nil {
		return nil, err
	}
	l.startWitnesses()
	go l.run()
	l.Wake()
	return l, nil
}

// Wake makes the log look for new blocks now (call it after each block).
func (l *Log) Wake() {
	l.woke.CompareAndSwap(0, time.Now().UnixNano())
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// maxOffered bounds the leaves Offer holds for the log: about a dozen
// full blocks (a few MB); a log further behind reads blocks back.
const maxOffered = 16 << 10

// Offer hands the log the leaves of block n as the ledger committed it
// (the canonical records, in block order: what Source.BlockLeaves would
// return; the ledger calls it after the commit, before Wake). CatchUp
// then takes them from here instead of reading the block back. leaves
// must not be changed afterwards.
func (l *Log) Offer(n uint64, leaves [][]byte) {
	l.offerMu.Lock()
	defer l.offerMu.Unlock()
	if l.offeredN+len(leaves) > maxOffered {
		return
	}
	if l.offered == nil {
		l.offered = map[uint64][][]byte{}
	}
	if _, ok := l.offered[n]; !ok {
		l.offered[n] = leaves
		l.offeredN += len(leaves)
	}
}

// blockLeaves returns block n's leaves: those Offer gave (forgetting
// them and any of earlier blocks), else the Source's.
func (l *Log) blockLeaves(ctx context.Context, n uint64) ([][]byte, error) {
	l.offerMu.Lock()
	leaves, ok := l.offered[n]
	for m, ls := range l.offered {
		if m <= n {
			delete(l.offered, m)
			l.offeredN -= len(ls)
		}
	}
	l.offerMu.Unlock()
	if ok {
		return leaves, nil
	}
	return l.cfg.Source.BlockLeaves(ctx, n)
}

// Close stops following the ledger.
func (l *Log) Close() error {
	l.once.Do(func() { close(l.stop) })
	<-l.done
	l.wg.Wait()
	return l.hf.close()
}

func (l *Log) run() {
	defer close(l.done)
	t := time.NewTicker(l.cfg.Poll)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-l.stop; cancel() }()
	failing := false
	var last time.Time
	for {
		select {
		case <-l.stop:
			return
		case <-l.wake:
		case <-t.C:
		}
		if wait := l.cfg.Gather - time.Since(last); wait > 0 {
			select {
			case <-l.stop:
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		err := l.CatchUp(ctx)
		switch {
		case err == nil:
			if failing {
				l.log.Info("transparency log is following the ledger again", "size", l.Size())
			}
			failing = false
		case ctx.Err() != nil:
			return
		default:
			l.fails.Inc()
			if !failing {
				l.log.Warn("transparency log cannot read the ledger (retried)", "err", err)
			}
			failing = true
		}
	}
}

// CatchUp appends every committed block the log has not read yet. The
// log's goroutine calls it; tests may call it to wait for the log (it
// must not run concurrently with itself: the goroutine and a test call
// are serialised by a lock).
func (l *Log) CatchUp(ctx context.Context) error {
	l.catchMu.Lock()
	defer l.catchMu.Unlock()
	if err := l.repair(ctx); err != nil {
		return err
	}
	// Every block committed before this is read below.
	woke := l.woke.Swap(0)
	h, err := l.cfg.Source.Height(ctx)
	if err != nil {
		return fmt.Errorf("tlog: ledger height: %w", err)
	}
	l.mu.RLock()
	st := l.st
	l.mu.RUnlock()
	if h > st.Next {
		l.lag.Set(float64(h - st.Next))
	}
	start, lastReport := time.Now(), time.Now()
	for st.Next < h {
		var (
			b       store.Batch
			added   int
			hashIdx = tlog.StoredHashIndex(0, int64(st.Size))
		)
		l.pendFrom, l.pend = hashIdx, l.pend[:0]
		for st.Next < h && added < MaxLeavesPerWrite {
			leaves, err := l.blockLeaves(ctx, st.Next)
			if err != nil {
				return fmt.Errorf("tlog: block %d: %w", st.Next, err)
			}
			if st.Offset > uint64(len(leaves)) {
				return fmt.Errorf("tlog: block %d holds %d records, the log has %d of them", st.Next, len(leaves), st.Offset)
			}
			if st.Offset == 0 {
				b.Set(numKey(prefStart, st.Next), binary.BigEndian.AppendUint64(nil, st.Size))
			}
			// A large block is split over writes (Offset: its leaves in
			// the log so far).
			take := leaves[st.Offset:]
			if len(take) > MaxLeavesPerWrite-added {
				take = take[:MaxLeavesPerWrite-added]
			}
			for _, leaf := range take {
				if len(leaf) > MaxEntry {
					return fmt.Errorf("tlog: block %d: a record of %d bytes (entries are at most %d)", st.Next, len(leaf), MaxEntry)
				}
				id, err := recordID(leaf)
				if err != nil {
					return fmt.Errorf("tlog: block %d: %w", st.Next, err)
				}
				hs, err := tlog.StoredHashes(int64(st.Size), leaf, l)
				if err != nil {
					return fmt.Errorf("tlog: hash leaf %d: %w", st.Size, err)
				}
				l.pend = append(l.pend, hs...)
				hashIdx += int64(len(hs))
				if !l.positional {
					b.Set(append(append([]byte(nil), prefRec...), id[:]...), binary.BigEndian.AppendUint64(nil, st.Size))
				}
				st.Size++
			}
			if len(take) > 0 {
				// The block's leaves so far end here (entries are read
				// back from the block by it).
				b.Set(numKey(prefEnd, st.Size), binary.BigEndian.AppendUint64(nil, st.Next))
			}
			added += len(take)
			if st.Offset += uint64(len(take)); st.Offset == uint64(len(leaves)) {
				st.Next, st.Offset = st.Next+1, 0
			}
		}
		// The hashes reach the file before the store records the size
		// they make (the file is not synced: repair).
		if err := l.hf.write(l.pendFrom, l.pend); err != nil {
			return err
		}
		var cp Checkpoint
		if st.Size > 0 {
			root, err := tlog.TreeHash(int64(st.Size), l)
			if err != nil {
				return fmt.Errorf("tlog: tree hash: %w", err)
			}
			st.Root = root[:]
			if cp, err = l.sign(st.Size, st.Root); err != nil {
				return err
			}
			b.Set(numKey(prefCP, st.Size), cp.Note)
		}
		st.V = stateVersion
		sb, err := json.Marshal(st)
		if err != nil {
			return err
		}
		b.Set(keyState, sb)
		// Not synced by itself: the log is derived from the ledger's
		// durable blocks, so a write a machine crash loses is made
		// again, the same tree, on the next start. The next synced write
		// of the store (the ledger's index, a cosignature) syncs it; a
		// witness never holds a tree larger than the synced log.
		if err := l.cfg.DB.WriteUnsynced(&b); err != nil {
			return fmt.Errorf("tlog: write: %w", err)
		}
		l.have.Store(hashIdx)
		l.pend = l.pend[:0]
		l.mu.Lock()
		l.st = st
		newCP := cp.Size > l.cp.Size
		if newCP {
			l.cp, l.cpSince = cp, cp.made
		}
		l.mu.Unlock()
		l.size.Set(float64(st.Size))
		l.lag.Set(float64(h - st.Next))
		if time.Since(lastReport) > 10*time.Second {
			l.log.Info("transparency log back-fill", "block", st.Next, "of", h, "size", st.Size)
			lastReport = time.Now()
		}
		if newCP {
			l.wakeWitnesses()
			if l.cfg.OnCheckpoint != nil {
				l.cfg.OnCheckpoint(cp)
			}
		}
	}
	if woke != 0 {
		l.delay.Observe(time.Since(time.Unix(0, woke)).Seconds())
	}
	if d := time.Since(start); d > 10*time.Second {
		l.log.Info("transparency log caught up", "size", st.Size, "blocks", st.Next, "took", d.Round(time.Millisecond))
	}
	return nil
}

// sign makes the checkpoint of the tree of size with root.
func (l *Log) sign(size uint64, root []byte) (Checkpoint, error) {
	body := CheckpointBody(l.cfg.Origin, size, root)
	// Every key the log holds whose range holds size: after a rotation,
	// the new key and the old one until it is retired.
	signers := l.ring.signersFor(size)
	if len(signers) == 0 {
		return Checkpoint{}, fmt.Errorf("tlog: no key of the log signs a checkpoint of size %d", size)
	}
	n, err := note.Sign(&note.Note{Text: body}, signers...)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("tlog: sign checkpoint: %w", err)
	}
	return Checkpoint{Size: size, Root: append([]byte(nil), root...), Note: n, made: time.Now()}, nil
}

// CheckpointBody is the note text of a checkpoint (c2sp.org/tlog-checkpoint):
// origin, decimal tree size and base64 root hash, one a line.
func CheckpointBody(origin string, size uint64, root []byte) string {
	return logproof.Checkpoint{Origin: origin, Size: size, Root: root}.Body()
}

// Size is the tree size of the latest checkpoint.
func (l *Log) Size() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.cp.Size
}

// Origin is the checkpoints' origin line.
func (l *Log) Origin() string { return l.cfg.Origin }

// VerifierKey is the log's note verifier key.
func (l *Log) VerifierKey() string { return l.cfg.Key.VerifierKey }

// Latest returns the latest checkpoint, or ErrEmpty.
func (l *Log) Latest() (Checkpoint, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.cp.Size == 0 {
		return Checkpoint{}, fmt.Errorf("%w: %w", node.ErrNotFound, ErrEmpty)
	}
	return l.cp, nil
}

// Consistency returns the RFC 6962 consistency proof from the tree of size
// old to the tree of size new (0 < old ≤ new ≤ the latest checkpoint's
// size; old = new gives an empty proof). Bad sizes are node.ErrInvalid.
func (l *Log) Consistency(old, new uint64) ([][]byte, error) {
	size := l.Size()
	if old == 0 || old > new || new > size {
		return nil, fmt.Errorf("%w: consistency proof from %d to %d: want 0 < old ≤ new ≤ %d (the latest checkpoint's size)", node.ErrInvalid, old, new, size)
	}
	if old == new {
		return [][]byte{}, nil
	}
	p, err := tlog.ProveTree(int64(new), int64(old), l.hashes())
	if err != nil {
		return nil, fmt.Errorf("tlog: consistency proof %d→%d: %w", old, new, err)
	}
	return hashesOut(p), nil
}

// Inclusion is a record's place in the log: its leaf index and the RFC
// 6962 inclusion proof to the tree of a checkpoint.
type Inclusion struct {
	Index uint64
	Proof [][]byte
	// Checkpoint is the checkpoint the proof leads to.
	Checkpoint Checkpoint
}

// Include returns the inclusion proof of receipt rc's record to the
// checkpoint receipts carry (ProofCheckpoint: the latest cosigned one that
// holds it, with its cosignatures); node.ErrNotFound when the log does not
// hold the record (yet).
func (l *Log) Include(rc verifier.Receipt) (Inclusion, error) {
	idx, err := l.index(rc)
	if err != nil {
		return Inclusion{}, err
	}
	cp, err := l.ProofCheckpoint(idx)
	if err != nil {
		return Inclusion{}, err
	}
	return l.includeAt(idx, tlog.RecordHash(rc.Proof.Record), cp)
}

// IncludeAt returns the inclusion proof of receipt rc's record to
// checkpoint cp (one of this log's).
func (l *Log) IncludeAt(rc verifier.Receipt, cp Checkpoint) (Inclusion, error) {
	idx, err := l.index(rc)
	if err != nil {
		return Inclusion{}, err
	}
	return l.includeAt(idx, tlog.RecordHash(rc.Proof.Record), cp)
}

// index is the leaf index of rc's record: on a positional Source its
// block's first leaf plus its place in the block, else the stored
// record→index key. Either way the leaf there must hash as rc's record.
func (l *Log) index(rc verifier.Receipt) (uint64, error) {
	notYet := fmt.Errorf("%w: record %s is not in the transparency log yet", node.ErrNotFound, rc.ID)
	var idx uint64
	if l.positional && rc.LedgerKind == block.KindEmbedded {
		v, err := l.cfg.DB.Get(numKey(prefStart, rc.BlockNumber))
		if errors.Is(err, store.ErrNotFound) {
			return 0, notYet
		}
		if err != nil || len(v) != 8 {
			return 0, fmt.Errorf("tlog: first leaf of block %d: %v", rc.BlockNumber, err)
		}
		idx = binary.BigEndian.Uint64(v) + rc.Proof.LeafIndex
	} else {
		id, err := evidence.ParseID(rc.ID)
		if err != nil {
			return 0, err
		}
		v, err := l.cfg.DB.Get(append(append([]byte(nil), prefRec...), id[:]...))
		if errors.Is(err, store.ErrNotFound) {
			return 0, notYet
		}
		if err != nil || len(v) != 8 {
			return 0, fmt.Errorf("tlog: index of %s: %v", id, err)
		}
		idx = binary.BigEndian.Uint64(v)
	}
	l.mu.RLock()
	size := l.st.Size
	l.mu.RUnlock()
	if idx >= size {
		return 0, notYet
	}
	// That the leaf there is rc's record is checked with the proof
	// (includeAt).
	return idx, nil
}

// includeAt proves leaf idx (of hash leaf) in checkpoint cp, and checks
// the proof before it is given: one that does not lead to cp's root means
// the stored hashes are damaged (hashesDamaged).
func (l *Log) includeAt(idx uint64, leaf tlog.Hash, cp Checkpoint) (Inclusion, error) {
	if idx >= cp.Size {
		return Inclusion{}, fmt.Errorf("%w: leaf %d is not in the transparency log's checkpoint of size %d yet", node.ErrNotFound, idx, cp.Size)
	}
	p, err := tlog.ProveRecord(int64(cp.Size), int64(idx), l.hashes())
	if err != nil {
		return Inclusion{}, fmt.Errorf("tlog: inclusion proof of %d in %d: %w", idx, cp.Size, err)
	}
	var root tlog.Hash
	copy(root[:], cp.Root)
	if err := tlog.CheckRecord(p, int64(cp.Size), root, int64(idx), leaf); err != nil {
		return Inclusion{}, l.hashesDamaged(fmt.Sprintf("inclusion of leaf %d in %d", idx, cp.Size))
	}
	return Inclusion{Index: idx, Proof: hashesOut(p), Checkpoint: cp}, nil
}

func hashesOut(p []tlog.Hash) [][]byte {
	out := make([][]byte, len(p))
	for i := range p {
		out[i] = append([]byte(nil), p[i][:]...)
	}
	return out
}

// ValidOrigin checks an origin line: not empty, printable, no newline, at
// most 256 bytes.
func ValidOrigin(origin string) error {
	if origin == "" || len(origin) > 256 || strings.ContainsAny(origin, "\n\r") {
		return fmt.Errorf("tlog: origin %q: want one line of 1 to 256 bytes", origin)
	}
	return nil
}

// CheckpointNote is the latest checkpoint as a signed note, with the
// cosignature lines of the witnesses that cosigned it.
func (l *Log) CheckpointNote() ([]byte, error) {
	cp, err := l.Latest()
	if err != nil {
		return nil, err
	}
	return l.Cosigned(cp.Size)
}

func (l *Log) noteCosigned(size uint64) {
	l.mu.Lock()
	l.bestCosigned = max(l.bestCosigned, size)
	l.mu.Unlock()
	// The checkpoint of size has one more cosignature line.
	l.cpsMu.Lock()
	delete(l.cps, size)
	l.cpsGen++
	l.cpsMu.Unlock()
}

// ProofCheckpoint is the checkpoint receipts prove leaf index's
// inclusion to, with every cosignature held for it: the first checkpoint
// holding the leaf that a witness cosigned, else the first holding it.
// Either is kept, so a receipt's log_proof changes at most twice (absent,
// then to the log's first checkpoint of it, then to its first cosigned
// one) and the documents made of it stay the same.
func (l *Log) ProofCheckpoint(index uint64) (Checkpoint, error) {
	latest, err := l.Latest()
	if err != nil {
		return Checkpoint{}, err
	}
	if index >= latest.Size {
		return Checkpoint{}, fmt.Errorf("%w: leaf %d is not in the transparency log's checkpoint of size %d yet", node.ErrNotFound, index, latest.Size)
	}
	first := func(prefix []byte) (uint64, error) {
		var size uint64
		err := l.cfg.DB.Scan(prefix, numKey(prefix, index+1), func(k, _ []byte) (bool, error) {
			size = binary.BigEndian.Uint64(k[len(prefix):])
			return false, nil
		})
		return size, err
	}
	size, err := first(prefCosig)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("tlog: cosigned checkpoints: %w", err)
	}
	if size == 0 || size > latest.Size {
		if size, err = first(prefCP); err != nil || size == 0 || size > latest.Size {
			return Checkpoint{}, fmt.Errorf("tlog: no checkpoint holds leaf %d (%v)", index, err)
		}
	}
	l.cpsMu.Lock()
	cp, ok := l.cps[size]
	gen := l.cpsGen
	l.cpsMu.Unlock()
	if ok {
		return cp, nil
	}
	n, err := l.Cosigned(size)
	if err != nil {
		return Checkpoint{}, err
	}
	c, err := logproof.ParseBody(string(n[:bytes.Index(n, []byte("\n\n"))+1]))
	if err != nil {
		return Checkpoint{}, err
	}
	cp = Checkpoint{Size: c.Size, Root: c.Root, Note: n}
	l.cpsMu.Lock()
	if len(l.cps) >= maxCachedCheckpoints || l.cps == nil {
		l.cps = map[uint64]Checkpoint{}
	}
	if gen == l.cpsGen { // no cosignature stored meanwhile
		l.cps[size] = cp
	}
	l.cpsMu.Unlock()
	return cp, nil
}

// maxCachedCheckpoints bounds Log.cps (a few hundred KB of notes).
const maxCachedCheckpoints = 1024

// Prove sets the log_proof of each receipt whose record the log holds: a
// c2sp.org/tlog-proof to the checkpoint ProofCheckpoint chooses
// (node.TransparencyLog).
func (l *Log) Prove(rcs []verifier.Receipt) error {
	for i := range rcs {
		inc, err := l.Include(rcs[i])
		if errors.Is(err, node.ErrNotFound) || errors.Is(err, errRepairing) {
			// Not in the log yet, or not provable while the log computes
			// its stored hashes again: the receipt goes without.
			continue
		}
		if err != nil {
			return err
		}
		rcs[i].LogProof = logproof.Proof{Index: inc.Index, Hashes: inc.Proof, Checkpoint: inc.Checkpoint.Note}.Marshal()
	}
	return nil
}

// TrustRoot names the log for the trust roots: origin, key (after a
// rotation, every key with the sizes it signs), and the witnesses it
// submits to (no quorum: a verifier chooses its own).
func (l *Log) TrustRoot() *block.Log {
	r := &block.Log{Origin: l.cfg.Origin, Key: l.cfg.Key.VerifierKey, Keys: slices.Clone(l.ring.history)}
	for _, w := range l.cfg.Witnesses {
		r.Witnesses = append(r.Witnesses, w.Key)
	}
	return r
}

// recordID is the ID of a record in canonical encoding: read from its
// fixed place (`{"v":N,"id":"<27 characters>"`) when it is there, else by
// decoding the record. (The ledger checked the record; the log needs only
// its ID, and decoding is half the log's work.)
func recordID(leaf []byte) (evidence.ID, error) {
	const pre, mid = `{"v":`, `,"id":"`
	if len(leaf) > len(pre)+1+len(mid)+27 && string(leaf[:len(pre)]) == pre && leaf[len(pre)] >= '1' && leaf[len(pre)] <= '9' &&
		string(leaf[len(pre)+1:len(pre)+1+len(mid)]) == mid {
		at := len(pre) + 1 + len(mid)
		if leaf[at+27] == '"' {
			if id, err := evidence.ParseID(string(leaf[at : at+27])); err == nil {
				return id, nil
			}
		}
	}
	r, err := evidence.ParseRecord(leaf)
	if err != nil {
		return evidence.ID{}, err
	}
	return r.ID, nil
}
