package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
)

// The integration tests build the real binaries and run them as processes
// on 127.0.0.1.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "evidence-bin-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	for _, cmd := range []string{"evidenced", "evidencectl"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, cmd), "github.com/evidence-node/evidence-node/cmd/"+cmd).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", cmd, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	// started is what the node printed on stdout before "listening on".
	started []string
}

// syncBuffer is the node's stderr as it writes it, safe to read meanwhile.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// startNode starts evidenced on addr (127.0.0.1:0 for any port) and waits
// until it listens.
func startNode(t *testing.T, data, addr string, extra ...string) *proc {
	t.Helper()
	return startNodeFrom(t, binDir, data, addr, extra...)
}

// startNodeFrom is startNode with the evidenced binary in bin.
func startNodeFrom(t *testing.T, bin, data, addr string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"--data", data, "--listen", addr}, extra...)
	cmd := exec.Command(filepath.Join(bin, "evidenced"), args...)
	// Tests read many records anonymously from one address: the public
	// rate limits are off unless a test's flags set them (the abuse test).
	cmd.Env = append(os.Environ(), "EVIDENCE_LEDGER_NAME=integration", "EVIDENCE_RATE_PUBLIC=0", "EVIDENCE_RATE_RENDER=0")
	stdout, _ := cmd.StdoutPipe()
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, logs: &logs}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("evidenced exited before listening: %s", logs.String())
			}
			p.started = append(p.started, l)
			if u, found := strings.CutPrefix(l, "listening on "); found {
				p.url = u
				go func() {
					for range lines {
					}
				}()
				return p
			}
		case <-deadline:
			t.Fatalf("evidenced did not start: %s", logs.String())
		}
	}
}

func (p *proc) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
}

func ctl(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "evidencectl"), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String() + errb.String(), code
}

