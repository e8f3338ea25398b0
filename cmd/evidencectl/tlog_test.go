package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/node/tlog/witnesstest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// buildBinaries builds evidenced and evidencectl into a temporary
// newWitnessedData registers platform "acme" in data (returning its API
// key) and makes the log key before the node's first start, so that a
// witness can be told it (as an operator would after the first start).
func newWitnessedData(t *testing.T, ctl func(args ...string) (string, int), data string) (string, tlog.Key) {
	t.Helper()
	out, code := ctl("platform", "add", "acme", "--data", data)
	if code != 0 {
		t.Fatalf("platform add: %s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	lk, _, err := tlog.LoadOrCreateKey(filepath.Join(data, "tlog-key"), "evidence-local")
	if err != nil {
		t.Fatal(err)
	}
	return lines[len(lines)-1], lk
}

// directory and returns a runner of evidencectl.
func buildBinaries(t *testing.T) (string, func(args ...string) (string, int)) {
	t.Helper()
	bin := t.TempDir()
	for _, cmd := range []string{"evidenced", "evidencectl"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "github.com/evidence-node/evidence-node/cmd/"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("building %s: %v\n%s", cmd, err, out)
		}
	}
	return bin, func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "evidencectl"), args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}
}

// TestPackageCosignedByWitness (issue 12, acceptance 2): a node with a
// real omniwitness (--witness) gets every checkpoint cosigned; a package
// carries the record's inclusion proof to a cosigned checkpoint, and
// verify-package checks the cosignature against the witness key the
// verifier trusts — and fails it against a witness that did not cosign.
func TestPackageCosignedByWitness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, ctl := buildBinaries(t)
	data, work := t.TempDir(), t.TempDir()
	key, lk := newWitnessedData(t, ctl, data)
	w := witnesstest.Start(t, "evidence-local", lk.VerifierKey)
	other := witnesstest.Start(t, "evidence-local", lk.VerifierKey) // trusted by nobody here, never asked
	nodeURL := startNode(t, filepath.Join(bin, "evidenced"), data, "--witness", w.Spec())
	node := []string{"--node", nodeURL, "--key", key}

	out, code := ctl(append([]string{"submit", "--text", "采购合同 HT-2026-001"}, node...)...)
	if code != 0 {
		t.Fatalf("submit: %s", out)
	}
	var rc verifier.Receipt
	if err := json.Unmarshal([]byte(out), &rc); err != nil {
		t.Fatal(err)
	}
	// The receipt gets its cosigned log proof in the background: wait
	// for it (a bound, not a timing assertion).
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(rc.LogProof, "— "+w.Name+" ") {
		if time.Now().After(deadline) {
			t.Fatalf("no cosigned log proof after 60 s: %q", rc.LogProof)
		}
		time.Sleep(100 * time.Millisecond)
		resp, err := http.Get(nodeURL + "/api/v1/evidence/" + rc.ID)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&rc)
		resp.Body.Close()
	}
	// The served checkpoint is cosigned too.
	resp, err := http.Get(nodeURL + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	var cp bytes.Buffer
	cp.ReadFrom(resp.Body)
	resp.Body.Close()
	if !strings.Contains(cp.String(), "— "+w.Name+" ") {
		t.Errorf("GET /checkpoint is not cosigned: %q", cp.String())
	}

	pkg := filepath.Join(work, "package.pdf")
	if out, code := ctl(append([]string{"package", rc.ID, "-o", pkg}, node...)...); code != 0 {
		t.Fatalf("package: %d %s", code, out)
	}
	out, code = ctl("verify-package", pkg, "--text", "采购合同 HT-2026-001", "--witness-key", w.VerifierKey)
	if code != 0 || !strings.Contains(out, "cosigned by 1 witness(es) "+w.Name) || !strings.Contains(out, "[pass] proof_intact") {
		t.Fatalf("verify-package with the witness's key: %d\n%s", code, out)
	}
	// Trusting only a witness that never cosigned: proof_intact fails.
	out, code = ctl("verify-package", pkg, "--witness-key", other.VerifierKey)
	if code == 0 || !strings.Contains(out, "[FAIL] proof_intact") || !strings.Contains(out, "too few trusted witnesses") {
		t.Fatalf("verify-package trusting another witness: %d\n%s", code, out)
	}
	// Both, a quorum of 2: fails; of 1: passes.
	if out, code = ctl("verify-package", pkg, "--witness-key", w.VerifierKey, "--witness-key", other.VerifierKey, "--witness-quorum", "2"); code == 0 {
		t.Fatalf("quorum 2 of a checkpoint cosigned once passed:\n%s", out)
	}
	if out, code = ctl("verify-package", pkg, "--witness-key", w.VerifierKey, "--witness-key", other.VerifierKey); code != 0 {
		t.Fatalf("quorum 1: %d\n%s", code, out)
	}
	// A bad key is a usage error, nothing judged.
	if out, code = ctl("verify-package", pkg, "--witness-key", "not-a-key"); code != 2 {
		t.Fatalf("bad --witness-key: %d\n%s", code, out)
	}
	os.Remove(pkg)
}

