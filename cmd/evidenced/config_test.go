package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, []byte(`{"listen":"127.0.0.1:7000","block-max-records":50,"block-max-wait":"5ms","data":"/from/file"}`), 0o600)
	env := map[string]string{"EVIDENCE_CONFIG": file, "EVIDENCE_DATA": "/from/env", "EVIDENCE_LEDGER_NAME": "env-ledger"}
	getenv := func(k string) string { return env[k] }
	c, err := ParseFlags([]string{"--ledger-name", "flag-ledger"}, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Listen: "127.0.0.1:7000", Data: "/from/env", Ledger: "embedded", LedgerName: "flag-ledger",
		BlockMaxRecords: 50, BlockMaxWait: 5 * time.Millisecond, MaxUpload: 4 << 30, MemoryLimit: 192 << 20, CommitWait: 3 * time.Second, ConfigFile: file,
		MaxPublicUpload: 256 << 20, RatePublic: 20, RateRender: 2, RatePlatform: 50000, LogFormat: "text", LogLevel: "info", MinFreeSpace: 128 << 20, Tlog: true, WitnessInterval: time.Second}
	if c != want {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestExampleConfig: the example configuration (docs/ops/evidenced.json,
// the systemd unit's --config) reads and validates, every key a flag.
func TestExampleConfig(t *testing.T) {
	file := filepath.Join(repoDir(t), "docs", "ops", "evidenced.json")
	env := map[string]string{"EVIDENCE_DATA": "/var/lib/evidence-node"}
	c, err := ParseFlags([]string{"--config", file}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.TLSCert == "" || c.AdminListen != "127.0.0.1:9091" || c.LogFormat != "json" || c.MinFreeSpace != 1<<30 || c.Data != "/var/lib/evidence-node" {
		t.Fatalf("example config read as %+v", c)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"lisen":"x"}`), 0o600)
	none := func(string) string { return "" }
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--config", bad}, nil, `unknown key "lisen"`},
		{[]string{"--config", "/nonexistent.json"}, nil, "config file"},
		{nil, map[string]string{"EVIDENCE_BLOCK_MAX_RECORDS": "many"}, "EVIDENCE_BLOCK_MAX_RECORDS"},
		{[]string{"extra"}, nil, "unexpected argument"},
	} {
		getenv := none
		if tt.env != nil {
			getenv = func(k string) string { return tt.env[k] }
		}
		_, err := ParseFlags(tt.args, getenv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v %v: err = %v, want %q", tt.args, tt.env, err, tt.want)
		}
	}
	valid := Config{Listen: "127.0.0.1:1", Data: "d", Ledger: "embedded", LedgerName: "n", BlockMaxRecords: 1, MaxUpload: 1, MaxPublicUpload: 1, CommitWait: time.Second,
		LogFormat: "text", LogLevel: "info", Tlog: true}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"log format":     func(c *Config) { c.LogFormat = "xml" },
		"log level":      func(c *Config) { c.LogLevel = "loud" },
		"tls half":       func(c *Config) { c.TLSCert = "c.pem" },
		"admin in clear": func(c *Config) { c.AdminListen = "0.0.0.0:9091" },
		"admin address":  func(c *Config) { c.AdminListen = "9091" },
		"negative floor": func(c *Config) { c.MinFreeSpace = -1 },
		"listen":         func(c *Config) { c.Listen = "8080" },
		"ledger":         func(c *Config) { c.Ledger = "fabric" },
		"records":        func(c *Config) { c.BlockMaxRecords = 0 },
		"records, many":  func(c *Config) { c.BlockMaxRecords = 4001 },
		"wait":           func(c *Config) { c.BlockMaxWait = time.Hour },
		"upload":         func(c *Config) { c.MaxUpload = 0 },
		"public upload":  func(c *Config) { c.MaxPublicUpload = 0 },
		"public url":     func(c *Config) { c.PublicURL = "ftp://x" },
		"url userinfo":   func(c *Config) { c.PublicURL = "https://a@b.example" },
		"rate":           func(c *Config) { c.RatePublic = -1 },
		"proxy":          func(c *Config) { c.TrustedProxy = "10.0.0.0/33" },
		"metrics":        func(c *Config) { c.MetricsListen = "9090" },
		"name":           func(c *Config) { c.LedgerName = "" },
		"witness":        func(c *Config) { c.Witness = "https://w.example" },
		"witness no log": func(c *Config) {
			c.Tlog = false
			c.Witness = "https://w.example w.example+dd8a8a84+BNOqIKZRpQRzNQrbrMgDS9xI5aBI86bHBFvi4UQyt7CE"
		},
	} {
		c := valid
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
	}
}

// TestFlagsInReadme: every flag of evidenced is in the README's
// configuration table.
func TestFlagsInReadme(t *testing.T) {
	var usage strings.Builder
	ParseFlags([]string{"-h"}, func(string) string { return "" }, &usage)
	readme, err := os.ReadFile(filepath.Join(repoDir(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The flags named in the first cell of a table row.
	inTable := map[string]bool{}
	for _, line := range strings.Split(string(readme), "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 2 && strings.HasPrefix(line, "| `--") {
			for _, m := range regexp.MustCompile("`--([a-z-]+)`").FindAllStringSubmatch(cells[1], -1) {
				inTable[m[1]] = true
			}
		}
	}
	n := 0
	for _, line := range strings.Split(usage.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || !strings.HasPrefix(f[0], "-") {
			continue
		}
		n++
		if name := strings.TrimPrefix(f[0], "-"); !inTable[name] {
			t.Errorf("flag --%s is not in the README's configuration table", name)
		}
	}
	if n < 20 {
		t.Fatalf("read %d flags from the usage:\n%s", n, usage.String())
	}
}

// TestParseFlagsTSA: --tsa repeats; the environment and the config file
// give several at once; --tsa and --tsa-roots go together.
func TestParseFlagsTSA(t *testing.T) {
	none := func(string) string { return "" }
	c, err := ParseFlags([]string{"--tsa", "http://a.example/tsr", "--tsa", "https://b.example/tsr", "--tsa-roots", "r.pem"}, none, io.Discard)
	if err != nil || c.TSA.String() != "http://a.example/tsr,https://b.example/tsr" || len(c.TSA.List()) != 2 || c.TSARoots != "r.pem" {
		t.Fatalf("flags: %q %q %v", c.TSA, c.TSARoots, err)
	}
	env := map[string]string{"EVIDENCE_TSA": "http://a.example/tsr, http://b.example/tsr", "EVIDENCE_TSA_ROOTS": "r.pem"}
	if c, err = ParseFlags(nil, func(k string) string { return env[k] }, io.Discard); err != nil || len(c.TSA.List()) != 2 {
		t.Fatalf("env: %q %v", c.TSA, err)
	}
	file := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(file, []byte(`{"tsa":["http://a.example/tsr","http://b.example/tsr","http://c.example/tsr"],"tsa-roots":"r.pem"}`), 0o600)
	if c, err = ParseFlags([]string{"--config", file}, none, io.Discard); err != nil || len(c.TSA.List()) != 3 || c.TSA.List()[2] != "http://c.example/tsr" {
		t.Fatalf("config file: %q %v", c.TSA, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	valid := Config{Listen: "127.0.0.1:1", Data: "d", Ledger: "embedded", LedgerName: "n", BlockMaxRecords: 1, MaxUpload: 1, MaxPublicUpload: 1, CommitWait: time.Second, LogFormat: "text", LogLevel: "info"}
	if err := valid.Validate(); err != nil {
		t.Fatalf("the valid config: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"tsa without roots": func(c *Config) { c.TSA = "http://a.example" },
		"roots without tsa": func(c *Config) { c.TSARoots = "r.pem" },
		"not http":          func(c *Config) { c.TSA, c.TSARoots = "ftp://a.example", "r.pem" },
		"twice":             func(c *Config) { c.TSA, c.TSARoots = "http://a.example,http://a.example", "r.pem" },
	} {
		c := valid
		mutate(&c)
		if c.Validate() == nil {
			t.Errorf("%s: invalid config accepted", name)
		}
	}
}
