// Package store is the node's local key-value store on badger. It is the
// only package that imports badger; the embedded ledger, idempotency keys,
// private metadata and quota counters all live in one store, one database
// directory, with every write synced to disk before it returns (except
// WriteUnsynced, for data the caller can rebuild).
package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// ErrNotFound is returned by Get for a missing key.
var ErrNotFound = errors.New("store: key not found")

// ErrUnclean means a store opened ReadOnly was not closed cleanly: its
// log must be replayed, which writes; open it for writing to recover.
var ErrUnclean = errors.New("store: the store was not closed cleanly (its log must be replayed)")

// ErrLocked means another process has the database open.
var ErrLocked = errors.New("store: the data directory is in use by another process (is evidenced running?)")

// DB is an open store.
type DB struct {
	db   *badger.DB
	lock *os.File // holds our own lock on the directory; nil in memory
	sync groupSync
	// wmu is read-held by every write; Backup holds it a moment to take a
	// snapshot of its own in step with badger's stream.
	wmu sync.RWMutex
}

// Options tune the store.
type Options struct {
	// InMemory keeps everything in memory (tests only).
	InMemory bool
	// Logger receives badger's warnings and errors; nil discards them.
	Logger *slog.Logger
	// ReadOnly opens the store for reading only: badger writes nothing
	// (no compaction, no log), so a check can run on a full disk. A store
	// not closed cleanly cannot be opened so (ErrUnclean).
	ReadOnly bool
}

// Open opens or creates the store in dir. The settings favour a small
// memory footprint (tens of MB, not badger's default hundreds) and synced
// writes: a write has reached the disk when it returns.
func Open(dir string, o Options) (*DB, error) {
	opt := badger.DefaultOptions(dir).
		// Writes are synced by Write itself (one fsync shared by the
		// writers waiting at once), so WriteUnsynced can skip it.
		WithSyncWrites(false).
		WithNumVersionsToKeep(1).
		WithMemTableSize(8 << 20).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBaseTableSize(1 << 20).
		WithBaseLevelSize(8 << 20).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		WithValueThreshold(1 << 10).
		WithValueLogFileSize(64 << 20).
		WithNumCompactors(2).
		WithCompression(options.None).
		WithMetricsEnabled(false).
		WithDetectConflicts(false).
		WithLogger(badgerLogger{o.Logger})
	// Tables stay small at every level, so compaction's table builders
	// (which allocate twice the table size each) stay small too.
	opt.TableSizeMultiplier = 1
	var lock *os.File
	if o.InMemory {
		opt = opt.WithDir("").WithValueDir("").WithInMemory(true)
	} else {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		// Badger locks the directory too, but its error keeps no cause to
		// test: take a lock of our own first (before the check below: a
		// running node's store has its log open, which is no unclean stop).
		var err error
		if lock, err = lockDir(dir); err != nil {
			return nil, err
		}
	}
	if o.ReadOnly {
		// Badger keeps its memtable's log in *.mem files while it runs
		// and removes them when it closes cleanly; one left means a log to
		// replay, which read-only badger refuses (its error keeps no cause
		// to test).
		if mems, _ := filepath.Glob(filepath.Join(dir, "*.mem")); len(mems) > 0 {
			if lock != nil {
				lock.Close()
			}
			return nil, fmt.Errorf("%w: %s", ErrUnclean, dir)
		}
		opt = opt.WithReadOnly(true)
	}
	db, err := badger.Open(opt)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	d := &DB{db: db, lock: lock}
	d.sync.fn = db.Sync
	return d, nil
}

// lockDir takes an exclusive, non-blocking flock on dir/evidence.lock,
// held until the returned file is closed (or the process exits).
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "evidence.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("store: lock %s: %w", dir, err)
	}
	return f, nil
}

// Close flushes and closes the store.
func (d *DB) Close() error {
	err := d.db.Close()
	if d.lock != nil {
		d.lock.Close()
	}
	return err
}

// Get returns a copy of the value under key, or ErrNotFound.
func (d *DB) Get(key []byte) ([]byte, error) {
	var v []byte
	err := d.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		v, err = it.ValueCopy(nil)
		return err
	})
	return v, err
}

// Has reports whether key exists.
func (d *DB) Has(key []byte) (bool, error) {
	err := d.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	return err == nil, err
}