func addPlatform(t *testing.T, data, name string) string {
	t.Helper()
	out, code := ctl(t, nil, "platform", "add", name, "--data", data)
	if code != 0 {
		t.Fatalf("platform add: %d %s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// TestCLIWalkthrough runs the README's path with the real binaries: a key,
// a PDF submitted, verified, a tampered copy, a mistyped ID; and the CLI's
// exit codes.
func TestCLIWalkthrough(t *testing.T) {
	data := t.TempDir()
	key := addPlatform(t, data, "acme")
	if !strings.HasPrefix(key, "evk_") {
		t.Fatalf("key line %q", key)
	}
	p := startNode(t, data, "127.0.0.1:0")
	env := []string{"EVIDENCE_NODE=" + p.url, "EVIDENCE_API_KEY=" + key}
	pdf := filepath.Join(t.TempDir(), "contract.pdf")
	os.WriteFile(pdf, []byte("%PDF-1.7\n% a signed contract\n%%EOF\n"), 0o600)

	out, code := ctl(t, env, "submit", pdf, "--doc-ref", "HT-1")
	if code != 0 {
		t.Fatalf("submit: %d %s", code, out)
	}
	var rc verifier.Receipt
	if err := json.Unmarshal([]byte(out), &rc); err != nil {
		t.Fatalf("submit output: %v\n%s", err, out)
	}
	if out, code := ctl(t, env, "verify", rc.ID, pdf); code != 0 || !strings.Contains(out, "PASS") {
		t.Fatalf("verify: %d %s", code, out)
	}
	tampered := filepath.Join(t.TempDir(), "tampered.pdf")
	b, _ := os.ReadFile(pdf)
	b[12] ^= 0x20
	os.WriteFile(tampered, b, 0o600)
	if out, code := ctl(t, env, "verify", rc.ID, tampered); code != 1 || !strings.Contains(out, "[FAIL] digest_match") {
		t.Fatalf("verify tampered: %d %s", code, out)
	}
	bad := []byte(rc.ID)
	bad[3] = map[bool]byte{true: 'A', false: 'B'}[bad[3] != 'A']
	if out, code := ctl(t, env, "verify", string(bad), pdf); code != 3 || !strings.Contains(out, "id_checksum") {
		t.Fatalf("verify mistyped: %d %s", code, out)
	}
	if out, code := ctl(t, env, "get", rc.ID); code != 0 || !strings.Contains(out, rc.BlockHash) {
		t.Fatalf("get: %d %s", code, out)
	}
	out, code = ctl(t, env, "submit", "--text", "合同正文", "--metadata", `{"buyer":"张三"}`)
	if code != 0 || !strings.Contains(out, `"type": "text"`) {
		t.Fatalf("submit text: %d %s", code, out)
	}
	var trc verifier.Receipt
	json.Unmarshal([]byte(out), &trc)
	if out, code := ctl(t, env, "get", trc.ID); code != 0 || !strings.Contains(out, `"buyer": "张三"`) {
		t.Fatalf("get with the submitter's key shows no metadata: %d %s", code, out)
	}
	if out, code := ctl(t, []string{"EVIDENCE_NODE=" + p.url}, "get", trc.ID); code != 0 || strings.Contains(out, "buyer") {
		t.Fatalf("anonymous get: %d %s", code, out)
	}
	if out, code := ctl(t, env, "verify", trc.ID, "--text", "合同正文"); code != 0 {
		t.Fatalf("verify text: %d %s", code, out)
	}
	if out, code := ctl(t, []string{"EVIDENCE_NODE=" + p.url, "EVIDENCE_API_KEY=evk_wrong"}, "submit", "--digest", rc.DigestHex); code != 3 || !strings.Contains(out, "unauthorized") {
		t.Fatalf("wrong key: %d %s", code, out)
	}
	if out, code := ctl(t, env, "submit"); code != 2 {
		t.Fatalf("usage error: %d %s", code, out)
	}
	if out, code := ctl(t, []string{"EVIDENCE_NODE=http://127.0.0.1:1"}, "get", rc.ID); code != 4 {
		t.Fatalf("node unreachable: %d %s", code, out)
	}
	// The node refuses a config it cannot honour, with exit code 2.
	cmd := exec.Command(filepath.Join(binDir, "evidenced"), "--data", t.TempDir(), "--block-max-records", "0")
	if err := cmd.Run(); cmd.ProcessState.ExitCode() != 2 {
		t.Fatalf("bad flag: %v", err)
	}
}

type ack struct {
	ID          string `json:"id"`
	TxID        string `json:"tx_id"`
	BlockNumber uint64 `json:"block_number"`
	BlockHash   string `json:"block_hash"`
}

// TestKill9UnderLoad: 20 clients submit for a bounded time; evidenced is
// killed with SIGKILL mid-load and restarted. Every submission that got a
// 201 must be retrievable with the same receipt, and the chain must verify
// from block 0 to the head.
func TestKill9UnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	data := t.TempDir()
	key := addPlatform(t, data, "load")
	p := startNode(t, data, "127.0.0.1:0")
	addr := strings.TrimPrefix(p.url, "http://")
	acks := filepath.Join(t.TempDir(), "acks.jsonl")

	duration := 16 * time.Second
	bench := exec.Command(filepath.Join(binDir, "evidencectl"), "bench", "--node", p.url, "--key", key,
		"--clients", "20", "--duration", duration.String(), "--record", acks, "--json")
	var benchOut bytes.Buffer
	bench.Stdout, bench.Stderr = &benchOut, &benchOut
	if err := bench.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	p.kill9(t)
	killedAt := countLines(t, acks)
	time.Sleep(500 * time.Millisecond)
	p = startNode(t, data, addr)
	if err := bench.Wait(); err != nil {
		t.Fatalf("bench: %v\n%s", err, benchOut.String())
	}
	t.Logf("bench: %s", benchOut.String())

	f, err := os.Open(acks)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	client := &http.Client{Timeout: 10 * time.Second}
	for sc.Scan() {
		var a ack
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("ack line %d: %v", n, err)
		}
		n++
		// Check every ack acknowledged before the kill, and a sample after.
		if n > killedAt && n%10 != 0 {
			continue
		}
		resp, err := client.Get(p.url + "/api/v1/evidence/" + a.ID)
		if err != nil {
			t.Fatal(err)
		}
		var rc verifier.Receipt
		json.NewDecoder(resp.Body).Decode(&rc)
		resp.Body.Close()
		if resp.StatusCode != 200 || rc.BlockHash != a.BlockHash || rc.BlockNumber != a.BlockNumber || rc.TxID != a.TxID {
			t.Fatalf("acknowledged %s (block %d %s) after restart: %d, block %d %s", a.ID, a.BlockNumber, a.BlockHash, resp.StatusCode, rc.BlockNumber, rc.BlockHash)
		}
	}
	if killedAt < 1000 || n <= killedAt {
		t.Fatalf("load too small to mean anything: %d acks before the kill, %d in all", killedAt, n)
	}
	t.Logf("%d records acknowledged before kill -9, %d in all; all retrievable with the same receipt", killedAt, n)

	// The chain verifies from block 0 to the head.
	var lv struct {
		Height     uint64           `json:"height"`
		TrustRoots block.TrustRoots `json:"trust_roots"`
	}
	getJSON(t, p.url+"/api/v1/ledger", &lv)
	var prev []byte
	for i := uint64(0); i < lv.Height; i++ {
		var bv struct {
			Hash  string          `json:"hash"`
			Block json.RawMessage `json:"block"`
		}
		if code := getJSON(t, fmt.Sprintf("%s/api/v1/blocks/%d", p.url, i), &bv); code != 200 {
			t.Fatalf("block %d: %d", i, code)
		}
		b, err := block.ParseEmbedded(bv.Block)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Verify(lv.TrustRoots); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Header.PreviousHash, prev) {
			t.Fatalf("block %d does not link to block %d", i, i-1)
		}
		prev = b.Hash()
		if hex.EncodeToString(prev) != bv.Hash {
			t.Fatalf("block %d: hash field differs", i)
		}
	}
	t.Logf("chain of %d blocks verifies from block 0 to the head", lv.Height)
	_ = context.Background
}

func countLines(t *testing.T, path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// TestReadmeWalkthrough runs the README's curl walkthrough as written,
// against a real node (only the URL, the data directory and `go run` of
// evidencectl are swapped for the test's).
func TestReadmeWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "<!-- walkthrough -->")
	script, _, ok2 := strings.Cut(rest, "<!-- /walkthrough -->")
	if !ok || !ok2 {
		t.Fatal("README has no walkthrough markers")
	}
	script = strings.NewReplacer("```sh", "", "```", "").Replace(script)
	data := t.TempDir()
	p := startNode(t, data, "127.0.0.1:0")
	script = strings.NewReplacer(
		"http://127.0.0.1:8080", p.url,
		"go run ./cmd/evidencectl", filepath.Join(binDir, "evidencectl"),
		"--data ./data", "--data "+data,
	).Replace(script)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	s := string(out)
	pass := strings.Index(s, `"verdict":"pass"`)
	mismatch := strings.Index(s, `"outcome":"mismatch"`)
	if pass < 0 || mismatch < pass {
		t.Fatalf("walkthrough output: want a pass, then a mismatch:\n%s", s)
	}
}
