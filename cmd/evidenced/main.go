// Command evidenced runs the evidence node: the HTTP API and the public
// verification portal, on the embedded ledger or on Fabric.
//
// Every flag can also be set by an EVIDENCE_* environment variable (the
// flag name in upper case, '-' as '_') or a JSON config file (--config);
// flags win over the environment, which wins over the file.
package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/backup"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/fabric"
	"github.com/evidence-node/evidence-node/node/logging"
	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/node/tsa"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/web"
)

func main() {
	// evidenced inspect-pdf FILE: the sandboxed child the node runs to
	// inspect one submitted PDF (see pdf.InspectorConfig).
	if len(os.Args) == 3 && os.Args[1] == "inspect-pdf" {
		if err := pdf.InspectChild(os.Args[2], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "evidenced inspect-pdf:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Config is evidenced's configuration; the flag set is its schema.
type Config struct {
	Listen          string
	Data            string
	Ledger          string
	LedgerName      string
	BlockMaxRecords int
	BlockMaxWait    time.Duration
	MaxUpload       int64
	DebugListen     string
	Queue           bool
	FabricConfig    string
	FabricOrg       string
	CommitWait      time.Duration
	MemoryLimit     int64
	SigningCert     string
	PublicURL       string
	MaxPublicUpload int64
	RatePublic      float64
	RateRender      float64
	RatePlatform    float64
	TrustedProxy    string
	MetricsListen   string
	LogFormat       string
	LogLevel        string
	AdminListen     string
	TLSCert         string
	TLSKey          string
	MinFreeSpace    int64
	TSA             urlList
	TSARoots        string
	Tlog            bool
	Witness         urlList
	WitnessInterval time.Duration
	ConfigFile      string
}

// urlList is a repeatable flag kept as one comma-separated string (so
// Config stays comparable); one value may also list several,
// comma-separated (the environment variable, the config file's array).
type urlList string

func (l *urlList) String() string { return string(*l) }
func (l *urlList) Set(v string) error {
	for _, u := range strings.Split(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			if *l != "" {
				*l += ","
			}
			*l += urlList(u)
		}
	}
	return nil
}

// List returns the URLs.
func (l urlList) List() []string {
	if l == "" {
		return nil
	}
	return strings.Split(string(l), ",")
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: want HOST:PORT: %v", c.Listen, err)
	}
	if c.Data == "" {
		return errors.New("--data is empty")
	}
	switch c.Ledger {
	case block.KindEmbedded:
	case block.KindFabric:
		if c.FabricConfig == "" {
			return errors.New("--ledger fabric needs --fabric-config (the connection profile network/up writes)")
		}
	default:
		return fmt.Errorf("--ledger %q: want embedded or fabric", c.Ledger)
	}
	if c.LedgerName == "" {
		return errors.New("--ledger-name is empty")
	}
	if err := evidence.ValidateText(c.LedgerName); err != nil {
		return fmt.Errorf("--ledger-name %q: %w (it is printed on every certificate)", c.LedgerName, err)
	}
	if c.BlockMaxRecords < 1 || c.BlockMaxRecords > embedded.MaxBlockRecords {
		return fmt.Errorf("--block-max-records %d: want 1 to %d", c.BlockMaxRecords, embedded.MaxBlockRecords)
	}
	if c.BlockMaxWait < 0 || c.BlockMaxWait > time.Minute {
		return fmt.Errorf("--block-max-wait %v: want 0 to 1m", c.BlockMaxWait)
	}
	if c.MemoryLimit < 0 {
		return fmt.Errorf("--memory-limit %d: must not be negative", c.MemoryLimit)
	}
	if c.CommitWait <= 0 || c.CommitWait > 5*time.Minute {
		return fmt.Errorf("--commit-wait %v: want (0, 5m]", c.CommitWait)
	}
	if c.MaxUpload < 1 {
		return fmt.Errorf("--max-upload %d: must be positive", c.MaxUpload)
	}
	if c.MaxPublicUpload < 1 {
		return fmt.Errorf("--max-public-upload %d: must be positive", c.MaxPublicUpload)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--public-url %q: want http(s)://host[:port][/path], no user, query or fragment", c.PublicURL)
		}
	}
	for name, v := range map[string]float64{"rate-public": c.RatePublic, "rate-render": c.RateRender, "rate-platform": c.RatePlatform} {
		if v < 0 {
			return fmt.Errorf("--%s %v: must not be negative (0: no limit)", name, v)
		}
	}
	if _, err := web.ParseProxies(c.TrustedProxy); err != nil {
		return fmt.Errorf("--trusted-proxy %q: %v", c.TrustedProxy, err)
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			return fmt.Errorf("--metrics-listen %q: want HOST:PORT: %v", c.MetricsListen, err)
		}
	}
	if c.LogFormat != logging.FormatText && c.LogFormat != logging.FormatJSON {
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if c.AdminListen != "" {
		host, _, err := net.SplitHostPort(c.AdminListen)
		if err != nil {
			return fmt.Errorf("--admin-listen %q: want HOST:PORT: %v", c.AdminListen, err)
		}
		if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && c.TLSCert == "" {
			return fmt.Errorf("--admin-listen %q is not a loopback address: the admin token would cross the network in clear; use 127.0.0.1, or give --tls-cert/--tls-key", c.AdminListen)
		}
	}
	if c.MinFreeSpace < 0 {
		return fmt.Errorf("--min-free-space %d: must not be negative (0: no floor)", c.MinFreeSpace)
	}
	if (c.TSA != "") != (c.TSARoots != "") {
		return errors.New("--tsa and --tsa-roots go together: the node accepts a TSA's tokens only under the roots it is given")
	}
	if err := tsa.ValidateURLs(c.TSA.List()); c.TSA != "" && err != nil {
		return fmt.Errorf("--tsa: %v", err)
	}
	if _, err := c.witnesses(); err != nil {
		return err
	}
	return nil
}

