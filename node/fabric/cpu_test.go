package fabric_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/fabric/fabrictest"
)

// clockTick is the kernel's USER_HZ, the unit of /proc/<pid>/stat times
// (100 on every Linux this runs on).
const clockTick = 100

// procCPU returns the CPU time (user + system) each process of the
// benchmark has used so far: the network's orderers and peers (from the
// run folder's PID files), the chaincode server (the process serving on
// the network's chaincode port) and this process (the node and its load),
// by name. Processes it cannot read are left out.
func procCPU(n *fabrictest.Network) map[string]time.Duration {
	out := map[string]time.Duration{}
	if d, ok := statCPU("self"); ok {
		out["node"] = d
	}
	if n.Dir == "" {
		return out
	}
	files, _ := filepath.Glob(filepath.Join(n.Dir, "pids", "*.pid"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if d, ok := statCPU(strings.TrimSpace(string(b))); ok {
			out[strings.TrimSuffix(filepath.Base(f), ".pid")] = d
		}
	}
	if n.BasePort > 0 {
		addr := []byte(fmt.Sprintf("127.0.0.1:%d", n.BasePort+50))
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			cmd, err := os.ReadFile(p)
			if err != nil || !bytes.Contains(cmd, []byte("--ccid")) || !bytes.Contains(cmd, addr) {
				continue
			}
			if d, ok := statCPU(filepath.Base(filepath.Dir(p))); ok {
				out["chaincode"] += d
			}
		}
	}
	return out
}

// statCPU reads utime + stime of /proc/<pid>/stat.
func statCPU(pid string) (time.Duration, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * time.Second / clockTick, true
}

// reportCPU reports, per process group (orderers summed, each peer, the
// chaincode, the node), the CPU milliseconds spent per thousand units
// (records or transactions) between before and now, and the total.
func reportCPU(b *testing.B, n *fabrictest.Network, before map[string]time.Duration, units int, unit string) {
	if units == 0 {
		return
	}
	after := procCPU(n)
	groups := map[string]time.Duration{}
	var total time.Duration
	for name, d := range after {
		used := d - before[name]
		if strings.HasPrefix(name, "orderer") {
			name = "orderers"
		}
		groups[name] += used
		total += used
	}
	names := make([]string, 0, len(groups))
	for name := range groups {
		names = append(names, name)
	}
	sort.Strings(names)
	per := func(d time.Duration) float64 { return float64(d.Milliseconds()) * 1000 / float64(units) }
	var parts []string
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %.0f", name, per(groups[name])))
	}
	b.Logf("CPU ms per 1000 %s: %s; total %.0f", unit, strings.Join(parts, ", "), per(total))
	b.ReportMetric(per(total), "cpu-ms/k"+unit)
	for _, name := range []string{"node", "chaincode"} {
		if d, ok := groups[name]; ok {
			b.ReportMetric(per(d), name+"-cpu-ms/k"+unit)
		}
	}
}