// MaxOps is the most operations of small keys and values (under 100
// bytes each) one Batch may hold. A Batch is one badger transaction, which
// takes at most 13,107 operations with these settings (15 % of the 8 MiB
// memtable, 96 bytes a skiplist node) and fails whole above it.
const MaxOps = 13000

// BulkOps is how many operations a bulk job (a back-fill, a clean-up) puts
// in one Batch: well under MaxOps.
const BulkOps = 8192

// Batch is a set of writes applied atomically by Write.
type Batch struct {
	keys, vals [][]byte
	dels       [][]byte
}

// Set adds a write of key=val.
func (b *Batch) Set(key, val []byte) { b.keys = append(b.keys, key); b.vals = append(b.vals, val) }

// Delete adds a deletion.
func (b *Batch) Delete(key []byte) { b.dels = append(b.dels, key) }

// Len is the number of operations.
func (b *Batch) Len() int { return len(b.keys) + len(b.dels) }

// Write applies the batch atomically and durably (all or nothing, synced).
func (d *DB) Write(b *Batch) error {
	if err := d.commit(b); err != nil {
		return err
	}
	if err := d.sync.do(); err != nil {
		return fmt.Errorf("store: sync: %w", err)
	}
	return nil
}

// WriteUnsynced applies the batch atomically without waiting for the
// disk: it survives the process being killed (the write is in the
// operating system's cache) but not a crash of the machine before the
// next Write or Sync. Only for data the caller can rebuild from a synced
// copy of its own.
func (d *DB) WriteUnsynced(b *Batch) error { return d.commit(b) }