// ParseFlags fills a Config from defaults, the config file, the
// environment and args, in rising priority.
func ParseFlags(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("evidenced", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:8080", "address to serve HTTP on")
	fs.StringVar(&c.Data, "data", "./data", "data directory (ledger, keys, platforms)")
	fs.StringVar(&c.Ledger, "ledger", "embedded", "ledger kind: embedded or fabric")
	fs.StringVar(&c.FabricConfig, "fabric-config", "", "with --ledger fabric: the connection profile network/up writes (RUN_DIR/connection.json)")
	fs.StringVar(&c.FabricOrg, "fabric-org", "", "with --ledger fabric: the organisation whose peer and user this node uses (default: the profile's first)")
	fs.StringVar(&c.LedgerName, "ledger-name", "evidence-local", "embedded ledger name, fixed when the ledger is created (Fabric: <channel>/<chaincode>)")
	fs.IntVar(&c.BlockMaxRecords, "block-max-records", 1000, "cut a block once it holds this many records")
	fs.DurationVar(&c.BlockMaxWait, "block-max-wait", 0, "wait up to this long to fill a block (0: cut as soon as the previous block is on disk)")
	fs.Int64Var(&c.MaxUpload, "max-upload", web.DefaultMaxUpload, "largest file upload in bytes")
	fs.BoolVar(&c.Queue, "queue", false, "queue every submission durably in the node before the ledger; answer 202 pending when the ledger is slow or down (on by default for a remote ledger)")
	fs.DurationVar(&c.CommitWait, "commit-wait", 3*time.Second, "with --queue: how long a submission waits for the ledger before it is answered 202 pending")
	// 192 MiB: badger's caches, memtables and table builders and the
	// connections' buffers hold 50–60 MiB of live heap once the store has
	// some data, and a limit close above that keeps the collector running
	// all the time (at 96 MiB it took half the node's CPU under thousands
	// of concurrent submissions; at 128 MiB the heap goal stayed under
	// twice the live heap with 1,024 clients, and 192 MiB cut the node's
	// CPU a record by a fifth there; docs/benchmarks.md).
	fs.Int64Var(&c.MemoryLimit, "memory-limit", 192<<20, "soft limit in bytes on the Go heap: the garbage collector works harder near it (0: none; GOMEMLIMIT, if set, wins)")
	fs.StringVar(&c.DebugListen, "debug-listen", "", "serve Go profiling (net/http/pprof) on this address, e.g. 127.0.0.1:6060 (off if empty)")
	fs.StringVar(&c.SigningCert, "signing-cert", "", "PEM certificate chain (leaf first) of the node's key (node-key.pem) for the signatures on certificates and packages (default: a self-signed one, DATA/node-cert.pem)")
	fs.StringVar(&c.PublicURL, "public-url", "", "the node's public base URL, e.g. https://evidence.example.gov.cn: the only source of the links and QR codes on certificates (default: the listener's own address when it is loopback; else certificates are refused)")
	fs.Int64Var(&c.MaxPublicUpload, "max-public-upload", web.DefaultMaxPublicUpload, "largest file anyone may upload to verify or to embed in a package, in bytes")
	fs.Float64Var(&c.RatePublic, "rate-public", web.DefaultLimits.Public, "public reads and verifications per second per client address (bursts of 3 s; 0: no limit)")
	fs.Float64Var(&c.RateRender, "rate-render", web.DefaultLimits.Render, "certificates and packages per second per client address (bursts of 3 s; 0: no limit)")
	fs.Float64Var(&c.RatePlatform, "rate-platform", web.DefaultLimits.Platform, "requests per second per platform key (bursts of 3 s; 0: no limit)")
	fs.StringVar(&c.TrustedProxy, "trusted-proxy", "", "addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client (comma-separated)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", "", "serve /metrics on this address instead of the public listener, e.g. 127.0.0.1:9090")
	fs.StringVar(&c.LogFormat, "log-format", logging.FormatText, "log lines on stderr as text (key=value) or json (one object a line); each line of a request names its request_id")
	fs.StringVar(&c.LogLevel, "log-level", "info", "least important log lines written: debug (a line for every request), info, warn or error")
	fs.StringVar(&c.AdminListen, "admin-listen", "", "serve the operator's endpoints (online backup) on this address, e.g. 127.0.0.1:9091; each request needs the token in DATA/admin-token (off if empty)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate chain (with --tls-key); read again on SIGHUP")
	fs.StringVar(&c.TLSKey, "tls-key", "", "the PEM private key of --tls-cert; read again on SIGHUP")
	fs.Int64Var(&c.MinFreeSpace, "min-free-space", 128<<20, "refuse submissions (503 ledger_unavailable) while the data disk has fewer free bytes than this; they resume by themselves when space is freed (0: no floor)")
	fs.Var(&c.TSA, "tsa", "URL of an RFC 3161 time-stamping authority: every block gets a trusted timestamp from it, fetched in the background (repeatable; comma-separated in the environment)")
	fs.StringVar(&c.TSARoots, "tsa-roots", "", "with --tsa: PEM file of the CA (or TSA) certificates the TSAs' tokens must chain to; the trust roots list them")
	fs.BoolVar(&c.Tlog, "tlog", true, "keep the transparency log: every record in ledger order in an RFC 6962 tree, a checkpoint signed with DATA/tlog-key after each block, served at /checkpoint and /tile/ (false: none)")
	fs.Var(&c.Witness, "witness", "a C2SP tlog-witness that cosigns the transparency log's checkpoints, as \"URL VERIFIER_KEY\" (its prefix and its cosignature/v1 key); the node submits each new checkpoint with a consistency proof and keeps the cosignatures; one down or refusing holds no receipt up (repeatable; comma-separated in the environment)")
	fs.DurationVar(&c.WitnessInterval, "witness-interval", time.Second, "the least time between two submissions to one witness: it is sent the latest checkpoint at this pace, not each one (the log signs one a block)")
	fs.StringVar(&c.ConfigFile, "config", "", "JSON config file: {\"listen\": \"…\", \"data\": \"…\", …} with flag names as keys")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: evidenced [flags]\n\nRuns the evidence node. Each flag may also be set as EVIDENCE_<FLAG> (e.g. EVIDENCE_LISTEN).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	envName := func(n string) string { return "EVIDENCE_" + strings.ToUpper(strings.ReplaceAll(n, "-", "_")) }
	// The config file may itself come from the environment.
	if !set["config"] && getenv(envName("config")) != "" {
		c.ConfigFile = getenv(envName("config"))
	}
	fileVals := map[string]any{}
	if c.ConfigFile != "" {
		b, err := os.ReadFile(c.ConfigFile)
		if err != nil {
			return c, fmt.Errorf("config file: %w", err)
		}
		if err := json.Unmarshal(b, &fileVals); err != nil {
			return c, fmt.Errorf("config file %s: %w", c.ConfigFile, err)
		}
		for k := range fileVals {
			if fs.Lookup(k) == nil || k == "config" {
				return c, fmt.Errorf("config file %s: unknown key %q", c.ConfigFile, k)
			}
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] || f.Name == "config" {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
			}
			return
		}
		if v, ok := fileVals[f.Name]; ok {
			if list, isList := v.([]any); isList { // a repeatable flag's values
				parts := make([]string, len(list))
				for i, x := range list {
					parts[i] = fmt.Sprint(x)
				}
				v = strings.Join(parts, ",")
			}
			s := fmt.Sprint(v)
			if fv, isNum := v.(float64); isNum {
				s = fmt.Sprintf("%.0f", fv)
			}
			if e := f.Value.Set(s); e != nil {
				err = fmt.Errorf("config file key %q=%v: %v", f.Name, v, e)
			}
		}
	})
	return c, err
}

