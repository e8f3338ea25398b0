package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/verifier"
)

// TestCorruptedBlockFile is issue 9's corruption acceptance test, with the
// real binaries: evidence submitted, the node stopped, a byte of a block
// file changed (a digit of a record's submission time, as a forger would),
// the node restarted. The receipt, its certificate and its package answer
// 500 ledger_corrupted, never 200; /verify answers its verdict, failing;
// the node logs it once and counts it; `evidencectl fsck` names the block
// and exits 1. Then the last block changed is found at start-up, and a
// truncated block file stops the node from starting, naming the block.
func TestCorruptedBlockFile(t *testing.T) {
	data := t.TempDir()
	key := addPlatform(t, data, "acme")
	p := startNode(t, data, "127.0.0.1:0")
	client := &http.Client{Timeout: 10 * time.Second}
	call := func(method, url, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if method == "POST" && strings.HasSuffix(url, "/evidence") {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	submit := func(text string) verifier.Receipt {
		t.Helper()
		code, b := call("POST", p.url+"/api/v1/evidence", `{"type":"text","text":"`+text+`"}`)
		var rc verifier.Receipt
		if err := json.Unmarshal(b, &rc); code != 201 || err != nil {
			t.Fatalf("submit: %d %s", code, b)
		}
		return rc
	}
	a, b := submit("合同 A"), submit("合同 B")
	if a.BlockNumber != 0 || b.BlockNumber != 1 {
		t.Fatalf("want blocks 0 and 1, got %d and %d", a.BlockNumber, b.BlockNumber)
	}
	stopProc(p)

	// Change the year's third digit of A's submission time in the block
	// file (in its record entry, where a receipt is built from).
	seg := filepath.Join(data, "blocks", "seg-000000.dat")
	raw, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte(`"id":"`+a.ID+`"`))
	j := bytes.Index(raw[max(i, 0):], []byte(`"submitted_at":"20`))
	if i < 0 || j < 0 {
		t.Fatalf("record %s not found in the block file", a.ID)
	}
	k := i + j + len(`"submitted_at":"20`)
	raw[k] = '0' + (raw[k]-'0'+1)%10
	if err := os.WriteFile(seg, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	p = startNode(t, data, "127.0.0.1:0")
	for _, path := range []string{"", "/certificate.pdf", "/package.pdf"} {
		code, body := call("GET", p.url+"/api/v1/evidence/"+a.ID+path, "")
		var eb struct {
			Error struct{ Code, Message, MessageZH string } `json:"error"`
		}
		json.Unmarshal(body, &eb)
		if code != 500 || eb.Error.Code != "ledger_corrupted" || eb.Error.Message == "" || !strings.Contains(string(body), "损坏") {
			t.Fatalf("GET %s of the corrupted record: %d %.300s", path, code, body)
		}
	}
	if code, body := call("GET", p.url+"/api/v1/evidence/"+b.ID, ""); code != 200 || !strings.Contains(string(body), b.BlockHash) {
		t.Fatalf("the intact record: %d %s", code, body)
	}
	code, body := call("POST", p.url+"/api/v1/verify", `{"id":"`+a.ID+`","text":"合同 A"}`)
	var v verifier.Verification
	json.Unmarshal(body, &v)
	if code != 200 || v.Verdict != verifier.VerdictFail || len(v.Checks) != 3 || v.Checks[2].Pass {
		t.Fatalf("verify the corrupted record: %d %s", code, body)
	}
	_, metrics := call("GET", p.url+"/metrics", "")
	if m := regexp.MustCompile(`(?m)^evidence_ledger_corrupted_total (\d+)`).FindSubmatch(metrics); m == nil || string(m[1]) == "0" {
		t.Fatalf("corruption not counted:\n%s", grepLines(metrics, "corrupted"))
	}
	if !regexp.MustCompile(`(?m)^evidence_ledger_corrupted_blocks 1$`).Match(metrics) {
		t.Fatalf("corrupted blocks gauge:\n%s", grepLines(metrics, "corrupted"))
	}
	// fsck refuses to check a running node.
	if out, code := ctl(t, nil, "fsck", "--data", data); code != 2 || !strings.Contains(out, "the node is running") {
		t.Fatalf("fsck on a running node: %d %s", code, out)
	}
	stopProc(p)
	if n := strings.Count(p.logs.String(), "CORRUPTED"); n != 1 || !strings.Contains(p.logs.String(), "block 0") {
		t.Fatalf("logged %d times (want once, naming block 0):\n%s", n, p.logs)
	}
	out, code := ctl(t, nil, "fsck", "--data", data)
	if code != 1 || !strings.Contains(out, "CORRUPTED: first bad: block 0: record "+a.ID) {
		t.Fatalf("fsck: %d %s", code, out)
	}

	// A byte of the last block changed: found at start-up, before
	// serving; the node serves what is intact and refuses the block.
	raw, _ = os.ReadFile(seg)
	bi := bytes.LastIndex(raw, []byte(`"records":["`)) + len(`"records":["`) + 12
	raw[bi] = map[bool]byte{true: 'A', false: 'B'}[raw[bi] != 'A']
	os.WriteFile(seg, raw, 0o600)
	p = startNode(t, data, "127.0.0.1:0")
	if code, body := call("GET", p.url+"/api/v1/evidence/"+b.ID, ""); code != 500 || !strings.Contains(string(body), "ledger_corrupted") {
		t.Fatalf("a record of the corrupted last block: %d %s", code, body)
	}
	if code, body := call("GET", p.url+"/api/v1/blocks/1", ""); code != 500 || !strings.Contains(string(body), "ledger_corrupted") {
		t.Fatalf("the corrupted last block: %d %s", code, body)
	}
	stopProc(p)
	if !strings.Contains(p.logs.String(), "CORRUPTED: ledger data corrupted: block 1") {
		t.Fatalf("start-up did not report block 1:\n%s", p.logs)
	}

	// The block file cut inside block 1: the node does not start.
	if err := os.Truncate(seg, int64(bi)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "evidenced"), "--data", data, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "EVIDENCE_LEDGER_NAME=integration")
	done := make(chan []byte)
	go func() { o, _ := cmd.CombinedOutput(); done <- o }()
	select {
	case o := <-done:
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(o), "ledger data corrupted: block 1") || !strings.Contains(string(o), "truncated") {
			t.Fatalf("start on a truncated block file: exit %d\n%s", cmd.ProcessState.ExitCode(), o)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("evidenced started on a truncated block file")
	}
}

func grepLines(b []byte, word string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
