package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/node/tsa"
	"github.com/evidence-node/evidence-node/node/tsa/tsatest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
)

// tsaPair is two real TSAs (Sigstore's timestamp-server) under two CAs,
// and a PEM file of both roots for --tsa-roots.
type tsaPair struct {
	a, b  *tsatest.TSA
	roots string
}

func startTSAs(t *testing.T) tsaPair {
	t.Helper()
	return startTSAsKeys(t, tsatest.RSA2048)
}

// startTSAsKeys is startTSAs with the second TSA's key type (the first
// signs with ECDSA P-256).
func startTSAsKeys(t *testing.T, second tsatest.KeyType) tsaPair {
	t.Helper()
	p := tsaPair{a: tsatest.Start(t, tsatest.Options{}), b: tsatest.Start(t, tsatest.Options{Key: second})}
	p.roots = filepath.Join(t.TempDir(), "tsa-roots.pem")
	if err := os.WriteFile(p.roots, append(append([]byte(nil), p.a.CA.PEM...), p.b.CA.PEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p tsaPair) flags() []string {
	return []string{"--tsa", p.a.URL, "--tsa", p.b.URL, "--tsa-roots", p.roots}
}

// waitTimestamps polls GET /evidence/{id} until the receipt lists n
// tokens (a bound on the test, not a speed assertion).
func waitTimestamps(t *testing.T, nodeURL, id string, n int, within time.Duration) verifier.Receipt {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(within)
	for {
		code, rc, err := getReceipt(hc, nodeURL, id)
		if err == nil && code == 200 && len(rc.Timestamps) >= n {
			return rc
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d trusted timestamps after %v (%d %v, time_source %q)", id, len(rc.Timestamps), n, within, code, err, rc.TimeSource)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// metricSum adds up every sample of a metric of the node, whatever its
// labels, those matching filter (a substring of the label set) only.
func metricSum(t *testing.T, nodeURL, name, filter string) float64 {
	t.Helper()
	resp, err := http.Get(nodeURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	sum := 0.0
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, name+"{") && !strings.HasPrefix(l, name+" ") {
			continue
		}
		if filter != "" && !strings.Contains(l, filter) {
			continue
		}
		f, _ := strconv.ParseFloat(l[strings.LastIndexByte(l, ' ')+1:], 64)
		sum += f
	}
	return sum
}

func postJSON(t *testing.T, url, key string, body any) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

// TestTrustedTime: an embedded node with two real TSAs. Every receipt gets
// a token from each within seconds; blocks and the ledger show them; the
// node's verification and the offline verify-package check them; a
// package whose token is over another hash, from an untrusted TSA, with a
// broken chain or with a gen_time far off fails proof_intact, naming the
// check; the certificate shows 可信时间.
func TestTrustedTime(t *testing.T) {
	tp := startTSAs(t)
	data, work := t.TempDir(), t.TempDir()
	key := addPlatform(t, data, "acme")
	p := startNode(t, data, "127.0.0.1:0", tp.flags()...)
	env := []string{"EVIDENCE_NODE=" + p.url, "EVIDENCE_API_KEY=" + key}

	contract := []byte("%PDF-1.7\n% 采购合同 HT-2026-011, signed\n%%EOF\n")
	contractPath := filepath.Join(work, "contract.pdf")
	os.WriteFile(contractPath, contract, 0o600)
	start := time.Now()
	code, b := postMultipart(t, p.url+"/api/v1/evidence", key, nil, "contract.pdf", contract)
	if code != 201 {
		t.Fatalf("submit: %d %s", code, b)
	}
	var rc verifier.Receipt
	json.Unmarshal(b, &rc)
	if tt := rc.TrustedTime(); tt != verifier.TrustedPending && tt != verifier.TrustedStamped {
		t.Errorf("the submit answer's trusted time is %s (time_source %q)", tt, rc.TimeSource)
	}
	code, b = postJSON(t, p.url+"/api/v1/evidence", key, map[string]string{"type": "text", "text": "another contract"})
	var other verifier.Receipt
	if json.Unmarshal(b, &other); code != 201 || other.BlockNumber == rc.BlockNumber {
		t.Fatalf("second submit: %d, block %d", code, other.BlockNumber)
	}
	var items []map[string]string
	for i := 0; i < 50; i++ {
		d := sha256.Sum256([]byte{'t', byte(i)})
		items = append(items, map[string]string{"type": "file", "algorithm": "sha256", "digest": hex.EncodeToString(d[:])})
	}
	code, b = postJSON(t, p.url+"/api/v1/evidence/batch", key, map[string]any{"items": items})
	var batch struct{ Receipts []verifier.Receipt }
	if json.Unmarshal(b, &batch); code != 201 || len(batch.Receipts) != 50 {
		t.Fatalf("batch: %d %.300s", code, b)
	}
	for _, id := range []string{rc.ID, other.ID, batch.Receipts[0].ID, batch.Receipts[49].ID} {
		got := waitTimestamps(t, p.url, id, 2, 30*time.Second)
		if got.TimeSource != verifier.TimeSourceNodeStamped {
			t.Errorf("%s: time_source %q", id, got.TimeSource)
		}
	}
	t.Logf("every receipt had its two trusted timestamps %v after the first submission", time.Since(start).Round(time.Millisecond))
	rc = waitTimestamps(t, p.url, rc.ID, 2, time.Second)
	other = waitTimestamps(t, p.url, other.ID, 2, time.Second)
	names := rc.Timestamps[0].TSA + "|" + rc.Timestamps[1].TSA
	if !strings.Contains(names, tp.a.Cert.Subject.CommonName) || !strings.Contains(names, tp.b.Cert.Subject.CommonName) {
		t.Errorf("tokens from %s", names)
	}

	// The block and the ledger show them; metrics count them.
	var bv struct {
		Timestamps []struct {
			TrustedTime string               `json:"trusted_time"`
			Timestamps  []verifier.Timestamp `json:"timestamps"`
		} `json:"timestamps"`
	}
	getJSON(t, fmt.Sprintf("%s/api/v1/blocks/%d", p.url, rc.BlockNumber), &bv)
	if len(bv.Timestamps) != 1 || bv.Timestamps[0].TrustedTime != verifier.TrustedStamped || len(bv.Timestamps[0].Timestamps) != 2 {
		t.Errorf("GET /blocks/%d: %+v", rc.BlockNumber, bv.Timestamps)
	}
	ledgerJSON := mustGet(t, p.url+"/api/v1/ledger", "")
	if !strings.Contains(ledgerJSON, `"tsa_roots"`) {
		t.Errorf("GET /ledger lists no tsa_roots: %.400s", ledgerJSON)
	}
	ledgerFile := filepath.Join(work, "ledger.json")
	os.WriteFile(ledgerFile, []byte(ledgerJSON), 0o600)
	for _, u := range []string{tp.a.URL, tp.b.URL} {
		if n := metricSum(t, p.url, "evidence_timestamps_total", u); n < 3 {
			t.Errorf("evidence_timestamps_total{tsa=%q} = %v, want ≥ 3", u, n)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for metricSum(t, p.url, "evidence_timestamps_awaiting", "") != 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := metricSum(t, p.url, "evidence_timestamps_awaiting", ""); n != 0 {
		t.Errorf("evidence_timestamps_awaiting = %v once every token arrived", n)
	}

	// The node's verification checks the tokens.
	v := verifyFile(t, p.url, rc.ID, contract)
	checkVerification(t, v, verifier.VerdictPass, true, true, true)
	if !strings.Contains(v.Checks[2].Reason, "2 trusted timestamp(s) (RFC 3161) verify") || !strings.Contains(v.Checks[2].ReasonZH, "可信时间戳") {
		t.Errorf("proof_intact reason: %s / %s", v.Checks[2].Reason, v.Checks[2].ReasonZH)
	}

	// The package, offline.
	pkg := filepath.Join(work, "package.pdf")
	if out, code := ctl(t, env, "package", rc.ID, "-o", pkg); code != 0 {
		t.Fatalf("package: %d %s", code, out)
	}
	certPath := filepath.Join(work, "certificate.pdf")
	if out, code := ctl(t, env, "package", rc.ID, "--certificate", "-o", certPath); code != 0 {
		t.Fatalf("package --certificate: %d %s", code, out)
	}
	files := packageFiles(t, pkg)
	prc, err := verifier.ParseReceipt(files[evpkg.ReceiptName])
	if err != nil || len(prc.Timestamps) != 2 {
		t.Fatalf("the package's receipt: %v, %d timestamps", err, len(prc.Timestamps))
	}
	if !strings.Contains(string(files[evpkg.TrustRootsName]), `"tsa_roots"`) {
		t.Error("the package's trust roots list no TSA roots")
	}
	msg := verifier.EmbeddedStampMessage(mustHex(t, rc.BlockHash))
	ledgerTime, _ := time.Parse(time.RFC3339Nano, rc.LedgerTime)

	// Tokens a forger might put in: over another block; from a TSA of
	// its own; from a TSA whose certificate claims a trusted root as its
	// issuer (the root's name, another key); from a TSA under a trusted
	// root whose clock says an hour before the block.
	outsider := tsatest.Start(t, tsatest.Options{})
	impostor := tsatest.Start(t, tsatest.Options{CA: impostorCA(t, tp.a.CA)})
	stampWith := func(s *tsatest.TSA) verifier.Timestamp {
		roots, err := verifier.ParseTSARoots([]string{string(s.CA.PEM)})
		if err != nil {
			t.Fatal(err)
		}
		c := tsa.NewClient(s.URL, roots, nil)
		ts, err := c.Stamp(context.Background(), msg)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	withToken := func(ts verifier.Timestamp) func(verifier.Receipt) verifier.Receipt {
		return func(r verifier.Receipt) verifier.Receipt {
			r.Timestamps = []verifier.Timestamp{ts, r.Timestamps[1]}
			return r
		}
	}
	cert, _ := os.ReadFile(certPath)
	repack := func(name string, edit func(verifier.Receipt) verifier.Receipt) string {
		m := map[string][]byte{}
		for k, v := range files {
			m[k] = bytes.Clone(v)
		}
		r, err := verifier.ParseReceipt(m[evpkg.ReceiptName])
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		json.Indent(&out, edit(r).AppendJSON(nil), "", "  ")
		m[evpkg.ReceiptName] = out.Bytes()
		relist(t, m)
		var att []pdf.File
		for k, v := range m {
			att = append(att, pdf.File{Name: k, Data: v})
		}
		doc, err := pdf.AttachFiles(cert, att)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(work, name)
		os.WriteFile(path, doc, 0o600)
		return path
	}
	otherCA := filepath.Join(work, "other-ca.pem")
	os.WriteFile(otherCA, outsider.CA.PEM, 0o600)
	for _, tc := range []struct {
		desc string
		args []string
		code int
		want []string
	}{
		{"the package, pinned roots", []string{pkg, "--trust", ledgerFile, "--file", contractPath}, 0,
			[]string{"PASS", "[pass] proof_intact", "2 trusted timestamp(s) (RFC 3161) verify", "trusted time " + rc.Timestamps[0].GenTime}},
		{"the package, packaged roots", []string{pkg}, 0, []string{"PASS", "trusted timestamp(s)"}},
		{"a token over another block", []string{repack("other-hash.pdf", withToken(other.Timestamps[0])), "--trust", ledgerFile}, 1,
			[]string{"[FAIL] proof_intact", "timestamps.0.token", "message imprint is not the hash"}},
		{"a token from an untrusted TSA", []string{repack("untrusted.pdf", withToken(stampWith(outsider))), "--trust", ledgerFile}, 1,
			[]string{"[FAIL] proof_intact", "timestamps.0.token", "not among the trust roots' TSA roots"}},
		{"a broken chain", []string{repack("broken-chain.pdf", withToken(stampWith(impostor))), "--trust", ledgerFile}, 1,
			[]string{"[FAIL] proof_intact", "timestamps.0.token", "certificate chain does not verify"}},
		{"a gen_time an hour before the block", []string{repack("gen-time.pdf", withToken(backdated(t, tp.a.CA, msg, ledgerTime.Add(-time.Hour)))), "--trust", ledgerFile}, 1,
			[]string{"[FAIL] proof_intact", "timestamps.0.gen_time", "earlier than the ledger time"}},
		{"TSA roots pinned to another CA", []string{pkg, "--tsa-roots", otherCA}, 1,
			[]string{"[FAIL] proof_intact", "not among the trust roots' TSA roots", "TSA roots: pinned"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			out, code := ctl(t, nil, append([]string{"verify-package"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}

	// The certificate shows 可信时间 with both TSAs.
	out, err := exec.Command("pdftotext", "-layout", certPath, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, out)
	}
	for _, w := range []string{"存证时间", "可信时间", "北京时间", tp.a.Cert.Subject.CommonName, tp.b.Cert.Subject.CommonName} {
		if !strings.Contains(string(out), w) {
			t.Errorf("the certificate lacks %q:\n%s", w, out)
		}
	}
}

// impostorCA is a CA with the subject of ca and a key of its own: what
// it issues claims ca as its issuer and does not verify under it.
func impostorCA(t *testing.T, ca *tsatest.CA) *tsatest.CA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := *ca.Cert
	tmpl.SerialNumber = big.NewInt(7)
	tmpl.PublicKey = nil
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &tsatest.CA{Cert: c, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: key}
}

// backdated is a token over message at genTime from a TSA certificate
// issued by ca (a trusted root): a TSA with a wrong clock.
func backdated(t *testing.T, ca *tsatest.CA, message []byte, genTime time.Time) verifier.Timestamp {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "Slow TSA"},
		NotBefore: genTime.Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	h := sha256.Sum256(message)
	ts := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: h[:], Time: genTime, Nonce: big.NewInt(1),
		Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}, AddTSACertificate: true}
	resp, err := ts.CreateResponseWithOpts(cert, key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	return verifier.Timestamp{Kind: verifier.TimestampRFC3161, TSA: "Slow TSA", GenTime: verifier.FormatTime(tok.Time), Token: tok.RawToken}
}

func packageFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	atts, err := pdf.ExtractAttachments(f)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, a := range atts {
		m[a.Name] = a.Data
	}
	return m
}

// relist recomputes the manifest's digests, as a forger would.
func relist(t *testing.T, m map[string][]byte) {
	t.Helper()
	man, err := evpkg.ParseManifest(m[evpkg.ManifestName])
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range man.Files {
		man.Files[i].SHA256, man.Files[i].Size = evpkg.Digest(m[e.Name]), int64(len(m[e.Name]))
	}
	m[evpkg.ManifestName], _ = json.MarshalIndent(man, "", "  ")
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTrustedTimeOutage: one of two TSAs is stopped for 10 s while
// clients submit. No submission waits for it (every one is answered, none
// near the outage's length) and nothing is lost; once it is back, every
// block gets its token. Then a kill -9 with tokens pending: they are
// fetched after the restart. The latency figures are logged (a test
// asserts nothing about speed; see docs/timestamps.md for measurements).
func TestTrustedTimeOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load for half a minute")
	}
	tp := startTSAs(t)
	data := t.TempDir()
	key := addPlatform(t, data, "bench")
	p := startNode(t, data, "127.0.0.1:0", tp.flags()...)

	usual := startBench(t, p.url, key, 8, 8*time.Second, filepath.Join(t.TempDir(), "usual.jsonl")).wait(t)
	rec := filepath.Join(t.TempDir(), "outage.jsonl")
	run := startBench(t, p.url, key, 8, 20*time.Second, rec)
	time.Sleep(5 * time.Second)
	tp.b.Stop()
	stopped := time.Now()
	time.Sleep(10 * time.Second)
	tp.b.Restart(t)
	t.Logf("TSA b was down for %v", time.Since(stopped).Round(time.Millisecond))
	r := run.wait(t)
	t.Logf("submission p99: %.1f ms usually, %.1f ms with one TSA down 10 s of 20 (%.2f×); max %.1f ms and %.1f ms",
		usual.P99ms, r.P99ms, r.P99ms/usual.P99ms, usual.Maxms, r.Maxms)
	if len(r.Errors) > 0 || len(usual.Errors) > 0 {
		t.Fatalf("errors: %v, %v", usual.Errors, r.Errors)
	}
	if r.Maxms >= 10000 {
		t.Errorf("a submission took %.0f ms: it waited for the TSA", r.Maxms)
	}

	// Nothing lost, and every block gets both tokens once b is back.
	f, err := os.Open(rec)
	if err != nil {
		t.Fatal(err)
	}
	var acks []ack
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var a ack
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		acks = append(acks, a)
	}
	f.Close()
	if int64(len(acks)) != r.Records || len(acks) == 0 {
		t.Fatalf("%d acknowledgements recorded, bench counted %d", len(acks), r.Records)
	}
	drained := time.Now()
	deadline := drained.Add(3 * time.Minute)
	for metricSum(t, p.url, "evidence_timestamps_awaiting", "") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%v blocks still await a token after %v", metricSum(t, p.url, "evidence_timestamps_awaiting", ""), time.Since(drained))
		}
		time.Sleep(200 * time.Millisecond)
	}
	blocks := map[uint64]bool{}
	for _, a := range acks {
		blocks[a.BlockNumber] = true
	}
	t.Logf("%d records in %d blocks; the backlog of tokens was fetched %v after the load ended; %v requests to TSA b failed during the outage",
		len(acks), len(blocks), time.Since(drained).Round(time.Millisecond), metricSum(t, p.url, "evidence_timestamp_errors_total", tp.b.URL))
	for n := range blocks {
		var bv struct {
			Timestamps []struct {
				TrustedTime string               `json:"trusted_time"`
				Timestamps  []verifier.Timestamp `json:"timestamps"`
			} `json:"timestamps"`
		}
		if code := getJSON(t, fmt.Sprintf("%s/api/v1/blocks/%d", p.url, n), &bv); code != 200 || len(bv.Timestamps) != 1 || len(bv.Timestamps[0].Timestamps) != 2 {
			t.Fatalf("block %d: %d %+v", n, code, bv.Timestamps)
		}
	}
	for i := 0; i < len(acks); i += max(1, len(acks)/20) {
		waitTimestamps(t, p.url, acks[i].ID, 2, time.Second)
	}

	// kill -9 with tokens pending from b.
	tp.b.Stop()
	var ids []string
	for i := 0; i < 5; i++ {
		code, b := postJSON(t, p.url+"/api/v1/evidence", key, map[string]string{"type": "text", "text": fmt.Sprintf("kill -9 %d", i)})
		var rc verifier.Receipt
		if json.Unmarshal(b, &rc); code != 201 {
			t.Fatalf("submit: %d %s", code, b)
		}
		ids = append(ids, rc.ID)
	}
	for _, id := range ids {
		if rc := waitTimestamps(t, p.url, id, 1, 30*time.Second); len(rc.Timestamps) != 1 {
			t.Fatalf("%s: %d tokens with b down", id, len(rc.Timestamps))
		}
	}
	p.kill9(t)
	tp.b.Restart(t)
	p = startNode(t, data, "127.0.0.1:0", tp.flags()...)
	for _, id := range ids {
		rc := waitTimestamps(t, p.url, id, 2, 30*time.Second)
		names := rc.Timestamps[0].TSA + "|" + rc.Timestamps[1].TSA
		if !strings.Contains(names, tp.b.Cert.Subject.CommonName) {
			t.Errorf("%s after the restart: tokens from %s", id, names)
		}
	}
}