// nodeProc is a running evidenced.
type nodeProc struct {
	cmd *exec.Cmd
	URL string
}

func startNodeProc(t *testing.T, bin, data string, extra ...string) *nodeProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--data", data, "--listen", "127.0.0.1:0"}, extra...)...)
	stdout, _ := cmd.StdoutPipe()
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &nodeProc{cmd: cmd}
	t.Cleanup(func() { p.stop() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				found <- u
			}
		}
	}()
	select {
	case p.URL = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("evidenced did not start: %s", logs.String())
	}
	return p
}

// stop stops the node as an operator does (SIGTERM) and waits for it.
func (p *nodeProc) stop() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGTERM)
		p.cmd.Wait()
	}
}

func getReceipt(t *testing.T, base, id string) verifier.Receipt {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/evidence/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rc verifier.Receipt
	if err := json.NewDecoder(resp.Body).Decode(&rc); err != nil {
		t.Fatal(err)
	}
	return rc
}

// waitFor polls cond every 100 ms for at most a minute (a bound on a
// background step, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after a minute: %s", what)
		}
	}
}

// TestHistoryRewriteCaught (issue 12, acceptance 3): the operator stops
// the node, rewrites a past block (record 2 altered) and re-seals every
// block with the node's own key — a ledger that passes every check made
// with the node's keys alone — and restarts it. The witness refuses the
// new checkpoints (they are not consistent with the one it cosigned),
// monitor exits non-zero naming both checkpoints, and the package made
// before still verifies against the cosigned checkpoint it carries.
func TestHistoryRewriteCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, ctl := buildBinaries(t)
	data, work := t.TempDir(), t.TempDir()
	key, lk := newWitnessedData(t, ctl, data)
	w := witnesstest.Start(t, "evidence-local", lk.VerifierKey)
	witnessFlag := []string{"--witness", w.Spec()}
	n := startNodeProc(t, filepath.Join(bin, "evidenced"), data, witnessFlag...)

	var rcs []verifier.Receipt
	for _, text := range []string{"合同一", "合同二", "合同三"} {
		out, code := ctl("submit", "--text", text, "--node", n.URL, "--key", key)
		if code != 0 {
			t.Fatalf("submit: %s", out)
		}
		var rc verifier.Receipt
		if err := json.Unmarshal([]byte(out), &rc); err != nil {
			t.Fatal(err)
		}
		rcs = append(rcs, rc)
	}
	waitFor(t, "the checkpoint of 3 records cosigned", func() bool {
		cp, err := fetch(context.Background(), http.DefaultClient, n.URL+"/checkpoint", 1<<16)
		return err == nil && strings.Contains(string(cp), "\n3\n") && strings.Contains(string(cp), "— "+w.Name+" ")
	})
	waitFor(t, "record 2's receipt with a cosigned log proof", func() bool {
		return strings.Contains(getReceipt(t, n.URL, rcs[1].ID).LogProof, "— "+w.Name+" ")
	})
	pkg := filepath.Join(work, "before.pdf")
	if out, code := ctl("package", rcs[1].ID, "-o", pkg, "--node", n.URL, "--key", key); code != 0 {
		t.Fatalf("package: %s", out)
	}
	state := filepath.Join(work, "monitor.json")
	if out, code := ctl("monitor", "--node", n.URL, "--state", state, "--once"); code != 0 || !strings.Contains(out, "checkpoint 3 records") {
		t.Fatalf("monitor before: %d %s", code, out)
	}
	n.stop()

	// The rewrite: a new ledger with the same name and keys, record 2's
	// doc_ref changed, every block sealed again by the node's key.
	forged := t.TempDir()
	nk, _, err := node.LoadOrCreateKey(filepath.Join(data, "node-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(filepath.Join(forged, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	led, err := embedded.Open(db, embedded.Config{Name: "evidence-local", Key: nk, Dir: filepath.Join(forged, "blocks")})
	if err != nil {
		t.Fatal(err)
	}
	for i, rc := range rcs {
		r, err := evidence.ParseRecord(rc.Proof.Record)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			r.DocRef = "forged"
		}
		if _, err := led.Append(context.Background(), []evidence.Record{r}); err != nil {
			t.Fatal(err)
		}
	}
	led.Close()
	db.Close()
	for _, d := range []string{"store", "blocks"} {
		if err := os.RemoveAll(filepath.Join(data, d)); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(forged, d), filepath.Join(data, d)); err != nil {
			t.Fatal(err)
		}
	}
	// The forged ledger holds up on its own, with the node's keys.
	if out, code := ctl("fsck", "--data", data); code != 0 {
		t.Fatalf("fsck of the forged ledger: %d %s", code, out)
	}

	n = startNodeProc(t, filepath.Join(bin, "evidenced"), data, witnessFlag...)
	out, code := ctl("submit", "--text", "合同四", "--node", n.URL, "--key", key)
	if code != 0 {
		t.Fatalf("submit after the rewrite: %s", out)
	}
	// The witness refuses: the node counts it, and serves its checkpoint
	// without the witness's line.
	waitFor(t, "the witness's refusal counted", func() bool {
		b, err := fetch(context.Background(), http.DefaultClient, n.URL+"/metrics", 4<<20)
		return err == nil && strings.Contains(string(b), `evidence_tlog_witness_total{outcome="refused",witness="`+w.Name+`"}`)
	})
	cp, err := fetch(context.Background(), http.DefaultClient, n.URL+"/checkpoint", 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cp), "— "+w.Name+" ") {
		t.Fatalf("the rewritten log's checkpoint is cosigned:\n%s", cp)
	}

	// monitor: a fork, naming both checkpoints.
	var oldState monitorState
	b, _ := os.ReadFile(state)
	json.Unmarshal(b, &oldState)
	out, code = ctl("monitor", "--node", n.URL, "--state", state, "--once")
	t.Logf("monitor after the rewrite (exit %d):\n%s", code, out)
	oldRoot := base64.StdEncoding.EncodeToString(oldState.Root)
	if code != 1 || !strings.Contains(out, "FORK") || !strings.Contains(out, "size 3, root "+oldRoot) || !strings.Contains(out, "size 4, root ") {
		t.Fatalf("monitor after the rewrite: %d\n%s", code, out)
	}

	// The package made before still verifies, against the checkpoint it
	// carries, cosigned by the witness.
	out, code = ctl("verify-package", pkg, "--text", "合同二", "--witness-key", w.VerifierKey)
	if code != 0 || !strings.Contains(out, "cosigned by 1 witness(es) "+w.Name) {
		t.Fatalf("the package made before the rewrite: %d\n%s", code, out)
	}
}

