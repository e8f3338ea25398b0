package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TestBenchPeers measures this node against Tessera (the transparency-dev
// tile log behind Rekor v2) in one run: for EVIDENCE_PEERS_ROUNDS rounds
// (default 3) of EVIDENCE_PEERS_SECONDS each (default 15), interleaved,
// our single submissions at 64 and 1,024 clients, our batch API, our HTTP
// baseline (GET /healthz), and Tessera's POSIX server driven by its own
// load tool (hammer) with 1,024 writers, counted by the growth of its
// checkpoint (entries integrated into the tree). It prints min / median /
// max, the ratios, and the CPU each server and each load tool spent per
// record (the two share the machine's cores, so a rate bound by the CPU
// is two cores over their sum) (make bench-peers). Each run starts on a
// settled disk (settle): no run pays for the write-back of the one
// before it. A benchmark, not a test: it asserts nothing about speed.
func TestBenchPeers(t *testing.T) {
	if os.Getenv("EVIDENCE_BENCH_PEERS") != "1" {
		t.Skip("set EVIDENCE_BENCH_PEERS=1 (make bench-peers)")
	}
	rounds, secs := 3, 15
	if s := os.Getenv("EVIDENCE_PEERS_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("EVIDENCE_PEERS_SECONDS"); s != "" {
		secs, _ = strconv.Atoi(s)
	}
	tessera := toolBin(t, "tessera")
	dur := fmt.Sprintf("%ds", secs)

	var report strings.Builder
	fig := map[string][]float64{}
	add := func(name string, v float64) { fig[name] = append(fig[name], v) }
	// CPU µs a record of a run's server and load tool, in the order the
	// runs were first measured.
	var cpuRuns []string
	addCPU := func(run string, server, tool float64) {
		if _, ok := fig[cpuNode+run]; !ok {
			cpuRuns = append(cpuRuns, run)
		}
		add(cpuNode+run, server)
		add(cpuTool+run, tool)
	}
	for r := 1; r <= rounds; r++ {
		fmt.Fprintf(&report, "--- round %d of %d (load %s)\n", r, rounds, loadAvg())
		// Ours: a fresh node each round.
		data := t.TempDir()
		key := addPlatform(t, data, "bench")
		p := startNode(t, data, "127.0.0.1:0")
		pid := p.cmd.Process.Pid
		bench := func(name string, args ...string) map[string]any {
			settle()
			node0 := cpuSeconds(t, pid)
			out, tool := benchJSON(t, p.url, key, args...)
			node := cpuSeconds(t, pid) - node0
			// Per record; per request for GET /healthz, which has none.
			n := out["records"].(float64)
			if n == 0 {
				n = out["requests"].(float64)
			}
			addCPU("ours "+name, node/n*1e6, tool/n*1e6)
			fmt.Fprintf(&report, "ours  %-34s %9.0f /s  p50 %6.2f ms  p99 %7.2f ms  CPU µs node %5.1f + tool %5.1f  errors %v\n",
				name, out["records_per_second"], out["p50_ms"], out["p99_ms"], node/n*1e6, tool/n*1e6, out["errors"])
			return out
		}
		h := bench("GET /healthz, 64 clients", "--mode", "health", "--clients", "64", "--duration", dur)
		s64 := bench("single POST, 64 clients", "--clients", "64", "--duration", dur)
		s1k := bench("single POST, 1024 clients", "--clients", "1024", "--duration", dur)
		b8 := bench("batch 1000 × 8 clients", "--batch", "1000", "--clients", "8", "--duration", dur)
		stopProc(p)
		add("ours: GET /healthz, 64 clients (req/s)", h["requests_per_second"].(float64))
		add("ours: single POST, 64 clients", s64["records_per_second"].(float64))
		add("ours: single POST, 64 clients, p99 ms", s64["p99_ms"].(float64))
		add("ours: single POST, 1024 clients", s1k["records_per_second"].(float64))
		add("ours: single POST, 1024 clients, p99 ms", s1k["p99_ms"].(float64))
		add("ours: batch 1000 × 8 clients", b8["records_per_second"].(float64))

		tr := runTessera(t, tessera, secs)
		fmt.Fprintf(&report, "tessera hammer, 1024 writers              %9.0f /s integrated (%d entries in %.1f s)  CPU µs server %5.1f + hammer %5.1f\n",
			tr.rate, tr.entries, tr.seconds, tr.cpu[0], tr.cpu[1])
		add("Tessera v1.0.4 POSIX + hammer, 1024 writers (integrated/s)", tr.rate)
		addCPU("Tessera, 1024 writers", tr.cpu[0], tr.cpu[1])
	}
	fmt.Fprintf(&report, "\n%-60s %s\n", "figure", "min / median / max")
	for _, name := range []string{
		"ours: GET /healthz, 64 clients (req/s)", "ours: single POST, 64 clients", "ours: single POST, 64 clients, p99 ms",
		"ours: single POST, 1024 clients", "ours: single POST, 1024 clients, p99 ms", "ours: batch 1000 × 8 clients",
		"Tessera v1.0.4 POSIX + hammer, 1024 writers (integrated/s)",
	} {
		fmt.Fprintf(&report, "%-60s %s\n", name, spread(fig[name]))
	}
	fmt.Fprintf(&report, "\n%-60s %s\n", "CPU µs a record (a request for /healthz), median", "server + load tool = sum")
	for _, name := range cpuRuns {
		n, l := median(fig[cpuNode+name]), median(fig[cpuTool+name])
		fmt.Fprintf(&report, "%-60s %.1f + %.1f = %.1f\n", name, n, l, n+l)
	}
	ratio := func(a, b string) float64 { return median(fig[a]) / median(fig[b]) }
	fmt.Fprintf(&report, "\nsingle POST at 1024 clients ÷ Tessera at 1024 writers: %.2f × (round by round: %s)\n",
		ratio("ours: single POST, 1024 clients", "Tessera v1.0.4 POSIX + hammer, 1024 writers (integrated/s)"),
		byRound(fig["ours: single POST, 1024 clients"], fig["Tessera v1.0.4 POSIX + hammer, 1024 writers (integrated/s)"]))
	fmt.Fprintf(&report, "single POST at 64 clients ÷ our GET /healthz:          %.2f ×\n",
		ratio("ours: single POST, 64 clients", "ours: GET /healthz, 64 clients (req/s)"))
	fmt.Fprintf(&report, "batch ÷ our GET /healthz:                             %.2f ×\n",
		ratio("ours: batch 1000 × 8 clients", "ours: GET /healthz, 64 clients (req/s)"))
	t.Log("\n" + report.String())
	if out := os.Getenv("EVIDENCE_BENCH_OUT"); out != "" {
		os.WriteFile(out, []byte(report.String()), 0o644)
	}
}

// settle writes every dirty page of the machine back to disk (sync(2)
// waits for it) before a run, so that the write-back of the run before
// it does not take this one's CPU and disk.
func settle() {
	syscall.Sync()
}

// byRound is the ratio a[i]/b[i] of each round's figures, "1.42 / 1.51".
func byRound(a, b []float64) string {
	var out []string
	for i := range min(len(a), len(b)) {
		out = append(out, strconv.FormatFloat(a[i]/b[i], 'f', 2, 64))
	}
	return strings.Join(out, " / ")
}

// toolBin returns the folder of a tool network/build-tools built.
func toolBin(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(repoDir(t), "network", "build-tools"), "--path", name).Output()
	if err != nil {
		t.Fatalf("%s is not built: run network/build-tools (or make tools): %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// Keys of the CPU figures (µs a record) of a server and of its load tool.
const (
	cpuNode = "cpu server: "
	cpuTool = "cpu tool: "
)

// benchJSON runs evidencectl bench and returns its JSON answer and the
// CPU seconds the load tool used.
func benchJSON(t *testing.T, url, key string, args ...string) (map[string]any, float64) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "evidencectl"), append([]string{"bench", "--node", url, "--key", key, "--json"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bench %v: %v\n%s", args, err, stderr.String())
	}
	var r map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return r, processCPU(cmd.ProcessState)
}

// processCPU is the CPU time (user and system) of a process that exited.
func processCPU(ps *os.ProcessState) float64 {
	return (ps.UserTime() + ps.SystemTime()).Seconds()
}

type tesseraRun struct {
	entries int64
	seconds float64
	rate    float64
	cpu     [2]float64 // µs an integrated entry: the server, hammer
}

// runTessera starts Tessera's POSIX conformance server on a fresh
// directory and drives it with hammer for secs seconds.
func runTessera(t *testing.T, bin string, secs int) tesseraRun {
	t.Helper()
	dir := t.TempDir()
	skey, vkey, err := note.GenerateKey(rand.Reader, "bench.tessera.local")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "log.key")
	os.WriteFile(keyFile, []byte(skey), 0o600)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	srv := exec.Command(filepath.Join(bin, "conformance-posix"), "--storage_dir", filepath.Join(dir, "log"), "--listen", addr, "--private_key", keyFile)
	var logs bytes.Buffer
	srv.Stdout, srv.Stderr = &logs, &logs
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := checkpointSize(base); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tessera did not start: %s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	before, _ := checkpointSize(base)
	settle()
	srv0 := cpuSeconds(t, srv.Process.Pid)
	t0 := time.Now()
	h := exec.Command(filepath.Join(bin, "hammer"), "--log_url", base+"/", "--log_public_key", vkey,
		"--max_read_ops", "0", "--num_readers_random", "0", "--num_readers_full", "0",
		"--num_writers", "1024", "--max_write_ops", "1000000", "--leaf_write_goal", "0",
		"--max_runtime", fmt.Sprintf("%ds", secs), "--show_ui=false")
	h.Stdout, h.Stderr = io.Discard, io.Discard
	h.Run() // exits 1 when max_runtime passes: that is how this run ends
	// Entries written by the end are integrated within the next batch.
	time.Sleep(2 * time.Second)
	after, err := checkpointSize(base)
	if err != nil {
		t.Fatalf("tessera checkpoint: %v", err)
	}
	elapsed := time.Since(t0).Seconds() - 2
	n := after - before
	tr := tesseraRun{entries: n, seconds: elapsed, rate: float64(n) / elapsed}
	if n > 0 && h.ProcessState != nil {
		tr.cpu = [2]float64{(cpuSeconds(t, srv.Process.Pid) - srv0) / float64(n) * 1e6, processCPU(h.ProcessState) / float64(n) * 1e6}
	}
	return tr
}

// checkpointSize reads the tree size from a tlog-checkpoint.
func checkpointSize(base string) (int64, error) {
	resp, err := http.Get(base + "/checkpoint")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("%s", resp.Status)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 2 {
		return 0, fmt.Errorf("checkpoint %q", b)
	}
	return strconv.ParseInt(lines[1], 10, 64)
}
