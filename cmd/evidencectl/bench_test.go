package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchLightClient runs evidencectl bench, whose plain-http requests go
// through its light transport (benchTransport, fasthttp), against a real node in every mode:
// the counts it prints are the node's receipts (each recorded ID has one),
// and the node's refusals are counted by their API code.
func TestBenchLightClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, ctl := buildBinaries(t)
	data := t.TempDir()
	key, _ := newWitnessedData(t, ctl, data)
	n := startNodeProc(t, filepath.Join(bin, "evidenced"), data)
	bench := func(args ...string) BenchResult {
		t.Helper()
		var out, errb bytes.Buffer
		if code := Main(t.Context(), append([]string{"bench", "--node", n.URL, "--json", "--clients", "3"}, args...), &out, &errb); code != 0 {
			t.Fatalf("bench %v: %d %s", args, code, errb.String())
		}
		var r BenchResult
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("bench %v: %v %s", args, err, out.String())
		}
		return r
	}
	acks := filepath.Join(t.TempDir(), "acks.jsonl")
	for _, tc := range []struct {
		args     []string
		records  int64
		recorded int
	}{
		{[]string{"--key", key, "--count", "40"}, 40, 0},
		{[]string{"--key", key, "--count", "40", "--record", acks}, 40, 40},
		{[]string{"--key", key, "--count", "4", "--batch", "25"}, 100, 0},
		{[]string{"--key", key, "--count", "4", "--batch", "25", "--record", acks}, 100, 140},
		{[]string{"--mode", "health", "--count", "30"}, 30, 140},
		{[]string{"--key", key, "--mode", "get", "--count", "30"}, 30, 140},
	} {
		r := bench(tc.args...)
		if r.Records != tc.records || len(r.Errors) != 0 {
			t.Errorf("bench %v: %d records, errors %v; want %d, none", tc.args, r.Records, r.Errors, tc.records)
		}
		if tc.recorded > 0 {
			b, err := os.ReadFile(acks)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != tc.recorded {
				t.Fatalf("bench %v: %d acks recorded, want %d", tc.args, len(lines), tc.recorded)
			}
			var a struct {
				ID        string `json:"id"`
				DigestHex string `json:"digest_hex"`
			}
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &a); err != nil || a.DigestHex == "" {
				t.Fatalf("ack %q: %v", lines[len(lines)-1], err)
			}
			if rc := getReceipt(t, n.URL, a.ID); rc.ID != a.ID {
				t.Fatalf("ack %s: the node has %q", a.ID, rc.ID)
			}
		}
	}
	r := bench("--key", "not-a-key", "--count", "5")
	if r.Records != 0 || r.Errors["unauthorized"] != 5 {
		t.Errorf("bench with a wrong key: %d records, errors %v; want 0, unauthorized=5", r.Records, r.Errors)
	}
}
