package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/evidence-node/evidence-node/cmd/internal/race"
	"github.com/evidence-node/evidence-node/node/store/storetest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// readAcks reads the acknowledgements the load generator recorded
// (ackLine: fabric_test.go).
func readAcks(t *testing.T, path string) []ackLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []ackLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var a ackLine
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("ack line %d: %v", len(out)+1, err)
		}
		out = append(out, a)
	}
	return out
}

// ledgerRoots reads the node's trust roots.
func ledgerRoots(t *testing.T, nodeURL string) block.TrustRoots {
	t.Helper()
	var lv struct {
		TrustRoots block.TrustRoots `json:"trust_roots"`
	}
	if code := getJSON(t, nodeURL+"/api/v1/ledger", &lv); code != 200 {
		t.Fatalf("GET /ledger: %d", code)
	}
	return lv.TrustRoots
}

// checkAcked checks that every acknowledgement in acks is on the node:
// its receipt is served with the block acknowledged, the receipt verifies
// against the ledger's trust roots, and (for a sample) the node's own
// verification of the digest passes.
func checkAcked(t *testing.T, nodeURL string, acks []ackLine) {
	t.Helper()
	roots := ledgerRoots(t, nodeURL)
	hc := &http.Client{Timeout: 10 * time.Second}
	// Checked by a few workers at once: tens of thousands of receipts,
	// each fetched, parsed and verified (the race detector makes the
	// parsing several times slower); the first failure stops them all.
	g, ctx := errgroup.WithContext(context.Background())
	var next atomic.Int64
	for range 4 {
		g.Go(func() error {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(acks) {
					return nil
				}
				if err := checkAck(hc, nodeURL, roots, acks[i], i%100 == 0); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// checkAck checks one acknowledged record: served, in the block it was
// acknowledged in, its receipt verifying; with verify, POST /verify of
// its digest passes too.
func checkAck(hc *http.Client, nodeURL string, roots block.TrustRoots, a ackLine, verify bool) error {
	resp, err := hc.Get(nodeURL + "/api/v1/evidence/" + a.ID)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("acknowledged %s (block %d): %d %s", a.ID, a.BlockNumber, resp.StatusCode, b)
	}
	rc, err := verifier.ParseReceipt(b)
	if err != nil {
		return fmt.Errorf("receipt of %s: %v", a.ID, err)
	}
	// A 202 acknowledgement (queued) names no block yet.
	if a.BlockHash != "" && (rc.BlockHash != a.BlockHash || rc.BlockNumber != a.BlockNumber || rc.DigestHex != a.DigestHex) {
		return fmt.Errorf("acknowledged %s in block %d %s, served in block %d %s", a.ID, a.BlockNumber, a.BlockHash, rc.BlockNumber, rc.BlockHash)
	}
	if _, err := verifier.VerifyReceipt(rc, roots); err != nil {
		return fmt.Errorf("receipt of %s does not verify: %v", a.ID, err)
	}
	if !verify {
		return nil
	}
	body := fmt.Sprintf(`{"id":%q,"algorithm":"sha256","digest":%q}`, a.ID, rc.DigestHex)
	resp, err = hc.Post(nodeURL+"/api/v1/verify", "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	var v verifier.Verification
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if v.Verdict != "pass" {
		return fmt.Errorf("verify %s: %d %+v", a.ID, resp.StatusCode, v)
	}
	return nil
}

// TestDiskFull: the node's data directory on a 128 MiB file system, filled
// while 8 clients submit. Below --min-free-space the node answers 503
// ledger_unavailable, keeps serving reads and says so in its metrics;
// once space is freed, submissions succeed again by themselves. Every
// record acknowledged is there and verifies, and fsck finds the ledger
// intact.
//
// With --queue (every submission durable in the node's store before the
// ledger, as on Fabric) the same holds: the store is written first, so the
// floor keeps badger from ever meeting the full disk (it writes through
// memory maps: a full disk there kills the process with SIGBUS).
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	t.Run("embedded", func(t *testing.T) { testDiskFull(t) })
	t.Run("queue", func(t *testing.T) { testDiskFull(t, "--queue") })
}

func testDiskFull(t *testing.T, extra ...string) {
	// 128 MiB: the load's own records (at most 60,000, about 1.2 KiB each
	// on disk) stay well below it; a filler file fills it. The floor
	// leaves badger room for its compactions (on a store of this size, a
	// few MiB; 8 MiB was too little for the check's open after the node
	// stopped on a disk its own records had filled).
	fsDir := storetest.Tmpfs(t, 128<<20)
	data := filepath.Join(fsDir, "data")
	key := addPlatform(t, data, "full")
	const floor = 32 << 20
	p := startNode(t, data, "127.0.0.1:0", append([]string{"--min-free-space", fmt.Sprint(floor), "--log-format", "json"}, extra...)...)
	acks := filepath.Join(t.TempDir(), "acks.jsonl")
	const load = 15 * time.Second
	// At most rate × 15 s requests, answered or refused, spread over the
	// load's 15 s (the load tool answers a refusal in well under a
	// millisecond: without the rate the count would be spent while the
	// disk is full). Under the race detector 1,000 a second: every
	// acknowledged record is fetched and verified at the end, which there
	// takes ~3 ms each.
	rate := 4000
	if race.Enabled {
		rate = 1000
	}
	bench := startBench(t, p.url, key, 8, load, acks, "--count", fmt.Sprint(rate*int(load.Seconds())), "--rate", fmt.Sprint(rate))
	for deadline := time.Now().Add(20 * time.Second); bench.acked(t) < 500; {
		if time.Now().After(deadline) {
			t.Fatalf("load too slow: %d acknowledged", bench.acked(t))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Fill the disk to below the floor, under load.
	filler := filepath.Join(fsDir, "filler")
	storetest.Fill(t, filler, floor/2)
	t.Logf("disk filled: %d bytes free", storetest.Free(t, fsDir))
	var code int
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; {
		code, body = submitDigest(t, p.url, key)
		if code == http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code != http.StatusServiceUnavailable || errCode([]byte(body)) != "ledger_unavailable" {
		t.Fatalf("submission on a full disk: %d %s", code, body)
	}
	fullAt, fullTime := bench.acked(t), time.Now()
	time.Sleep(2 * time.Second) // the load goes on against the full disk
	// Each of the 8 clients may have had one answer on its way (or not yet
	// in the bench's record file) when the 503 came; no block may be
	// written after it.
	if n := bench.acked(t); n > fullAt+8 {
		t.Fatalf("%d records acknowledged while the disk was full", n-fullAt)
	}
	for _, a := range readAcks(t, acks) {
		if lt, err := time.Parse(evidence.TimeLayout, a.LedgerTime); err == nil && lt.After(fullTime.Add(500*time.Millisecond)) {
			t.Fatalf("record %s written in block %d at %s, after the disk was full (%s)", a.ID, a.BlockNumber, a.LedgerTime, fullTime.UTC().Format(evidence.TimeLayout))
		}
	}
	if v := metric(t, p.url, "evidence_disk_full"); v != 1 {
		t.Fatalf("evidence_disk_full %v on a full disk", v)
	}
	// Reads go on.
	first := readAcks(t, acks)[:20]
	checkAcked(t, p.url, first)
	if code := getJSON(t, p.url+"/readyz", nil); code != 200 {
		t.Fatalf("/readyz on a full disk: %d", code)
	}

	// Free the space: submissions resume by themselves.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		code, body = submitDigest(t, p.url, key)
		if code == http.StatusCreated || code == http.StatusAccepted {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("submissions did not resume within 10 s of space being freed: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("submissions resumed %v after space was freed", time.Since(start).Round(time.Millisecond))
	res := bench.wait(t)
	if res.Errors["ledger_unavailable"] == 0 {
		t.Fatalf("the load met no 503 ledger_unavailable: %v", res.Errors)
	}
	for code, n := range res.Errors {
		if code != "ledger_unavailable" {
			t.Fatalf("errors other than ledger_unavailable under load: %d %s (all: %v)", n, code, res.Errors)
		}
	}
	all := readAcks(t, acks)
	if len(all) <= fullAt {
		t.Fatalf("no record acknowledged after space was freed (%d before the disk was full, %d in all)", fullAt, len(all))
	}
	// Records queued (202) reach the ledger once it can write.
	for deadline := time.Now().Add(30 * time.Second); metric(t, p.url, "evidence_queue_pending_submissions") > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the queue did not drain: %v pending", metric(t, p.url, "evidence_queue_pending_submissions"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	checkAcked(t, p.url, all)
	t.Logf("%d records acknowledged (%d before the disk filled), %d answers 503 ledger_unavailable; all acknowledged records there and verified", len(all), fullAt, res.Errors["ledger_unavailable"])

	// The node's lines are JSON, and the refusals were logged, bounded.
	stopProc(p)
	logs := p.logs.Bytes()
	lines := bytes.Split(bytes.TrimSpace(logs), []byte("\n"))
	unavailable := 0
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("a log line is not JSON: %v: %s", err, l)
		}
		if m["code"] == "ledger_unavailable" {
			unavailable++
			if m["request_id"] == nil || m["level"] != "WARN" {
				t.Fatalf("a refusal's line has no request ID or is not a warning: %s", l)
			}
		}
	}
	// At most 10 lines a second (bursts of 20) for failed requests.
	if unavailable == 0 || unavailable > int(10*load.Seconds())+20 {
		t.Fatalf("%d lines logged for %d refusals (want some, bounded)", unavailable, res.Errors["ledger_unavailable"])
	}
	if out, code := ctl(t, nil, "fsck", "--data", data, "-q"); code != 0 {
		t.Fatalf("fsck after the disk was full: %d %s", code, out)
	}
}

// freePort returns a loopback address no one listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type backupOut struct {
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	Height    uint64  `json:"height"`
	StoreKeys int     `json:"store_keys"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
}

func runBackup(t *testing.T, args ...string) backupOut {
	t.Helper()
	out, code := ctl(t, nil, append([]string{"backup", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("backup %v: %d %s", args, code, out)
	}
	var r backupOut
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("backup output: %v\n%s", err, out)
	}
	return r
}

// TestBackupUnderLoad: while 8 clients submit, a full backup and then an
// incremental one are taken from the running node through its admin
// listener. Restored into new data directories, each checks clean, and a
// node started on it serves every record acknowledged before its backup
// began, verifying. A backup with one byte changed is refused, and so is
// a restore into a directory that is not empty, a wrong admin token and
// an offline backup of a running node.
func TestBackupUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	data := t.TempDir()
	key := addPlatform(t, data, "load")
	admin := "http://" + freePort(t)
	p := startNode(t, data, "127.0.0.1:0", "--admin-listen", strings.TrimPrefix(admin, "http://"))
	token := filepath.Join(data, "admin-token")
	acks := filepath.Join(t.TempDir(), "acks.jsonl")
	// As fast as the node goes; under the race detector at 1,500 a second
	// (every record acknowledged before a backup is verified at the end,
	// there at ~3 ms each).
	var limit []string
	if race.Enabled {
		limit = []string{"--rate", "1500"}
	}
	bench := startBench(t, p.url, key, 8, 25*time.Second, acks, limit...)
	for deadline := time.Now().Add(20 * time.Second); bench.acked(t) < 5000; {
		if time.Now().After(deadline) {
			t.Fatalf("load too slow: %d acknowledged", bench.acked(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
	out := t.TempDir()
	beforeFull := bench.acked(t)
	full := runBackup(t, "--node", admin, "--token-file", token, "-o", filepath.Join(out, "full.tar"))
	t.Logf("full backup under load: %d records acknowledged before it began, %d blocks, %d store keys, %s in %.2fs",
		beforeFull, full.Height, full.StoreKeys, mibs(full.Bytes), full.Seconds)
	time.Sleep(3 * time.Second)
	beforeInc := bench.acked(t)
	inc := runBackup(t, "--node", admin, "--token-file", token, "--incremental", filepath.Join(out, "full.tar"), "-o", filepath.Join(out, "inc.tar"))
	t.Logf("incremental backup under load: %d records more, %d blocks, %d store keys, %s in %.2fs",
		beforeInc-beforeFull, inc.Height, inc.StoreKeys, mibs(inc.Bytes), inc.Seconds)
	if inc.Kind != "incremental" || inc.Height <= full.Height {
		t.Fatalf("incremental backup: %+v after %+v", inc, full)
	}

	// Refused: a wrong token, an offline backup of a running node.
	os.WriteFile(filepath.Join(out, "wrong"), []byte("eva_0123456789abcdef0123456789abcdef\n"), 0o600)
	if o, code := ctl(t, nil, "backup", "--node", admin, "--token-file", filepath.Join(out, "wrong"), "-o", filepath.Join(out, "x.tar")); code != 3 || !strings.Contains(o, "unauthorized") {
		t.Fatalf("backup with a wrong token: %d %s", code, o)
	}
	if o, code := ctl(t, nil, "backup", "--data", data, "-o", filepath.Join(out, "y.tar")); code != 2 || !strings.Contains(o, "running") {
		t.Fatalf("offline backup of a running node: %d %s", code, o)
	}
	bench.wait(t)
	all := readAcks(t, acks)

	restore := func(dir string, files ...string) time.Duration {
		t.Helper()
		start := time.Now()
		o, code := ctl(t, nil, append(append([]string{"restore"}, files...), "--data", dir, "-q")...)
		if code != 0 || !strings.Contains(o, "OK: the restored ledger is intact") {
			t.Fatalf("restore %v: %d %s", files, code, o)
		}
		return time.Since(start)
	}
	one := filepath.Join(t.TempDir(), "one")
	took := restore(one, filepath.Join(out, "full.tar"))
	t.Logf("restored the full backup in %v", took.Round(time.Millisecond))
	q := startNode(t, one, "127.0.0.1:0")
	checkAcked(t, q.url, all[:beforeFull])
	stopProc(q)
	if o, code := ctl(t, nil, "fsck", "--data", one, "-q"); code != 0 {
		t.Fatalf("fsck of the restored node after it ran: %d %s", code, o)
	}

	two := filepath.Join(t.TempDir(), "two")
	took = restore(two, filepath.Join(out, "full.tar"), filepath.Join(out, "inc.tar"))
	t.Logf("restored the full and the incremental backup in %v", took.Round(time.Millisecond))
	q = startNode(t, two, "127.0.0.1:0")
	checkAcked(t, q.url, all[:beforeInc])
	// The restored node takes new records, on the same key and chain.
	if code, body := submitDigest(t, q.url, key); code != http.StatusCreated {
		t.Fatalf("submission to the restored node: %d %s", code, body)
	}
	stopProc(q)
	t.Logf("%d and %d records acknowledged before each backup began are there and verify", beforeFull, beforeInc)

	// One changed byte: refused, nothing written.
	b, err := os.ReadFile(filepath.Join(out, "full.tar"))
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x04
	os.WriteFile(filepath.Join(out, "bad.tar"), b, 0o600)
	bad := filepath.Join(t.TempDir(), "bad")
	if o, code := ctl(t, nil, "restore", filepath.Join(out, "bad.tar"), "--data", bad); code != 2 || !strings.Contains(o, "damaged") {
		t.Fatalf("restore of a backup with a changed byte: %d %s", code, o)
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Fatalf("a refused restore wrote %s", bad)
	}
	if o, code := ctl(t, nil, "restore", filepath.Join(out, "full.tar"), "--data", one); code != 2 || !strings.Contains(o, "not empty") {
		t.Fatalf("restore into a non-empty directory: %d %s", code, o)
	}
	stopProc(p)
}

func mibs(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// TestKeyRotation: a package made before `evidencectl key rotate` and one
// made after both verify offline, against their own trust roots and
// against the ledger's after the rotation, which list both keys with the
// blocks each sealed and both as document signers. The retired key cannot
// start the node again.
func TestKeyRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	data, work := t.TempDir(), t.TempDir()
	key := addPlatform(t, data, "acme")
	p := startNode(t, data, "127.0.0.1:0")
	pkgOf := func(nodeURL, text, name string) (verifier.Receipt, string) {
		t.Helper()
		env := []string{"EVIDENCE_NODE=" + nodeURL, "EVIDENCE_API_KEY=" + key}
		out, code := ctl(t, env, "submit", "--text", text)
		if code != 0 {
			t.Fatalf("submit: %d %s", code, out)
		}
		var rc verifier.Receipt
		if err := json.Unmarshal([]byte(out), &rc); err != nil {
			t.Fatalf("submit: %v %s", err, out)
		}
		pkg := filepath.Join(work, name)
		if out, code := ctl(t, env, "package", rc.ID, "-o", pkg); code != 0 {
			t.Fatalf("package: %d %s", code, out)
		}
		return rc, pkg
	}
	rc1, pkg1 := pkgOf(p.url, "合同：轮换之前", "before.pdf")
	ledgerRoots(t, p.url)
	stopProc(p)

	out, code := ctl(t, nil, "key", "rotate", "--data", data)
	if code != 0 || !strings.Contains(out, "retired") || !strings.Contains(out, "sealed blocks 0 to 0") || !strings.Contains(out, "seals blocks 1 on") {
		t.Fatalf("key rotate: %d %s", code, out)
	}
	t.Logf("key rotate:\n%s", out)
	// Two sealing keys, two document signers, the log key (never rotated).
	if out, code := ctl(t, nil, "key", "list", "--data", data); code != 0 || strings.Count(out, "\n  ") != 5 || !strings.Contains(out, "every size (never rotated)") {
		t.Fatalf("key list: %d %s", code, out)
	}

	p = startNode(t, data, "127.0.0.1:0")
	rc2, pkg2 := pkgOf(p.url, "合同：轮换之后", "after.pdf")
	if rc2.KeyIDs[0] == rc1.KeyIDs[0] || rc2.BlockNumber != 1 {
		t.Fatalf("after the rotation block %d is sealed by %v (before: %v)", rc2.BlockNumber, rc2.KeyIDs, rc1.KeyIDs)
	}
	resp, err := http.Get(p.url + "/api/v1/ledger")
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var lv struct {
		TrustRoots block.TrustRoots `json:"trust_roots"`
	}
	json.Unmarshal(lb, &lv)
	k := lv.TrustRoots.Keys
	if len(k) != 2 || k[0].ID != rc1.KeyIDs[0] || k[1].ID != rc2.KeyIDs[0] || k[0].Sealed.String() != "blocks 0 to 0" || k[1].Sealed.String() != "blocks 1 on" ||
		len(lv.TrustRoots.Signers) != 2 || lv.TrustRoots.Signers[1].ID != k[1].ID {
		t.Fatalf("GET /ledger after the rotation: %s", lb)
	}
	roots := filepath.Join(work, "ledger.json")
	os.WriteFile(roots, lb, 0o600)
	for _, c := range []struct {
		pkg, text string
	}{{pkg1, "合同：轮换之前"}, {pkg2, "合同：轮换之后"}} {
		if out, code := ctl(t, nil, "verify-package", c.pkg, "--text", c.text); code != 0 {
			t.Fatalf("verify-package %s against its own trust roots: %d %s", c.pkg, code, out)
		}
		if out, code := ctl(t, nil, "verify-package", c.pkg, "--text", c.text, "--trust", roots); code != 0 {
			t.Fatalf("verify-package %s against the ledger's trust roots after the rotation: %d %s", c.pkg, code, out)
		}
	}
	stopProc(p)

	// The retired key does not start the node.
	retired, err := os.ReadFile(filepath.Join(data, "retired-keys", "node-key-"+rc1.KeyIDs[0]+".pem"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(data, "node-key.pem"), retired, 0o600)
	cmd := exec.Command(filepath.Join(binDir, "evidenced"), "--data", data, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "EVIDENCE_LEDGER_NAME=integration")
	if b, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(b), "retired") {
		t.Fatalf("evidenced with the retired key: %v %s", err, b)
	}
	if out, code := ctl(t, nil, "fsck", "--data", data, "-q"); code != 0 {
		t.Fatalf("fsck after the rotation: %d %s", code, out)
	}
}
