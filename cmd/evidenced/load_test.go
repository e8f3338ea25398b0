package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/node/tlog/witnesstest"
	"github.com/evidence-node/evidence-node/node/tsa/tsatest"
)

// TestLoadBenchmarks drives a real evidenced with the real load generator
// and records the figures of docs/benchmarks.md. It is a benchmark, not a
// test: it asserts nothing about speed, only that the runs succeed, and it
// runs only when EVIDENCE_BENCH_LOAD=1 (make bench-load).
//
// With EVIDENCE_BENCH_BASE=REV (make bench-load BASE=REV) the evidenced of
// git revision REV is built too and the two are measured in the same run,
// alternately for EVIDENCE_BENCH_ROUNDS rounds (default 2), with the same
// load generator; the report gives min/median/max of each and the ratio of
// the medians, so a change is judged against a baseline of the same run.
//
// With EVIDENCE_BENCH_TSA=1 (make bench-load TSA=1) this tree is measured
// twice in the same way, alternately: without trusted timestamps, and
// with two local TSAs (Sigstore's timestamp-server, node/tsa/tsatest)
// stamping every block; the report adds how many blocks still awaited a
// token after each scenario.
func TestLoadBenchmarks(t *testing.T) {
	if os.Getenv("EVIDENCE_BENCH_LOAD") != "1" {
		t.Skip("set EVIDENCE_BENCH_LOAD=1 (make bench-load)")
	}
	scale := 1.0
	if s := os.Getenv("EVIDENCE_BENCH_SCALE"); s != "" {
		scale, _ = strconv.ParseFloat(s, 64)
	}
	type build struct {
		name, dir string
		flags     []string
		// setup, if set, gives more flags for a run's data directory.
		setup func(data string) []string
	}
	builds := []build{{"this tree", binDir, nil, nil}}
	rounds := 1
	if rev := os.Getenv("EVIDENCE_BENCH_BASE"); rev != "" {
		builds = append(builds, build{rev, buildRevision(t, rev), nil, nil})
		rounds = 2
	}
	if os.Getenv("EVIDENCE_BENCH_TSA") == "1" {
		// Two ECDSA TSAs: here they share the node's two cores, where a
		// TSA's RSA signing would be a cost of the test set-up, not of
		// the node (real TSAs are elsewhere).
		tp := startTSAsKeys(t, tsatest.ECDSAP256)
		builds = append([]build{{"with 2 TSAs", binDir, tp.flags(), nil}}, builds...)
		rounds = 2
	}
	if os.Getenv("EVIDENCE_BENCH_TLOG") == "1" {
		// The transparency log with one real witness (omniwitness), a new
		// one for each run's new log, against the node without the log.
		builds = []build{
			{"log + 1 witness", binDir, nil, func(data string) []string {
				k, _, err := tlog.LoadOrCreateKey(filepath.Join(data, "tlog-key"), "integration") // startNodeFrom's EVIDENCE_LEDGER_NAME
				if err != nil {
					t.Fatal(err)
				}
				w := witnesstest.Start(t, "integration", k.VerifierKey)
				return []string{"--witness", w.Spec()}
			}},
			{"no log", binDir, []string{"--tlog=false"}, nil},
		}
		rounds = 2
	}
	if s := os.Getenv("EVIDENCE_BENCH_ROUNDS"); s != "" {
		rounds, _ = strconv.Atoi(s)
	}
	var report strings.Builder
	figures := map[string]map[string][]float64{} // build → figure → values
	var order []string
	for r := 1; r <= rounds; r++ {
		for _, b := range builds {
			settle() // the arm before it written back: not this arm's cost
			fmt.Fprintf(&report, "--- %s, round %d of %d (load %s)\n", b.name, r, rounds, loadAvg())
			fs := loadRun(t, b.dir, scale, &report, b.setup, b.flags...)
			if figures[b.name] == nil {
				figures[b.name] = map[string][]float64{}
			}
			for _, f := range fs {
				if r == 1 && b.name == builds[0].name {
					order = append(order, f.name)
				}
				figures[b.name][f.name] = append(figures[b.name][f.name], f.value)
			}
		}
	}
	if len(builds) > 1 {
		fmt.Fprintf(&report, "\n%-52s %-26s %-26s %s\n", "figure (min / median / max)", builds[0].name, builds[1].name, "ratio of medians")
		for _, name := range order {
			a, b := figures[builds[0].name][name], figures[builds[1].name][name]
			if len(b) == 0 { // a figure of the first build only (the log's delays)
				fmt.Fprintf(&report, "%-52s %-26s %-26s\n", name, spread(a), "—")
				continue
			}
			fmt.Fprintf(&report, "%-52s %-26s %-26s %.2f\n", name, spread(a), spread(b), median(a)/median(b))
		}
	}
	t.Log("\n" + report.String())
	if out := os.Getenv("EVIDENCE_BENCH_OUT"); out != "" {
		os.WriteFile(out, []byte(report.String()), 0o644)
	}
}

