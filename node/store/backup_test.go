package store

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// dump returns every key and value of the store.
func dump(t *testing.T, db *DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := db.Scan(nil, nil, func(k, v []byte) (bool, error) { out[string(k)] = string(v); return true, nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBackupIncrementalRestore: a full backup, changes (new keys, changed
// keys, deleted keys in a tracked prefix and outside), an incremental
// backup; loading both into an empty store and pruning the tracked
// prefix gives the source store exactly.
func TestBackupIncrementalRestore(t *testing.T) {
	src := open(t, t.TempDir())
	defer src.Close()
	for i := range 200 {
		var b Batch
		b.Set(fmt.Appendf(nil, "r/%04d", i), fmt.Appendf(nil, "v%d", i))
		b.Set(fmt.Appendf(nil, "q/%04d", i), []byte("queued"))
		if err := src.Write(&b); err != nil {
			t.Fatal(err)
		}
	}
	if err := src.Set([]byte("head"), []byte("h1")); err != nil {
		t.Fatal(err)
	}
	track := [][]byte{[]byte("q/")}
	var full bytes.Buffer
	r1, err := src.Backup(&full, BackupOptions{Watch: [][]byte{[]byte("head"), []byte("absent")}, Track: track})
	if err != nil {
		t.Fatal(err)
	}
	if string(r1.Watched["head"]) != "h1" || len(r1.Watched) != 1 || len(r1.Live) != 200 || r1.Version == 0 {
		t.Fatalf("full backup: watched %q, %d live, version %d", r1.Watched, len(r1.Live), r1.Version)
	}

	var b Batch
	for i := range 100 {
		b.Delete(fmt.Appendf(nil, "q/%04d", i))
	}
	b.Set([]byte("r/0001"), []byte("changed"))
	b.Set([]byte("r/9999"), []byte("new"))
	b.Delete([]byte("r/0002"))
	if err := src.Write(&b); err != nil {
		t.Fatal(err)
	}
	var inc bytes.Buffer
	r2, err := src.Backup(&inc, BackupOptions{Since: r1.Version, Watch: [][]byte{[]byte("head")}, Track: track})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r2.Watched["head"]; ok {
		t.Fatalf("an unchanged watched key was returned by an incremental backup")
	}
	if len(r2.Live) != 100 || r2.Version <= r1.Version {
		t.Fatalf("incremental: %d live, version %d after %d", len(r2.Live), r2.Version, r1.Version)
	}
	if inc.Len() >= full.Len()/4 {
		t.Fatalf("incremental backup of 103 changes is %d bytes, the full one %d", inc.Len(), full.Len())
	}

	dst := open(t, t.TempDir())
	defer dst.Close()
	if err := dst.Load(bytes.NewReader(full.Bytes())); err != nil {
		t.Fatal(err)
	}
	if err := dst.Load(bytes.NewReader(inc.Bytes())); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Prune(track, r2.Live); err != nil {
		t.Fatal(err)
	}
	got, want := dump(t, dst), dump(t, src)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("restored store differs: %d keys, source %d", len(got), len(want))
	}
	// A write after the restore gets a version above everything loaded.
	if err := dst.Set([]byte("r/0001"), []byte("after")); err != nil {
		t.Fatal(err)
	}
	if v, _ := dst.Get([]byte("r/0001")); string(v) != "after" {
		t.Fatalf("write after restore: %q", v)
	}
}

// TestPrune: keys of a tracked prefix missing from the live list are
// deleted, the others and other prefixes kept.
func TestPrune(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	for _, k := range []string{"q/1", "q/2", "q/3", "r/1"} {
		if err := db.Set([]byte(k), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	n, err := db.Prune([][]byte{[]byte("q/")}, [][]byte{[]byte("q/1"), []byte("q/3")})
	if err != nil || n != 1 {
		t.Fatalf("Prune: %d %v", n, err)
	}
	if got := fmt.Sprint(dump(t, db)); got != "map[q/1:x q/3:x r/1:x]" {
		t.Fatalf("after Prune: %s", got)
	}
}

// TestBackupIsOneSnapshot: while writers commit pairs of keys (one batch
// each) and bump a counter in the same batch, a backup holds, for every
// pair, both keys or neither, and the counter names the last pair; and the
// tracked keys listed are those of the same moment.
func TestBackupIsOneSnapshot(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var n atomic.Int64
	var mu sync.Mutex // one writer at a time keeps the counter monotonic
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				mu.Lock()
				i := n.Add(1)
				var b Batch
				b.Set(fmt.Appendf(nil, "a/%08d", i), []byte("x"))
				b.Set(fmt.Appendf(nil, "z/%08d", i), []byte("y"))
				b.Set(fmt.Appendf(nil, "t/%08d", i), []byte("tracked"))
				b.Set([]byte("m/count"), fmt.Appendf(nil, "%08d", i))
				err := db.Write(&b)
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
	for n.Load() < 2000 {
	}
	for round := range 3 {
		var buf bytes.Buffer
		res, err := db.Backup(&buf, BackupOptions{Watch: [][]byte{[]byte("m/count")}, Track: [][]byte{[]byte("t/")}})
		if err != nil {
			t.Fatal(err)
		}
		dst := open(t, t.TempDir())
		if err := dst.Load(&buf); err != nil {
			t.Fatal(err)
		}
		got := dump(t, dst)
		dst.Close()
		count := got["m/count"]
		if count != string(res.Watched["m/count"]) {
			t.Fatalf("round %d: watched count %q, restored %q", round, res.Watched["m/count"], count)
		}
		var last int
		fmt.Sscanf(count, "%d", &last)
		as, zs := 0, 0
		for k := range got {
			switch k[0] {
			case 'a':
				as++
			case 'z':
				zs++
			}
		}
		if as != last || zs != last || len(res.Live) != last {
			t.Fatalf("round %d: counter %d, %d a-keys, %d z-keys, %d tracked keys listed: not one snapshot", round, last, as, zs, len(res.Live))
		}
		t.Logf("round %d: %d pairs in the snapshot", round, last)
	}
}
