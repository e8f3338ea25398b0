package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/ledgertest"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// fsckData writes a node data directory as evidenced lays it out (store,
// blocks, key) with blocks of two records each, and returns it and the
// records by block.
func fsckData(t *testing.T, blocks int) (string, [][]evidence.Record) {
	t.Helper()
	data := t.TempDir()
	key, _, err := node.LoadOrCreateKey(filepath.Join(data, "node-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(data, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l, err := embedded.Open(db, embedded.Config{Name: "fsck-test", Key: key, Dir: filepath.Join(data, "blocks"), MaxRecords: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var recs [][]evidence.Record
	for i := 0; i < blocks; i++ {
		rs := []evidence.Record{ledgertest.Record(t, "a"), ledgertest.Record(t, "b")}
		if _, err := l.Append(context.Background(), rs); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rs)
	}
	return data, recs
}

func runCtl(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = Main(context.Background(), args, &o, &e)
	return o.String(), e.String(), code
}

func TestFsck(t *testing.T) {
	data, recs := fsckData(t, 3)
	out, errs, code := runCtl("fsck", "--data", data)
	if code != ExitOK || !strings.Contains(out, "OK: the ledger is intact") || !strings.Contains(out, "3 of 3 blocks, 6 records") {
		t.Fatalf("clean: %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(errs, "3/3 blocks") || !strings.Contains(errs, "blocks/s") {
		t.Fatalf("no progress on stderr: %q", errs)
	}
	if _, errs, _ := runCtl("fsck", "--data", data, "-q"); errs != "" {
		t.Fatalf("-q still shows progress: %q", errs)
	}

	// Change a digit of a record's submission time in block 1 (in its
	// record entry, where the plain record bytes are).
	seg := filepath.Join(data, "blocks", "seg-000000.dat")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	id := recs[1][0].ID.String()
	i := bytes.Index(b, []byte(`"id":"`+id+`"`))
	j := bytes.Index(b[i:], []byte(`"submitted_at":"20`))
	if i < 0 || j < 0 {
		t.Fatal("record not found in the block file")
	}
	k := i + j + len(`"submitted_at":"20`)
	b[k] = '0' + (b[k]-'0'+1)%10
	if err := os.WriteFile(seg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code = runCtl("fsck", "--data", data)
	if code != ExitFailed || !strings.Contains(out, "CORRUPTED: first bad: block 1: record "+id) {
		t.Fatalf("corrupted: %d\n%s%s", code, out, errs)
	}
	out, _, code = runCtl("fsck", "--data", data, "--json", "-q")
	var rep fsckReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != ExitFailed || rep.OK || len(rep.Problems) != 1 ||
		rep.Problems[0].Block != 1 || rep.Problems[0].Record != id {
		t.Fatalf("--json: %d %v %+v\n%s", code, err, rep, out)
	}
}

// fsck cannot check a running node's ledger (the store is locked), a
// directory with no node data or no ledger: exit 2, saying why.
func TestFsckCannotCheck(t *testing.T) {
	data, _ := fsckData(t, 1)
	db, err := store.Open(filepath.Join(data, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, errs, code := runCtl("fsck", "--data", data)
	db.Close()
	if code != ExitUsage || !strings.Contains(errs, "the node is running") || !strings.Contains(errs, "stop evidenced first") {
		t.Fatalf("locked: %d %s", code, errs)
	}
	if _, errs, code := runCtl("fsck", "--data", filepath.Join(t.TempDir(), "nothing")); code != ExitUsage || !strings.Contains(errs, "holds no node data") {
		t.Fatalf("no data: %d %s", code, errs)
	}
	empty := t.TempDir()
	db, err = store.Open(filepath.Join(empty, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, errs, code := runCtl("fsck", "--data", empty); code != ExitUsage || !strings.Contains(errs, "no embedded ledger") {
		t.Fatalf("no ledger: %d %s", code, errs)
	}
	if _, errs, code := runCtl("fsck", "extra"); code != ExitUsage {
		t.Fatalf("argument: %d %s", code, errs)
	}
}
