package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/tsa/tsatest"
)

// plannedMetrics are named by the dashboard and the alert rules before
// the node exports them (none now; a panel or rule naming one must say
// "planned").
var plannedMetrics = map[string]bool{}

// fromPrometheus are series Prometheus makes itself, not the node.
var fromPrometheus = map[string]bool{"up": true}

var metricName = regexp.MustCompile(`\b(?:evidence|go|process)_[a-z0-9_]+\b|\bup\b`)

// exported scrapes the node's /metrics and returns its metric families
// and their types.
func exported(t *testing.T, url string) map[string]string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = f[3]
		}
	}
	return out
}

// unknownMetrics returns the metric names in expr the node does not
// export (a histogram's _bucket, _sum and _count are its own).
func unknownMetrics(expr string, families map[string]string) []string {
	var out []string
	for _, m := range metricName.FindAllString(expr, -1) {
		if plannedMetrics[m] || fromPrometheus[m] {
			continue
		}
		if _, ok := families[m]; ok {
			continue
		}
		found := false
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(m, suf); ok && (families[base] == "histogram" || families[base] == "summary") {
				found = true
			}
		}
		if !found {
			out = append(out, m)
		}
	}
	return out
}

// grafanaPanel is what the dashboard test reads of a panel.
type grafanaPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// TestOpsDashboardAndAlerts: the Grafana dashboard (docs/ops) loads, its
// panels are well formed and do not overlap, and every metric its queries
// and the alert rules name is one a real node exports on /metrics (after
// the traffic that makes each appear), or a planned one the files say is
// planned. promtool checks and unit-tests the rules (make test).
func TestOpsDashboardAndAlerts(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	data := t.TempDir()
	key := addPlatform(t, data, "ops")
	admin := freePort(t)
	tsa := tsatest.Start(t, tsatest.Options{})
	roots := filepath.Join(t.TempDir(), "tsa-roots.pem")
	if err := os.WriteFile(roots, tsa.CA.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	p := startNode(t, data, "127.0.0.1:0", "--admin-listen", admin, "--rate-public", "1", "--tsa", tsa.URL, "--tsa-roots", roots)
	// Traffic that makes every metric family appear: submissions (a PDF,
	// inspected, timestamped by a real TSA), a verification, a
	// certificate, a backup, a 429.
	pdfBody, ct := multipartFile(nil, "contract.pdf", []byte("%PDF-1.4\n% contract\n%%EOF\n"))
	code, _, body := do(t, "POST", p.url+"/api/v1/evidence", pdfBody, "Content-Type", ct, "Authorization", "Bearer "+key)
	if code != 201 {
		t.Fatalf("submit: %d %s", code, body)
	}
	var rc struct {
		ID        string `json:"id"`
		DigestHex string `json:"digest_hex"`
	}
	json.Unmarshal(body, &rc)
	do(t, "POST", p.url+"/api/v1/verify", fmt.Appendf(nil, `{"id":%q,"algorithm":"sha256","digest":%q}`, rc.ID, rc.DigestHex), "Content-Type", "application/json")
	do(t, "GET", p.url+"/api/v1/evidence/"+rc.ID+"/certificate.pdf", nil)
	runBackup(t, "--node", "http://"+admin, "--token-file", filepath.Join(data, "admin-token"), "-o", filepath.Join(t.TempDir(), "b.tar"))
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); do(t, "GET", p.url+"/api/v1/evidence/"+rc.ID, nil) }()
	}
	wg.Wait()
	families := exported(t, p.url)

	// The dashboard.
	b, err := os.ReadFile(filepath.Join(repoDir(t), "docs", "ops", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title         string         `json:"title"`
		UID           string         `json:"uid"`
		SchemaVersion int            `json:"schemaVersion"`
		Panels        []grafanaPanel `json:"panels"`
		Templating    struct {
			List []struct {
				Name string `json:"name"`
			} `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("the dashboard does not load: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || dash.SchemaVersion < 30 || len(dash.Panels) < 10 || len(dash.Templating.List) != 2 {
		t.Fatalf("dashboard: title %q, uid %q, schema %d, %d panels, %d variables", dash.Title, dash.UID, dash.SchemaVersion, len(dash.Panels), len(dash.Templating.List))
	}
	ids := map[int]bool{}
	type cell struct{ x, y int }
	used := map[cell]string{}
	queries := 0
	for _, pn := range dash.Panels {
		if ids[pn.ID] || pn.Title == "" {
			t.Fatalf("panel %d %q: a duplicate ID or no title", pn.ID, pn.Title)
		}
		ids[pn.ID] = true
		g := pn.GridPos
		if g.W < 1 || g.H < 1 || g.X < 0 || g.X+g.W > 24 || g.Y < 0 {
			t.Fatalf("panel %q: grid position %+v outside the 24-column grid", pn.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := used[cell{x, y}]; ok {
					t.Fatalf("panels %q and %q overlap at %d,%d", other, pn.Title, x, y)
				}
				used[cell{x, y}] = pn.Title
			}
		}
		switch pn.Type {
		case "row":
			continue
		case "timeseries", "stat", "gauge", "bargauge", "table":
		default:
			t.Fatalf("panel %q: type %q", pn.Title, pn.Type)
		}
		if len(pn.Targets) == 0 {
			t.Fatalf("panel %q has no query", pn.Title)
		}
		for _, tg := range pn.Targets {
			queries++
			if tg.RefID == "" || tg.Expr == "" {
				t.Fatalf("panel %q: a target without refId or expr", pn.Title)
			}
			if u := unknownMetrics(tg.Expr, families); len(u) > 0 {
				t.Errorf("panel %q queries %v, which the node does not export: %s", pn.Title, u, tg.Expr)
			}
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				if plannedMetrics[m] && !strings.Contains(pn.Title, "planned") {
					t.Errorf("panel %q queries the planned metric %s without saying it is planned", pn.Title, m)
				}
			}
		}
	}

	// The alert rules: every expr line's metrics.
	rules, err := os.ReadFile(filepath.Join(repoDir(t), "docs", "ops", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	inExpr := false
	for _, line := range strings.Split(string(rules), "\n") {
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, "expr:"):
			inExpr = true
			trim = strings.TrimPrefix(trim, "expr:")
		case strings.HasSuffix(trim, ":") || strings.Contains(trim, ": "):
			inExpr = false
		}
		if !inExpr || strings.HasPrefix(trim, "#") {
			continue
		}
		for _, u := range unknownMetrics(trim, families) {
			t.Errorf("alerts.yml names %s, which the node does not export: %s", u, trim)
		}
		names = append(names, metricName.FindAllString(trim, -1)...)
	}
	for m := range plannedMetrics {
		if !strings.Contains(string(rules), m) || !strings.Contains(string(rules), "planned") {
			t.Errorf("alerts.yml does not name the planned metric %s as planned", m)
		}
	}
	sort.Strings(names)
	t.Logf("dashboard: %d panels, %d queries; alert rules name %d metrics; the node exports %d families", len(dash.Panels), queries, len(names), len(families))
}

// TestLogsAndRequestIDs: with --log-format json every line the node
// writes on stderr is a JSON object; every answer carries an X-Request-ID
// (a sane one from the request, else a new one) and the request's log
// line names it.
func TestLogsAndRequestIDs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	data := t.TempDir()
	p := startNode(t, data, "127.0.0.1:0", "--log-format", "json", "--log-level", "debug")
	get := func(id string) string {
		req, _ := http.NewRequest("GET", p.url+"/api/v1/ledger", nil)
		if id != "" {
			req.Header.Set("X-Request-ID", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get("X-Request-ID")
	}
	if got := get("court-7f3a.1"); got != "court-7f3a.1" {
		t.Fatalf("a sane X-Request-ID came back as %q", got)
	}
	for _, bad := range []string{strings.Repeat("a", 65), "two words", `"quoted"`, "ünïcode"} {
		if got := get(bad); got == bad || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got) {
			t.Fatalf("X-Request-ID %q came back as %q (want a new ID)", bad, got)
		}
	}
	fresh := get("")
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(fresh) {
		t.Fatalf("no X-Request-ID sent: got %q", fresh)
	}
	code, hdr, _ := do(t, "GET", p.url+"/api/v1/evidence/not-an-id", nil, "X-Request-ID", "err-1")
	if code != 400 || hdr.Get("X-Request-ID") != "err-1" {
		t.Fatalf("an error answer: %d, X-Request-ID %q", code, hdr.Get("X-Request-ID"))
	}
	stopProc(p)
	seen := map[string]bool{}
	for i, l := range bytes.Split(bytes.TrimSpace(p.logs.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %d is not JSON: %v: %s", i+1, err, l)
		}
		if m["time"] == nil || m["level"] == nil || m["msg"] == nil {
			t.Fatalf("log line %d lacks time, level or msg: %s", i+1, l)
		}
		if id, ok := m["request_id"].(string); ok {
			seen[id] = true
		}
	}
	for _, id := range []string{"court-7f3a.1", fresh, "err-1"} {
		if !seen[id] {
			t.Errorf("no log line names request %s:\n%s", id, p.logs.String())
		}
	}
}

// writeTLSCert writes a self-signed certificate for 127.0.0.1 and its key
// (PEM) to certFile and keyFile, and returns the certificate.
func writeTLSCert(t *testing.T, certFile, keyFile, name string) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	c, _ := x509.ParseCertificate(der)
	return c
}

// TestTLSReload: with --tls-cert/--tls-key the node serves HTTPS (HTTP/1.1:
// fasthttp speaks no HTTP/2, so a client offering h2 gets HTTP/1.1), and
// on SIGHUP it serves a renewed certificate without a restart; a broken
// one leaves the last good one served.
func TestTLSReload(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	data, dir := t.TempDir(), t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeTLSCert(t, certFile, keyFile, "first")
	p := startNode(t, data, "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(p.url, "https://") {
		t.Fatalf("listening on %s", p.url)
	}
	served := func(trust *x509.Certificate) (*x509.Certificate, string, error) {
		pool := x509.NewCertPool()
		pool.AddCert(trust)
		hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}}}}
		resp, err := hc.Get(p.url + "/readyz")
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.TLS.PeerCertificates[0], resp.Proto, nil
	}
	got, proto, err := served(first)
	if err != nil || !got.Equal(first) || proto != "HTTP/1.1" {
		t.Fatalf("HTTPS: %v, %s, certificate %v", err, proto, got.Subject)
	}
	second := writeTLSCert(t, certFile, keyFile, "second")
	p.cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _, err = served(second)
		if err == nil && got.Equal(second) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after SIGHUP the renewed certificate is not served: %v\n%s", err, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A broken file: the node keeps serving the last good certificate.
	os.WriteFile(certFile, []byte("not a certificate"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.logs.String(), "could not be read again"); {
		if time.Now().After(deadline) {
			t.Fatalf("a broken certificate on SIGHUP was not logged: %s", p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, _, err := served(second); err != nil || !got.Equal(second) {
		t.Fatalf("after a broken reload: %v", err)
	}
}

// TestMetricsListener (issue 10): with --metrics-listen the metrics are
// served there and not on the public listener, where /metrics is an
// unknown path like any other.
func TestMetricsListener(t *testing.T) {
	if testing.Short() {
		t.Skip("integration")
	}
	p := startNode(t, t.TempDir(), "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	var murl string
	for _, l := range p.started {
		if u, ok := strings.CutPrefix(l, "metrics on "); ok {
			murl = u
		}
	}
	if murl == "" {
		t.Fatalf("the node did not say where its metrics are: %q", p.started)
	}
	resp, err := http.Get(murl)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "evidence_ledger_height") {
		t.Fatalf("metrics listener: %d %.300s", resp.StatusCode, b)
	}
	resp, err = http.Get(p.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || strings.Contains(string(b), "evidence_ledger_height") {
		t.Fatalf("/metrics on the public listener with --metrics-listen: %d %.300s", resp.StatusCode, b)
	}
}
