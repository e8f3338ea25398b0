package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLoadBenchmarks drives a real evidenced with the real load generator
// and records the figures of docs/benchmarks.md. It is a benchmark, not a
// test: it asserts nothing about speed, only that the runs succeed, and it
// runs only when EVIDENCE_BENCH_LOAD=1 (make bench-load).
func TestLoadBenchmarks(t *testing.T) {
	if os.Getenv("EVIDENCE_BENCH_LOAD") != "1" {
		t.Skip("set EVIDENCE_BENCH_LOAD=1 (make bench-load)")
	}
	scale := 1.0
	if s := os.Getenv("EVIDENCE_BENCH_SCALE"); s != "" {
		scale, _ = strconv.ParseFloat(s, 64)
	}
	secs := func(s float64) string { return fmt.Sprintf("%.0fs", max(2, s*scale)) }
	data := t.TempDir()
	key := addPlatform(t, data, "bench")
	p := startNode(t, data, "127.0.0.1:0")
	pid := p.cmd.Process.Pid
	var report strings.Builder
	run := func(name string, args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "evidencectl"), append([]string{"bench", "--node", p.url, "--key", key, "--json"}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s%s", name, err, out.String(), errb.String())
		}
		var r map[string]any
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&report, "%-38s %9.0f records/s  %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  errors %v\n",
			name, r["records_per_second"], r["requests_per_second"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["errors"])
		return r
	}
	base := run("baseline GET /healthz, 64 clients", "--mode", "health", "--clients", "64", "--duration", secs(5))
	batch := run("POST /evidence/batch ×1000, 8 clients", "--batch", "1000", "--clients", "8", "--duration", secs(22))
	single := run("POST /evidence, 64 clients", "--clients", "64", "--duration", secs(10))
	run("GET /evidence/{id}, 200 clients, closed", "--mode", "get", "--clients", "200", "--duration", secs(10))
	run("GET /evidence/{id}, 200 clients, 5000/s", "--mode", "get", "--clients", "200", "--rate", "5000", "--duration", secs(10))
	fmt.Fprintf(&report, "batch records/s ÷ baseline req/s: %.2f; single ÷ baseline: %.2f\n",
		batch["records_per_second"].(float64)/base["requests_per_second"].(float64),
		single["records_per_second"].(float64)/base["requests_per_second"].(float64))
	var lv struct{ Height uint64 }
	getJSON(t, p.url+"/api/v1/ledger", &lv)
	rss, anon, file, _ := memory(t, pid)
	fmt.Fprintf(&report, "after %.0f records: RSS %.1f MiB (anonymous %.1f, file-backed %.1f), %d blocks\n",
		batch["records"].(float64)+single["records"].(float64), mib(rss), mib(anon), mib(file), lv.Height)

	// A 1 GiB upload: peak RSS growth while it streams through the hash.
	size := int64(1 << 30)
	if scale < 1 {
		size = int64(float64(size) * scale)
	}
	big := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("evidence-node upload test "), 40000)
	for n := int64(0); n < size; n += int64(len(chunk)) {
		f.Write(chunk[:min(int64(len(chunk)), size-n)])
	}
	f.Close()
	time.Sleep(2 * time.Second) // let the GC settle after the load
	before, _, _, _ := memory(t, pid)
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) // reset the peak (VmHWM)
	t0 := time.Now()
	out, code := ctl(t, []string{"EVIDENCE_NODE=" + p.url, "EVIDENCE_API_KEY=" + key}, "submit", big)
	if code != 0 {
		t.Fatalf("upload: %d %s", code, out)
	}
	took := time.Since(t0)
	_, _, _, peak := memory(t, pid)
	fmt.Fprintf(&report, "upload of %d MiB: %.2fs (%.0f MB/s), RSS before %.1f MiB, peak %.1f MiB, growth %.1f MiB\n",
		size>>20, took.Seconds(), float64(size)/1e6/took.Seconds(), mib(before), mib(peak), mib(peak-before))
	t.Log("\n" + report.String())
	if out := os.Getenv("EVIDENCE_BENCH_OUT"); out != "" {
		os.WriteFile(out, []byte(report.String()), 0o644)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// memory reads VmRSS, RssAnon, RssFile and VmHWM of a process, in bytes.
func memory(t *testing.T, pid int) (rss, anon, file, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v << 10
		case "RssAnon:":
			anon = v << 10
		case "RssFile:":
			file = v << 10
		case "VmHWM:":
			peak = v << 10
		}
	}
	return
}