// figure is one measured number of a run.
type figure struct {
	name  string
	value float64
}

// loadRun starts the evidenced in bin on an empty data directory, runs
// the load scenarios with this tree's evidencectl, and returns the
// figures, writing the details to report.
func loadRun(t *testing.T, bin string, scale float64, report *strings.Builder, setup func(string) []string, flags ...string) []figure {
	secs := func(s float64) string { return fmt.Sprintf("%.0fs", max(2, s*scale)) }
	data := t.TempDir()
	key := addPlatform(t, data, "bench")
	tsa := len(flags) > 0 && flags[0] == "--tsa"
	withLog := setup != nil
	if setup != nil {
		flags = append(flags, setup(data)...)
	}
	p := startNodeFrom(t, bin, data, "127.0.0.1:0", flags...)
	defer stopProc(p)
	pid := p.cmd.Process.Pid
	var out []figure
	run := func(name string, args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(filepath.Join(binDir, "evidencectl"), append([]string{"bench", "--node", p.url, "--key", key, "--json"}, args...)...)
		var stdout, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s%s", name, err, stdout.String(), errb.String())
		}
		var r map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(report, "%-38s %9.0f records/s  %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  errors %v\n",
			name, r["records_per_second"], r["requests_per_second"], r["p50_ms"], r["p99_ms"], r["max_ms"], r["errors"])
		rate := "records_per_second"
		if strings.HasPrefix(name, "baseline") || strings.HasPrefix(name, "GET") {
			rate = "requests_per_second"
		}
		out = append(out, figure{name + ", per s", r[rate].(float64)}, figure{name + ", p99 ms", r["p99_ms"].(float64)})
		if tsa {
			fmt.Fprintf(report, "%-38s %9.0f tokens awaited (both TSAs), %.0f stored so far\n", "",
				metricSum(t, p.url, "evidence_timestamps_awaiting", ""), metricSum(t, p.url, "evidence_timestamps_total", ""))
		}
		return r
	}
	base := run("baseline GET /healthz, 64 clients", "--mode", "health", "--clients", "64", "--duration", secs(5))
	cpu0 := cpuSeconds(t, pid)
	batch := run("POST /evidence/batch ×1000, 8 clients", "--batch", "1000", "--clients", "8", "--duration", secs(22))
	// The node's CPU per record: steadier than the rate on a shared
	// machine (the load tool and other processes take the rest).
	perRecord := (cpuSeconds(t, pid) - cpu0) / batch["records"].(float64) * 1e6
	fmt.Fprintf(report, "%-38s %9.1f µs of the node's CPU per record\n", "", perRecord)
	out = append(out, figure{"POST /evidence/batch ×1000, node CPU µs per record", perRecord})
	single := run("POST /evidence, 64 clients", "--clients", "64", "--duration", secs(10))
	run("GET /evidence/{id}, 200 clients, closed", "--mode", "get", "--clients", "200", "--duration", secs(10))
	run("GET /evidence/{id}, 200 clients, 5000/s", "--mode", "get", "--clients", "200", "--rate", "5000", "--duration", secs(10))
	fmt.Fprintf(report, "batch records/s ÷ baseline req/s: %.2f; single ÷ baseline: %.2f\n",
		batch["records_per_second"].(float64)/base["requests_per_second"].(float64),
		single["records_per_second"].(float64)/base["requests_per_second"].(float64))
	var lv struct{ Height uint64 }
	getJSON(t, p.url+"/api/v1/ledger", &lv)
	rss, anon, file, _ := memory(t, pid)
	fmt.Fprintf(report, "after %.0f records: RSS %.1f MiB (anonymous %.1f, file-backed %.1f), %d blocks\n",
		batch["records"].(float64)+single["records"].(float64), mib(rss), mib(anon), mib(file), lv.Height)
	out = append(out, figure{"RSS after the load, MiB", mib(rss)})
	if withLog {
		time.Sleep(2 * time.Second) // the last checkpoint and its cosignature
		cp, cs := histQuantile(t, p.url, "evidence_tlog_checkpoint_delay_seconds", 0.99), histQuantile(t, p.url, "evidence_tlog_cosign_delay_seconds", 0.99)
		fmt.Fprintf(report, "transparency log: %.0f records; checkpoint after a block p99 ≤ %.3fs (%.0f checkpoints); cosigned p99 ≤ %.3fs after the checkpoint (%.0f cosignatures, %.0f refused, %.0f unreachable)\n",
			metricSum(t, p.url, "evidence_tlog_size", ""), cp, metricSum(t, p.url, "evidence_tlog_checkpoint_delay_seconds_count", ""), cs,
			metricSum(t, p.url, "evidence_tlog_witness_total", `outcome="cosigned"`), metricSum(t, p.url, "evidence_tlog_witness_total", `outcome="refused"`),
			metricSum(t, p.url, "evidence_tlog_witness_total", `outcome="unreachable"`))
		out = append(out, figure{"checkpoint after a block, p99 ≤ s", cp}, figure{"cosignature after a checkpoint, p99 ≤ s", cs})
	}
	if tsa {
		t0 := time.Now()
		for metricSum(t, p.url, "evidence_timestamps_awaiting", "") > 0 && time.Since(t0) < 10*time.Minute {
			time.Sleep(200 * time.Millisecond)
		}
		fmt.Fprintf(report, "trusted timestamps: every block stamped by both TSAs %.1fs after the load (%.0f tokens)\n",
			time.Since(t0).Seconds(), metricSum(t, p.url, "evidence_timestamps_total", ""))
	}

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
	defer os.Remove(big)
	time.Sleep(2 * time.Second) // let the GC settle after the load
	before, _, _, _ := memory(t, pid)
	os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) // reset the peak (VmHWM)
	t0 := time.Now()
	cout, code := ctl(t, []string{"EVIDENCE_NODE=" + p.url, "EVIDENCE_API_KEY=" + key}, "submit", big)
	if code != 0 {
		t.Fatalf("upload: %d %s", code, cout)
	}
	took := time.Since(t0)
	_, _, _, peak := memory(t, pid)
	fmt.Fprintf(report, "upload of %d MiB: %.2fs (%.0f MB/s), RSS before %.1f MiB, peak %.1f MiB, growth %.1f MiB\n",
		size>>20, took.Seconds(), float64(size)/1e6/took.Seconds(), mib(before), mib(peak), mib(peak-before))
	out = append(out, figure{"upload, MB/s", float64(size) / 1e6 / took.Seconds()})
	return out
}

