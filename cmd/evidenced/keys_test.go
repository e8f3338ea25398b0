package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// submitDigest submits a fresh hash-only record with key and returns the
// status and body.
func submitDigest(t *testing.T, nodeURL, key string) (int, string) {
	t.Helper()
	d := make([]byte, 32)
	rand.Read(d)
	body := fmt.Sprintf(`{"type":"file","algorithm":"sha256","digest":"%s"}`, hex.EncodeToString(d))
	req, _ := http.NewRequest("POST", nodeURL+"/api/v1/evidence", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitStatus waits for key's submissions to be answered want: a request
// sent 1 s or more after the start must be, and it reports when the first
// request answered so was sent. The time a request was sent, not answered,
// is what counts: a submission commits a block before its answer, which
// on a loaded machine can take longer than the change itself.
func waitStatus(t *testing.T, nodeURL, key string, want int, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		sent := time.Now()
		code, body := submitDigest(t, nodeURL, key)
		if code == want {
			if want == http.StatusUnauthorized && !strings.Contains(body, `"unauthorized"`) {
				t.Fatalf("%s: %s", what, body)
			}
			return sent.Sub(start)
		}
		if sent.Sub(start) > time.Second {
			t.Fatalf("%s: still %d for a request sent %v after: %s", what, code, sent.Sub(start).Round(time.Millisecond), body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestKeyLifecycle: with the real binaries, a running node applies
// `evidencectl platform revoke` and `rotate` within a second, and a
// deleted registry; another platform's key keeps working throughout.
func TestKeyLifecycle(t *testing.T) {
	data := t.TempDir()
	acme, beta := addPlatform(t, data, "acme"), addPlatform(t, data, "beta")
	p := startNode(t, data, "127.0.0.1:0")
	for _, k := range []string{acme, beta} {
		if code, body := submitDigest(t, p.url, k); code != http.StatusCreated {
			t.Fatalf("before: %d %s", code, body)
		}
	}

	if out, code := ctl(t, nil, "platform", "revoke", "acme", "--data", data); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("platform revoke: %d %s", code, out)
	}
	took := waitStatus(t, p.url, acme, http.StatusUnauthorized, "a revoked key")
	t.Logf("revoked key refused after %v", took)
	if code, body := submitDigest(t, p.url, beta); code != http.StatusCreated {
		t.Fatalf("another platform's key after a revocation: %d %s", code, body)
	}
	if out, code := ctl(t, nil, "platform", "rotate", "acme", "--data", data); code != 2 || !strings.Contains(out, "revoked") {
		t.Fatalf("rotating a revoked platform: %d %s", code, out)
	}
	if out, code := ctl(t, nil, "platform", "revoke", "nobody", "--data", data); code != 2 || !strings.Contains(out, "no such platform") {
		t.Fatalf("revoking an unknown platform: %d %s", code, out)
	}

	// Rotate with the default grace: the new key works at once, the old
	// one still.
	out, code := ctl(t, nil, "platform", "rotate", "beta", "--data", data)
	if code != 0 || !strings.Contains(out, "accepted until") {
		t.Fatalf("platform rotate: %d %s", code, out)
	}
	beta2 := lastLine(out)
	took = waitStatus(t, p.url, beta2, http.StatusCreated, "a rotated key")
	t.Logf("new key accepted after %v", took)
	if code, body := submitDigest(t, p.url, beta); code != http.StatusCreated {
		t.Fatalf("the old key inside its grace period: %d %s", code, body)
	}
	// Rotate with no grace: the key it replaces is refused at once.
	out, code = ctl(t, nil, "platform", "rotate", "beta", "--grace", "0", "--data", data)
	if code != 0 || !strings.Contains(out, "refused from now on") {
		t.Fatalf("platform rotate --grace 0: %d %s", code, out)
	}
	beta3 := lastLine(out)
	waitStatus(t, p.url, beta3, http.StatusCreated, "a key rotated with --grace 0")
	if code, body := submitDigest(t, p.url, beta2); code != http.StatusUnauthorized {
		t.Fatalf("a key replaced with --grace 0: %d %s", code, body)
	}
	if code, body := submitDigest(t, p.url, beta); code != http.StatusCreated {
		t.Fatalf("the first key inside its own grace period: %d %s", code, body)
	}
	if out, code := ctl(t, nil, "platform", "rotate", "beta", "--grace", "soon", "--data", data); code != 2 || !strings.Contains(out, "--grace") {
		t.Fatalf("a bad --grace: %d %s", code, out)
	}
	out, code = ctl(t, nil, "platform", "list", "--data", data)
	if code != 0 || !strings.Contains(out, "revoked 20") || !strings.Contains(out, "old key evk_") {
		t.Fatalf("platform list: %d %s", code, out)
	}

	// A deleted registry: no platform is accepted.
	if err := os.Remove(filepath.Join(data, "platforms.json")); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, p.url, beta3, http.StatusUnauthorized, "a key after the registry was deleted")
	if code, _ := submitDigest(t, p.url, beta); code != http.StatusUnauthorized {
		t.Fatalf("a retired key after the registry was deleted: %d", code)
	}
	// A broken registry keeps the last good one (here: empty) and says so.
	if err := os.WriteFile(filepath.Join(data, "platforms.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	if logs := p.logs.String(); !strings.Contains(logs, "keeping the last good registry") || !strings.Contains(logs, "was removed") {
		t.Fatalf("the node did not report the deleted and the broken registry within 1 s:\n%s", logs)
	}
}