// Main runs evidenced and returns its exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseFlags(args, os.Getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintln(stderr, "evidenced:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "evidenced:", err)
		return 1
	}
	return 0
}

// Run serves until ctx is done, then shuts down gracefully.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	level, _ := logging.ParseLevel(cfg.LogLevel) // checked by Validate
	logger, err := logging.New(stderr, cfg.LogFormat, level)
	if err != nil {
		return err
	}
	if cfg.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(cfg.MemoryLimit)
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return err
	}
	db, err := store.Open(filepath.Join(cfg.Data, "store"), store.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer db.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := node.NewMetrics(reg)
	// Submissions stop while the data disk is nearly full, before badger
	// could meet a full disk (see node.Space).
	space := node.NewSpace(cfg.MinFreeSpace, reg, filepath.Join(cfg.Data, "store"), filepath.Join(cfg.Data, "blocks"))
	defer space.Close()
	// The node's key seals embedded blocks and signs every certificate and
	// package; its certificate is --signing-cert, or a self-signed one kept
	// next to the key.
	keyPath := filepath.Join(cfg.Data, "node-key.pem")
	key, created, err := node.LoadOrCreateKey(keyPath)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(stdout, "created node signing key %s\n", keyPath)
	}
	certPath := cfg.SigningCert
	if certPath == "" {
		certPath = filepath.Join(cfg.Data, "node-cert.pem")
	}
	chain, created, err := node.LoadOrCreateCertificate(certPath, key, cfg.SigningCert == "")
	if err != nil {
		return fmt.Errorf("--signing-cert: %w", err)
	}
	if created {
		fmt.Fprintf(stdout, "created a self-signed document signing certificate %s (give your own with --signing-cert)\n", certPath)
	}
	stamper, err := openStamper(cfg, db, reg, logger)
	if err != nil {
		return err
	}
	var (
		timestamps node.Timestamper
		onSeal     func(*store.Batch, block.Header, block.Seal)
		onTx       func(string, []byte, uint64, string) error
		onBlock    = metrics.ObserveBlock
		// The transparency log opens after the ledger (it reads it); the
		// ledger's block hook wakes it once it runs.
		logWake atomic.Pointer[tlog.Log]
	)
	if stamper != nil {
		defer stamper.Close()
		timestamps, onSeal, onTx = stamper, stamper.StageEmbedded, stamper.AddFabric
	}
	onBlock = func(n uint64, records int, took time.Duration) {
		metrics.ObserveBlock(n, records, took)
		if stamper != nil {
			stamper.Wake()
		}
		if l := logWake.Load(); l != nil {
			l.Wake()
		}
	}
	var (
		led    node.Ledger
		origin = cfg.LedgerName
	)
	queue := cfg.Queue
	switch cfg.Ledger {
	case block.KindFabric:
		// Fabric is remote: queue submissions durably in the node so a
		// slow or unreachable network is answered 202, never lost.
		queue = true
		fl, err := fabric.Open(fabric.Config{Profile: cfg.FabricConfig, Org: cfg.FabricOrg, Logger: logger,
			OnBatch: onBlock, OnTx: onTx, OnCorrupted: metrics.ObserveCorrupted})
		if err != nil {
			return err
		}
		led, origin = fl, fl.Name()
	default:
		el, err := embedded.Open(db, embedded.Config{
			Name: cfg.LedgerName, Key: key, Dir: filepath.Join(cfg.Data, "blocks"), MaxRecords: cfg.BlockMaxRecords, MaxWait: cfg.BlockMaxWait,
			Logger: logger, OnBlock: onBlock, OnCorrupted: metrics.ObserveCorrupted, CheckSpace: space.Check, OnSeal: onSeal,
			OnLeaves: func(n uint64, leaves [][]byte) {
				if l := logWake.Load(); l != nil {
					l.Offer(n, leaves)
				}
			},
		})
		if err != nil {
			return err
		}
		led = el
	}
	defer led.Close()
	var translog *tlog.Log
	if cfg.Tlog {
		if translog, err = openLog(cfg, db, led, origin, reg, logger, stdout); err != nil {
			return err
		}
		defer translog.Close()
		logWake.Store(translog)
	}
	info, err := led.Info(ctx)
	if err != nil {
		logger.Warn("ledger not reachable yet (submissions are queued)", "err", err)
	}
	metrics.SetHeight(info.Height)
	plats, err := platform.Open(cfg.Data, platform.WithLogger(logger))
	if err != nil {
		return err
	}
	defer plats.Close()
	// Submitted PDFs are inspected in a child process of this binary,
	// bounded in time and memory.
	inspection := pdf.InspectorConfig{}
	if exe, err := os.Executable(); err == nil {
		inspection.Command = []string{exe, "inspect-pdf"}
	}
	svc, err := node.NewService(node.Config{Ledger: led, DB: db, Platforms: plats, Metrics: metrics, Logger: logger,
		Queue: queue, CommitWait: cfg.CommitWait, SigningKey: key, SigningChain: chain, Inspection: inspection,
		Space: space, Timestamps: timestamps, Log: logOf(translog)})
	if err != nil {
		return err
	}
	defer svc.Close()

	if cfg.DebugListen != "" {
		dl, err := net.Listen("tcp", cfg.DebugListen)
		if err != nil {
			return fmt.Errorf("--debug-listen: %w", err)
		}
		defer dl.Close()
		go http.Serve(dl, http.DefaultServeMux) // net/http/pprof registers on the default mux
		fmt.Fprintf(stdout, "profiling on http://%s/debug/pprof/\n", dl.Addr())
	}
	// TLS, if configured: the certificate is read again on SIGHUP (a
	// renewal needs no restart); HTTP/1.1 only (fasthttp has no HTTP/2).
	scheme := "http"
	var tlsCert *web.Certificate
	if cfg.TLSCert != "" {
		if tlsCert, err = web.LoadCertificate(cfg.TLSCert, cfg.TLSKey); err != nil {
			return fmt.Errorf("--tls-cert: %w", err)
		}
		scheme = "https"
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if tlsCert == nil {
					logger.Info("SIGHUP: nothing to reload (no --tls-cert)")
				} else if err := tlsCert.Reload(); err != nil {
					logger.Error("SIGHUP: the TLS certificate could not be read again; still serving the one read before", "err", err)
				} else {
					logger.Info("SIGHUP: TLS certificate reloaded", "subject", tlsCert.Subject(), "not_after", tlsCert.NotAfter())
				}
			}
		}
	}()
	listen := func(addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil || tlsCert == nil {
			return l, err
		}
		return tls.NewListener(l, tlsCert.TLSConfig()), nil
	}
	if cfg.AdminListen != "" {
		tok, created, err := node.LoadOrCreateToken(filepath.Join(cfg.Data, "admin-token"))
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(stdout, "created the admin token %s\n", filepath.Join(cfg.Data, "admin-token"))
		}
		al, err := listen(cfg.AdminListen)
		if err != nil {
			return fmt.Errorf("--admin-listen: %w", err)
		}
		adm := &http.Server{ReadHeaderTimeout: 10 * time.Second, ErrorLog: logging.Std(logger), Handler: web.NewAdmin(web.AdminConfig{
			Token: tok, Registry: reg, Logger: logger,
			Backup: func(_ context.Context, w io.Writer, base *backup.Info) (backup.Info, error) {
				return backup.Write(w, backup.Options{DB: db, DataDir: cfg.Data, Base: base, Track: backup.DeletedPrefixes()})
			}})}
		go adm.Serve(al)
		defer adm.Close()
		fmt.Fprintf(stdout, "admin on %s://%s\n", scheme, al.Addr())
	}
	ln, err := listen(cfg.Listen)
	if err != nil {
		return err
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		if ta, ok := ln.Addr().(*net.TCPAddr); ok && ta.IP.IsLoopback() {
			publicURL = scheme + "://" + ln.Addr().String()
		} else {
			logger.Warn("no --public-url on a non-loopback listener: certificates and packages are refused until one is set (their links must not come from request headers)")
		}
	}
	proxies, _ := web.ParseProxies(cfg.TrustedProxy) // checked by Validate
	var weblog web.TransparencyLog
	if translog != nil {
		weblog = translog
	}
	app := web.New(web.Config{Service: svc, Log: weblog, MaxUpload: cfg.MaxUpload, MaxPublicUpload: cfg.MaxPublicUpload,
		PublicURL: publicURL, TrustedProxies: proxies, Registry: reg, NoMetrics: cfg.MetricsListen != "", Logger: logger,
		Limits: web.Limits{Public: cfg.RatePublic, Render: cfg.RateRender, Platform: cfg.RatePlatform}})
	if cfg.MetricsListen != "" {
		ml, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("--metrics-listen: %w", err)
		}
		defer ml.Close()
		go http.Serve(ml, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		fmt.Fprintf(stdout, "metrics on http://%s/metrics\n", ml.Addr())
	}
	fmt.Fprintf(stdout, "ledger %q (%s), height %d, data in %s\n", info.Name, cfg.Ledger, info.Height, cfg.Data)
	if len(plats.List()) == 0 {
		fmt.Fprintf(stdout, "no platforms yet: create an API key with\n  evidencectl platform add NAME --data %s\n", cfg.Data)
	}
	fmt.Fprintf(stdout, "public URL %s\n", cmp.Or(publicURL, "(none: certificates refused)"))
	fmt.Fprintf(stdout, "listening on %s://%s\n", scheme, ln.Addr())

	err = web.Serve(ctx, app, ln, 10*time.Second, logger)
	logger.Info("stopped")
	return err
}