func (d *DB) commit(b *Batch) error {
	d.wmu.RLock()
	defer d.wmu.RUnlock()
	txn := d.db.NewTransaction(true)
	defer txn.Discard()
	for i, k := range b.keys {
		if err := txn.Set(k, b.vals[i]); err != nil {
			return fmt.Errorf("store: write: %w", err)
		}
	}
	for _, k := range b.dels {
		if err := txn.Delete(k); err != nil {
			return fmt.Errorf("store: write: %w", err)
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Set writes one key durably.
func (d *DB) Set(key, val []byte) error {
	var b Batch
	b.Set(key, val)
	return d.Write(&b)
}

// Scan calls fn for every key with the given prefix, in key order, from
// start (inclusive; nil means the prefix itself), until fn returns false or
// an error. Values are only valid during the call.
func (d *DB) Scan(prefix, start []byte, fn func(key, val []byte) (bool, error)) error {
	return d.db.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = prefix
		opt.PrefetchValues = false
		it := txn.NewIterator(opt)
		defer it.Close()
		if start == nil {
			start = prefix
		}
		for it.Seek(start); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			var more bool
			err := item.Value(func(v []byte) error {
				var err error
				more, err = fn(item.Key(), v)
				return err
			})
			if err != nil || !more {
				return err
			}
		}
		return nil
	})
}

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	if b.l != nil {
		b.l.Error("badger: "+strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "store")
	}
}
func (b badgerLogger) Warningf(f string, a ...any) {
	if b.l != nil {
		b.l.Warn("badger: "+strings.TrimSpace(fmt.Sprintf(f, a...)), "component", "store")
	}
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

// LastKey returns the greatest key with the given prefix, or ErrNotFound.
func (d *DB) LastKey(prefix []byte) ([]byte, error) {
	var k []byte
	err := d.db.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = prefix
		opt.PrefetchValues = false
		opt.Reverse = true
		it := txn.NewIterator(opt)
		defer it.Close()
		seek := append(append([]byte(nil), prefix...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
		it.Seek(seek)
		if !it.ValidForPrefix(prefix) {
			return ErrNotFound
		}
		k = it.Item().KeyCopy(nil)
		return nil
	})
	return k, err
}

// BackupOptions say what Backup streams.
type BackupOptions struct {
	// Since, if not zero, streams only what changed after that version:
	// the Version of an earlier backup of this store (an incremental
	// backup).
	Since uint64
	// Watch names keys whose values Backup returns as they are in the
	// snapshot it streams (a key not in it, or not changed since Since, is
	// absent from the result).
	Watch [][]byte
	// Track names key prefixes whose live keys Backup lists as they are in
	// the snapshot, changed since Since or not: the keys the store's users
	// delete. Deletions reach an incremental backup only while badger
	// still holds their tombstones; Prune with this list makes a restore
	// exact.
	Track [][]byte
}

// BackupResult is what Backup learnt of the snapshot it streamed.
type BackupResult struct {
	// Version is the store's version at the snapshot: pass it as Since to
	// stream what changes after it.
	Version uint64
	// Watched holds the values of the watched keys found.
	Watched map[string][]byte
	// Live lists the live keys under the tracked prefixes, in key order.
	Live [][]byte
	// Keys is the number of keys streamed.
	Keys int
}

// backupMarker is the key Backup sets when it starts (below every key
// the node uses).
var backupMarker = []byte("\x00store/backup")

// Backup streams a consistent snapshot of the store to w in badger's own
// backup format (badger's Stream.Backup; what Load reads), while the store
// is in use: every key as of one moment. See BackupOptions.
func (d *DB) Backup(w io.Writer, o BackupOptions) (BackupResult, error) {
	res := BackupResult{Watched: map[string][]byte{}}
	// Badger's stream reads with one transaction per goroutine, each taken
	// when its goroutine starts: with one goroutine the stream is one
	// snapshot. The tracked prefixes are listed with a transaction of our
	// own, which must see the same snapshot: store writes wait from just
	// before it is taken until the stream has taken its own (it has when
	// it offers its first key, or when it ends), a few milliseconds.
	st := d.db.NewStream()
	st.NumGo = 1
	st.SinceTs = o.Since
	st.LogPrefix = "store.Backup"
	d.wmu.Lock()
	var once sync.Once
	unblock := func() { once.Do(d.wmu.Unlock) }
	defer unblock()
	// The marker is the first key of the store, changed by every backup:
	// the stream offers it at once, so writes wait only while the stream
	// starts, not while it skips what an incremental backup leaves out.
	err := d.db.Update(func(txn *badger.Txn) error {
		return txn.Set(backupMarker, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		return res, fmt.Errorf("store: backup: %w", err)
	}
	var list *badger.Txn
	if len(o.Track) > 0 {
		list = d.db.NewTransaction(false)
		defer list.Discard()
	}
	st.ChooseKey = func(item *badger.Item) bool {
		unblock()
		for _, wk := range o.Watch {
			if bytes.Equal(item.Key(), wk) && !item.IsDeletedOrExpired() {
				if v, err := item.ValueCopy(nil); err == nil {
					res.Watched[string(wk)] = v // one goroutine: no lock needed
				}
			}
		}
		res.Keys++
		return true
	}
	bw := &countingWriter{w: w}
	v, err := st.Backup(bw, o.Since)
	unblock()
	if err == nil {
		err = bw.err
	}
	if err != nil {
		return res, fmt.Errorf("store: backup: %w", err)
	}
	res.Version = max(v, o.Since)
	for _, p := range o.Track {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = p
		opt.PrefetchValues = false
		it := list.NewIterator(opt)
		for it.Rewind(); it.Valid(); it.Next() {
			res.Live = append(res.Live, it.Item().KeyCopy(nil))
		}
		it.Close()
	}
	slices.SortFunc(res.Live, bytes.Compare)
	return res, nil
}

type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// Load applies a stream written by Backup to the store: a full backup to
// an empty store, then each incremental one in order. Nothing else may
// write to the store meanwhile.
func (d *DB) Load(r io.Reader) error {
	if err := d.db.Load(r, 16); err != nil {
		return fmt.Errorf("store: load: %w", err)
	}
	return nil
}

// Prune deletes every key under the prefixes that is not in live (sorted,
// as BackupResult.Live): after an incremental restore, it removes what
// was deleted from the store after the base backup but whose deletion
// badger had already compacted away.
func (d *DB) Prune(prefixes [][]byte, live [][]byte) (int, error) {
	var b Batch
	for _, p := range prefixes {
		err := d.Scan(p, nil, func(k, _ []byte) (bool, error) {
			if _, found := slices.BinarySearchFunc(live, k, bytes.Compare); !found {
				b.Delete(bytes.Clone(k))
			}
			return true, nil
		})
		if err != nil {
			return 0, err
		}
	}
	if b.Len() == 0 {
		return 0, nil
	}
	return b.Len(), d.Write(&b)
}
