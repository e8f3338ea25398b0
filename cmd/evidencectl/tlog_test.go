package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/node/tlog/witnesstest"
	"github.com/evidence-node/evidence-node/verifier"
)

// buildBinaries builds evidenced and evidencectl into a temporary
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
	out, code := ctl("platform", "add", "acme", "--data", data)
	if code != 0 {
		t.Fatalf("platform add: %s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	// The log key made before the node's first start, so that the
	// witness can be told it (as an operator would after the first start).
	lk, _, err := tlog.LoadOrCreateKey(filepath.Join(data, "tlog-key"), "evidence-local")
	if err != nil {
		t.Fatal(err)
	}
	w := witnesstest.Start(t, "evidence-local", lk.VerifierKey)
	other := witnesstest.Start(t, "evidence-local", lk.VerifierKey) // trusted by nobody here, never asked
	nodeURL := startNode(t, filepath.Join(bin, "evidenced"), data, "--witness", w.URL+" "+w.VerifierKey)
	node := []string{"--node", nodeURL, "--key", key}

	out, code = ctl(append([]string{"submit", "--text", "采购合同 HT-2026-001"}, node...)...)
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
