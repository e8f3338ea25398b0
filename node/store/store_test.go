package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestGetSetBatch(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	if _, err := db.Get([]byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	if ok, err := db.Has([]byte("a")); ok || err != nil {
		t.Fatalf("Has of a missing key: %v %v", ok, err)
	}
	if err := db.Set([]byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	var b Batch
	b.Set([]byte("b"), []byte("2"))
	b.Set([]byte("c"), []byte("3"))
	b.Delete([]byte("a"))
	if b.Len() != 3 {
		t.Fatalf("Len %d", b.Len())
	}
	if err := db.Write(&b); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Get([]byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	v, err := db.Get([]byte("c"))
	if err != nil || string(v) != "3" {
		t.Fatalf("Get c: %q %v", v, err)
	}
	// Values are copies: changing one changes nothing stored.
	v[0] = 'x'
	if again, _ := db.Get([]byte("c")); string(again) != "3" {
		t.Fatalf("Get returned a shared buffer: %q", again)
	}
	// Durable across a reopen.
	db.Close()
	db = open(t, dir)
	defer db.Close()
	if v, err := db.Get([]byte("b")); err != nil || string(v) != "2" {
		t.Fatalf("after reopen: %q %v", v, err)
	}
}

func TestScanAndLastKey(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	var b Batch
	for i := 0; i < 20; i++ {
		b.Set([]byte(fmt.Sprintf("p/%02d", i)), []byte{byte(i)})
	}
	b.Set([]byte("q/00"), []byte("other prefix"))
	if err := db.Write(&b); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := db.Scan([]byte("p/"), []byte("p/05"), func(k, v []byte) (bool, error) {
		got = append(got, string(k))
		return len(got) < 3, nil
	})
	if err != nil || fmt.Sprint(got) != "[p/05 p/06 p/07]" {
		t.Fatalf("Scan from p/05, stopping at 3: %v %v", got, err)
	}
	stop := errors.New("stop")
	if err := db.Scan([]byte("p/"), nil, func(k, v []byte) (bool, error) { return true, stop }); !errors.Is(err, stop) {
		t.Fatalf("Scan passes fn's error on: %v", err)
	}
	k, err := db.LastKey([]byte("p/"))
	if err != nil || string(k) != "p/19" {
		t.Fatalf("LastKey: %q %v", k, err)
	}
	if _, err := db.LastKey([]byte("z/")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LastKey of an empty prefix: %v", err)
	}
}

// TestLocked: a second open of the same directory fails with ErrLocked
// (a second node on one data directory), a read-only one too (fsck while
// the node runs); after Close it opens.
func TestLocked(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	if err := db.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	// A check's read-only open of a running node's store: locked, not
	// "not closed cleanly" (the running store's log is open, not left).
	if _, err := Open(dir, Options{ReadOnly: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("read-only open while open: %v, want ErrLocked", err)
	}
	db.Close()
	db2 := open(t, dir)
	db2.Close()
}

func TestInMemory(t *testing.T) {
	db, err := Open("", Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if v, _ := db.Get([]byte("k")); string(v) != "v" {
		t.Fatalf("in memory: %q", v)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "f.json")
	if err := WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(b, []byte("two")) {
		t.Fatalf("read back %q %v", b, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	es, _ := os.ReadDir(filepath.Dir(p))
	if len(es) != 1 {
		t.Fatalf("temporary files left behind: %v", es)
	}
}

// TestReadOnly: a cleanly closed store opens read-only, reads, refuses
// writes and changes no file; one with a memtable log left (not closed
// cleanly) is ErrUnclean.
func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	if err := db.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before := map[string]int64{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		fi, _ := e.Info()
		before[e.Name()] = fi.ModTime().UnixNano()
	}
	ro, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := ro.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("read-only Get: %q %v", v, err)
	}
	if err := ro.Set([]byte("k"), []byte("w")); err == nil {
		t.Fatal("a write to a read-only store succeeded")
	}
	ro.Close()
	ents, _ = os.ReadDir(dir)
	for _, e := range ents {
		fi, _ := e.Info()
		if m, ok := before[e.Name()]; !ok || m != fi.ModTime().UnixNano() {
			t.Errorf("a read-only open changed or made %s", e.Name())
		}
	}
	os.WriteFile(filepath.Join(dir, "00009.mem"), nil, 0o600)
	if _, err := Open(dir, Options{ReadOnly: true}); !errors.Is(err, ErrUnclean) {
		t.Fatalf("a store with a memtable log left: %v", err)
	}
}