// buildRevision builds evidenced at git revision rev (from the module
// cache; nothing of the work tree) and returns the directory holding it.
func buildRevision(t *testing.T, rev string) string {
	t.Helper()
	src := t.TempDir()
	archive := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "archive", repoDir(t), rev, src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", rev, err, out)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin, "./cmd/evidenced")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building evidenced at %s: %v\n%s", rev, err, out)
	}
	return bin
}

func repoDir(t *testing.T) string {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func spread(v []float64) string {
	return fmt.Sprintf("%.1f / %.1f / %.1f", slices.Min(v), median(v), slices.Max(v))
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

// cpuSeconds is the CPU time (user and system) process pid has used.
func cpuSeconds(t *testing.T, pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// After the command name in parentheses: state is field 3, utime 14,
	// stime 15, in clock ticks (USER_HZ, 100 on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}

// histQuantile is the upper bound of the bucket holding quantile q of a
// Prometheus histogram the node serves (+Inf as the largest finite bound
// doubled).
func histQuantile(t *testing.T, nodeURL, name string, q float64) float64 {
	t.Helper()
	resp, err := http.Get(nodeURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	type bucket struct{ le, n float64 }
	var bs []bucket
	for _, l := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(l, name+`_bucket{le="`)
		if !ok {
			continue
		}
		le, v, _ := strings.Cut(rest, `"} `)
		n, _ := strconv.ParseFloat(v, 64)
		f, err := strconv.ParseFloat(le, 64)
		if le == "+Inf" {
			f, err = math.Inf(1), nil
		}
		if err == nil {
			bs = append(bs, bucket{f, n})
		}
	}
	if len(bs) == 0 || bs[len(bs)-1].n == 0 {
		return 0
	}
	total := bs[len(bs)-1].n
	for i, x := range bs {
		if x.n >= q*total {
			if math.IsInf(x.le, 1) && i > 0 {
				return 2 * bs[i-1].le
			}
			return x.le
		}
	}
	return 0
}