// logOf is the node.TransparencyLog of l (nil without one).
func logOf(l *tlog.Log) node.TransparencyLog {
	if l == nil {
		return nil
	}
	return l
}

// witnesses parses --witness.
func (c Config) witnesses() ([]tlog.Witness, error) {
	var out []tlog.Witness
	seen := map[string]bool{}
	for _, s := range c.Witness.List() {
		w, err := tlog.ParseWitness(s)
		if err != nil {
			return nil, fmt.Errorf("--witness: %v", err)
		}
		if seen[w.Name] {
			return nil, fmt.Errorf("--witness: %s is given twice", w.Name)
		}
		seen[w.Name] = true
		out = append(out, w)
	}
	if len(out) > 0 && !c.Tlog {
		return nil, errors.New("--witness needs the transparency log (--tlog)")
	}
	return out, nil
}

// openLog opens the transparency log of the ledger, its key DATA/tlog-key
// (created on first start, its verifier key beside it in tlog-key.pub),
// and starts it following the ledger (a new log back-fills it).
func openLog(cfg Config, db *store.DB, led node.Ledger, origin string, reg prometheus.Registerer, logger *slog.Logger, stdout io.Writer) (*tlog.Log, error) {
	keyPath := filepath.Join(cfg.Data, tlog.KeyFile)
	key, created, err := tlog.LoadOrCreateKey(keyPath, origin)
	if err != nil {
		return nil, err
	}
	if created {
		fmt.Fprintf(stdout, "created transparency log key %s\n", keyPath)
	}
	// After a key rotation, the old key signs beside the new one until
	// it is retired (evidencectl key retire --which checkpoint).
	prev, err := tlog.LoadPreviousKey(keyPath, origin)
	if err != nil {
		return nil, err
	}
	ws, _ := cfg.witnesses() // checked by Validate
	l, err := tlog.Open(tlog.Config{DB: db, Hashes: filepath.Join(cfg.Data, tlog.HashesFile), Origin: origin, Key: key, Previous: prev, Source: tlog.LedgerSource(led), Witnesses: ws, WitnessInterval: cfg.WitnessInterval, Registerer: reg, Logger: logger})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "transparency log %q, verifier key %s\n", origin, key.VerifierKey)
	for _, k := range l.SigningKeys()[1:] {
		fmt.Fprintf(stdout, "  the rotated-away key %s signs beside it until it is retired (evidencectl key retire --which checkpoint)\n", k)
	}
	return l, nil
}

// openStamper starts the trusted-timestamp fetchers of --tsa (nil
// without).
func openStamper(cfg Config, db *store.DB, reg prometheus.Registerer, logger *slog.Logger) (*tsa.Stamper, error) {
	if cfg.TSA == "" {
		return nil, nil
	}
	b, err := os.ReadFile(cfg.TSARoots)
	if err != nil {
		return nil, fmt.Errorf("--tsa-roots: %w", err)
	}
	roots, err := tsa.ParseRoots(b)
	if err != nil {
		return nil, fmt.Errorf("--tsa-roots %s: %w", cfg.TSARoots, err)
	}
	return tsa.Open(tsa.Config{DB: db, TSAs: cfg.TSA.List(), Roots: roots, Registerer: reg, Logger: logger})
}
