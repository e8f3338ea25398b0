package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/node/tlog/witnesstest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
)

// TestCheckpointKeyRotation (issue 15, acceptance 2, the checkpoint key):
// a node with a real omniwitness makes a package; its transparency log key
// is rotated with the node stopped (evidencectl key rotate --which
// checkpoint); the witness, still configured with the old key, cosigns
// the checkpoints both keys sign; a second package is made. The witness's
// operator gives it the new key, the old key is retired (key retire),
// and a third package is made. Every package verifies offline against its
// own trust roots and against the ledger's after the retirement, which
// list both keys with the sizes each signs; the monitor follows the log
// across the rotation; the node does not start with the retired key.
func TestCheckpointKeyRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, ctl := buildBinaries(t)
	data, work := t.TempDir(), t.TempDir()
	apiKey, k1 := newWitnessedData(t, ctl, data)
	w := witnesstest.Start(t, "evidence-local", k1.VerifierKey)
	witnessFlag := []string{"--witness", w.Spec()}
	evidenced := filepath.Join(bin, "evidenced")
	state := filepath.Join(work, "monitor.json")

	// pkg submits text, waits for its receipt's log proof to a checkpoint
	// the witness cosigned, and packages it.
	pkg := func(n *nodeProc, text, name string) (verifier.Receipt, string) {
		t.Helper()
		out, code := ctl("submit", "--text", text, "--node", n.URL, "--key", apiKey)
		if code != 0 {
			t.Fatalf("submit: %s", out)
		}
		var rc verifier.Receipt
		if err := json.Unmarshal([]byte(out), &rc); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "a log proof cosigned by the witness for "+text, func() bool {
			rc = getReceipt(t, n.URL, rc.ID)
			return strings.Contains(rc.LogProof, "— "+w.Name+" ")
		})
		p := filepath.Join(work, name)
		if out, code := ctl("package", rc.ID, "-o", p, "--node", n.URL, "--key", apiKey); code != 0 {
			t.Fatalf("package: %s", out)
		}
		return rc, p
	}
	ledger := func(n *nodeProc, name string) (block.Log, string) {
		t.Helper()
		b, err := fetch(context.Background(), http.DefaultClient, n.URL+"/api/v1/ledger", 4<<20)
		if err != nil {
			t.Fatal(err)
		}
		var lv struct {
			TrustRoots block.TrustRoots `json:"trust_roots"`
		}
		if err := json.Unmarshal(b, &lv); err != nil || lv.TrustRoots.Log == nil {
			t.Fatalf("GET /api/v1/ledger: %v %s", err, b)
		}
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return *lv.TrustRoots.Log, p
	}
	logSigs := func(rc verifier.Receipt) int { return strings.Count(rc.LogProof, "— evidence-local ") }

	n := startNodeProc(t, evidenced, data, witnessFlag...)
	rc1, pkg1 := pkg(n, "合同：日志密钥轮换之前", "before.pdf")
	if logSigs(rc1) != 1 {
		t.Fatalf("before the rotation the checkpoint has %d log signatures:\n%s", logSigs(rc1), rc1.LogProof)
	}
	if out, code := ctl("monitor", "--node", n.URL, "--state", state, "--once"); code != 0 {
		t.Fatalf("monitor before: %d %s", code, out)
	}
	n.stop()

	out, code := ctl("key", "rotate", "--which", "checkpoint", "--data", data)
	t.Logf("key rotate --which checkpoint:\n%s", out)
	if code != 0 || !strings.Contains(out, "previous "+k1.VerifierKey+": signs sizes 0 on") || !strings.Contains(out, "signs checkpoints of sizes 1 on") {
		t.Fatalf("key rotate --which checkpoint: %d %s", code, out)
	}
	k2, _, err := tlog.LoadOrCreateKey(filepath.Join(data, "tlog-key"), "evidence-local")
	if err != nil || k2.VerifierKey == k1.VerifierKey {
		t.Fatalf("the new log key: %v", err)
	}
	if out, code := ctl("key", "rotate", "--which", "checkpoint", "--data", data); code != 2 || !strings.Contains(out, "retire it first") {
		t.Fatalf("a second rotation before retiring: %d %s", code, out)
	}
	if out, code := ctl("key", "list", "--data", data); code != 0 || !strings.Contains(out, k1.VerifierKey+"  sizes 0 on") || !strings.Contains(out, k2.VerifierKey+"  sizes 1 on") {
		t.Fatalf("key list: %d %s", code, out)
	}

	// Both keys sign; the witness knows only the old one and cosigns.
	n = startNodeProc(t, evidenced, data, witnessFlag...)
	rc2, pkg2 := pkg(n, "合同：日志密钥轮换之后", "during.pdf")
	if logSigs(rc2) != 2 {
		t.Fatalf("after the rotation the checkpoint has %d log signatures:\n%s", logSigs(rc2), rc2.LogProof)
	}
	if out, code := ctl("monitor", "--node", n.URL, "--state", state, "--once"); code != 0 {
		t.Fatalf("monitor with the old key after the rotation: %d %s", code, out)
	}
	lg, _ := ledger(n, "ledger-during.json")
	if lg.Key != k2.VerifierKey || len(lg.Keys) != 2 || lg.Keys[0].Key != k1.VerifierKey || lg.Keys[1].Key != k2.VerifierKey ||
		lg.Keys[0].Signed.String() != "sizes 0 on" || lg.Keys[1].Signed.String() != "sizes 1 on" {
		t.Fatalf("trust roots' log after the rotation: %+v", lg)
	}
	n.stop()

	// The witness's operator gives it the new key; the old key retires.
	w.SetLogKey(t, k2.VerifierKey)
	out, code = ctl("key", "retire", "--which", "checkpoint", "--data", data)
	t.Logf("key retire --which checkpoint:\n%s", out)
	if code != 0 || !strings.Contains(out, "retired  "+k1.VerifierKey+": signed sizes 0 to 2") {
		t.Fatalf("key retire: %d %s", code, out)
	}
	n = startNodeProc(t, evidenced, data, witnessFlag...)
	// The monitor is given the new key (its state kept, with a copy of
	// the old state aside); the checkpoint it holds, signed by both keys,
	// verifies under the new one.
	oldState := filepath.Join(work, "monitor-old.json")
	if b, err := os.ReadFile(state); err != nil || os.WriteFile(oldState, b, 0o600) != nil {
		t.Fatal(err)
	}
	if out, code := ctl("monitor", "--node", n.URL, "--state", state, "--once", "--log-key", k2.VerifierKey); code != 0 || !strings.Contains(out, "the log key changes") {
		t.Fatalf("monitor given the new key: %d %s", code, out)
	}
	rc3, pkg3 := pkg(n, "合同：旧日志密钥退役之后", "after.pdf")
	if logSigs(rc3) != 1 || !strings.Contains(rc3.LogProof, "\n3\n") {
		t.Fatalf("after the retirement: %d log signatures:\n%s", logSigs(rc3), rc3.LogProof)
	}
	lg, roots := ledger(n, "ledger-after.json")
	if len(lg.Keys) != 2 || lg.Keys[0].Signed.String() != "sizes 0 to 2" || lg.Keys[1].Signed.String() != "sizes 1 on" {
		t.Fatalf("trust roots' log after the retirement: %+v", lg.Keys)
	}
	// The monitor follows with the new key from its state; the old state
	// (the retired key) does not verify the new key's checkpoint.
	if out, code := ctl("monitor", "--node", n.URL, "--state", state, "--once"); code != 0 || !strings.Contains(out, "checkpoint 3 records") {
		t.Fatalf("monitor with the new key kept in its state: %d %s", code, out)
	}
	if out, code := ctl("monitor", "--node", n.URL, "--state", oldState, "--once"); code == 0 || !strings.Contains(out, "does not verify") {
		t.Fatalf("monitor with the retired key: %d %s", code, out)
	}
	n.stop()

	for _, c := range []struct{ pkg, text string }{
		{pkg1, "合同：日志密钥轮换之前"}, {pkg2, "合同：日志密钥轮换之后"}, {pkg3, "合同：旧日志密钥退役之后"},
	} {
		for _, args := range [][]string{
			{"verify-package", c.pkg, "--text", c.text, "--witness-key", w.VerifierKey},
			{"verify-package", c.pkg, "--text", c.text, "--witness-key", w.VerifierKey, "--trust", roots},
		} {
			out, code := ctl(args...)
			if code != 0 || !strings.Contains(out, "[pass] proof_intact") || !strings.Contains(out, "cosigned by 1 witness(es) "+w.Name) {
				t.Fatalf("%v: %d\n%s", args, code, out)
			}
		}
	}

	// The retired key does not start the node.
	retired, err := os.ReadFile(filepath.Join(data, "retired-keys", tlog.RetiredKeyFile(k1.VerifierKey)))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "tlog-key"), retired, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(evidenced, "--data", data, "--listen", "127.0.0.1:0")
	if b, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(b), "rotated away") {
		t.Fatalf("evidenced with the retired log key: %v %s", err, b)
	}
}