// TestMonitorEntries: monitor --entries reads every new entry through the
// tiles, checks each is a record and that they hash to the checkpoint's
// root, keeps the compact range in its state and goes on from it; a node
// that serves an altered entry (here through a proxy that changes one
// byte of every entry bundle) is caught.
func TestMonitorEntries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, ctl := buildBinaries(t)
	data, work := t.TempDir(), t.TempDir()
	key, _ := newWitnessedData(t, ctl, data)
	n := startNodeProc(t, filepath.Join(bin, "evidenced"), data)
	submit := func(texts ...string) {
		for _, text := range texts {
			if out, code := ctl("submit", "--text", text, "--node", n.URL, "--key", key); code != 0 {
				t.Fatalf("submit: %s", out)
			}
		}
	}
	// More than one entry bundle (256 entries): a batch of 300.
	if out, code := ctl("bench", "--node", n.URL, "--key", key, "--batch", "300", "--clients", "1", "--count", "1"); code != 0 {
		t.Fatalf("bench --batch 300: %s", out)
	}
	submit("合同一")
	waitSize := func(size string) {
		waitFor(t, "the checkpoint of "+size+" records", func() bool {
			cp, err := fetch(context.Background(), http.DefaultClient, n.URL+"/checkpoint", 1<<16)
			return err == nil && strings.Contains(string(cp), "\n"+size+"\n")
		})
	}
	waitSize("301")
	state := filepath.Join(work, "monitor.json")
	out, code := ctl("monitor", "--node", n.URL, "--state", state, "--entries", "--once")
	if code != 0 || !strings.Contains(out, "entries 0 to 301: records, hashing to the root") {
		t.Fatalf("monitor --entries: %d %s", code, out)
	}
	submit("合同二", "合同三")
	waitSize("303")
	out, code = ctl("monitor", "--node", n.URL, "--state", state, "--entries", "--once")
	if code != 0 || !strings.Contains(out, "entries 301 to 303: records, hashing to the root") {
		t.Fatalf("monitor --entries, from its state: %d %s", code, out)
	}

	// A node that lies about its entries.
	target, _ := url.Parse(n.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(resp *http.Response) error {
		if !strings.HasPrefix(resp.Request.URL.Path, "/tile/entries/") {
			return nil
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if len(b) > 40 {
			b[len(b)-40] ^= 0x01 // inside the last record's JSON: a hex digit or a letter changed
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Set("Content-Length", fmt.Sprint(len(b)))
		return nil
	}
	liar := httptest.NewServer(rp)
	defer liar.Close()
	out, code = ctl("monitor", "--node", liar.URL, "--state", filepath.Join(work, "fresh.json"), "--entries", "--once")
	if code == 0 || !(strings.Contains(out, "do not hash to the root") || strings.Contains(out, "not a record in canonical form")) {
		t.Fatalf("monitor --entries through a lying node: %d %s", code, out)
	}
}
