package main

// Node-level acceptance tests on a real Hyperledger Fabric network (issue
// 3): the real evidenced and evidencectl binaries against real orderers and
// peers started by the network/ scripts, checked independently of the node
// with `peer channel fetch` and a bare Fabric Gateway client.
//
//	EVIDENCE_FABRIC_NETWORK=1 go test ./cmd/evidenced/ -run Fabric -v
//
// Each test starts its own network on its own ports (node/fabric's tests use
// 29000–29079) and stops it when it ends. Without EVIDENCE_FABRIC_NETWORK=1
// (or EVIDENCE_FABRIC_CONFIG naming a running network; the fault tests need
// a network they started) they skip.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/evidence-node/evidence-node/node/fabric"
	"github.com/evidence-node/evidence-node/node/fabric/fabrictest"
	"github.com/evidence-node/evidence-node/node/pdf/pdftest"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// Base ports of the networks this file starts (a network uses base …
// base+79; node/fabric's tests use 29000). Keep them at 27000 or above:
// the TSAs and witnesses of the tests draw their ports from 20000–26999
// (toolproc.FreePort).
const (
	fabricNodePort  = 29100
	fabricFaultPort = 29200
	fabricBFTPort   = 29300
)

// fabricEnv is a started network and what the tests check the node
// against, obtained without the node: the channel's trust roots from the
// genesis block fetched with `peer channel fetch 0`, and bare Gateway
// clients of both organisations on the evidence chaincode.
type fabricEnv struct {
	net     *fabrictest.Network
	profile fabric.Profile
	roots   block.TrustRoots
	cc      *client.Contract // as the platform organisation, through its peer
	ccCourt *client.Contract // as the court, through its peer
	tmp     string
}

// startFabric starts a network on basePort (stopped in t.Cleanup), or
// skips the test when no network is asked for.
func startFabric(t *testing.T, basePort int) *fabricEnv {
	return startFabricConsensus(t, basePort, "")
}

// startFabricConsensus is startFabric with the network's consensus ("raft"
// or "bft"; empty: EVIDENCE_FABRIC_CONSENSUS, or a running network's). A
// consensus named here needs EVIDENCE_FABRIC_NETWORK=1 (a started network).
func startFabricConsensus(t *testing.T, basePort int, consensus string) *fabricEnv {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var n *fabrictest.Network
	var err error
	switch {
	case consensus == "":
		n, err = fabrictest.Start(ctx, basePort, t.Logf)
	case os.Getenv(fabrictest.EnvNetwork) != "1":
		err = fabrictest.ErrNoNetwork
	default:
		n, err = fabrictest.StartConsensus(ctx, basePort, consensus, t.Logf)
	}
	if errors.Is(err, fabrictest.ErrNoNetwork) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Errorf("stop the Fabric network: %v", err)
		}
	})
	if n.Dir == "" {
		t.Skip("peer channel fetch needs the network's run folder")
	}
	e := &fabricEnv{net: n, tmp: t.TempDir()}
	if e.profile, err = fabric.LoadProfile(n.Profile); err != nil {
		t.Fatal(err)
	}
	genesis := e.fetch(t, "peer0.court", "0")
	f, err := fabricblock.RootsFromConfigBlock(genesis, n.Chaincode)
	if err != nil {
		t.Fatal(err)
	}
	e.roots = block.TrustRoots{Ledger: e.profile.Channel + "/" + n.Chaincode, Kind: "fabric", Fabric: &f}
	e.cc = bareContract(t, e.profile, n.Chaincode, "platform")
	e.ccCourt = bareContract(t, e.profile, n.Chaincode, "court")
	t.Logf("Fabric network on base port %d ready in %v (%s)", basePort, time.Since(start).Round(time.Millisecond), n.Dir)
	return e
}

var fetchSeq atomic.Int64

// fetch runs `peer channel fetch WHICH` (a block number, "newest",
// "config") as peerName's organisation admin, as an auditor would, and
// returns the block file's bytes.
func (e *fabricEnv) fetch(t *testing.T, peerName, which string) []byte {
	t.Helper()
	out := filepath.Join(e.tmp, fmt.Sprintf("block-%d.pb", fetchSeq.Add(1)))
	script := `source "$1/network/lib.sh"; use_run_dir "$2"; as_admin "$3" "$FABRIC_BIN/peer" channel fetch "$4" "$5" -c "$CHANNEL"`
	cmd := exec.Command("bash", "-c", script, "fetch", e.net.RepoRoot(), e.net.Dir, peerName, which, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("peer channel fetch %s from %s: %v\n%s", which, peerName, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(out)
	return b
}

// script runs a network/ script on the test's network and logs how long
// it took.
// otherEndorsers are the peers of the organisations other than the court,
// whose node the fault tests run: with both down no two organisations can
// endorse (the policy is any two of three), so the node cannot commit.
var otherEndorsers = []string{"peer0.platform", "peer0.notary"}

// stopPeers stops the named nodes, one after the other.
func (e *fabricEnv) stopPeers(t *testing.T, nodes ...string) {
	t.Helper()
	for _, n := range nodes {
		e.script(t, "stop-node", n)
	}
}

// startPeers starts the named nodes, one after the other.
func (e *fabricEnv) startPeers(t *testing.T, nodes ...string) {
	t.Helper()
	for _, n := range nodes {
		e.script(t, "start-node", n)
	}
}

func (e *fabricEnv) script(t *testing.T, name string, args ...string) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.net.Script(ctx, name, args...); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	t.Logf("network/%s %s: %v", name, strings.Join(args, " "), d.Round(time.Millisecond))
	return d
}

// raftLeader returns the orderer that reports itself leader: the Raft
// leader, or on BFT the SmartBFT leader of the latest committed block.
func (e *fabricEnv) raftLeader(t *testing.T) string {
	t.Helper()
	metric := "consensus_etcdraft_is_leader"
	if e.net.Consensus == "bft" {
		metric = "consensus_BFT_is_leader"
	}
	want := fmt.Sprintf("%s{channel=%q} 1", metric, e.profile.Channel)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i, o := range e.net.Orderers() {
			ops := e.net.BasePort + 10*i + 3
			if i == 3 {
				ops = e.net.BasePort + 63 // network/lib.sh: orderer3 at base+60
			}
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", ops))
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if slices.Contains(strings.Split(string(b), "\n"), want) {
				return o
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no %s leader", e.net.Consensus)
	return ""
}

// bareContract connects a bare Fabric Gateway client as org's user.
func bareContract(t *testing.T, p fabric.Profile, chaincode, org string) *client.Contract {
	return fabrictest.Contract(t, p, chaincode, org)
}

// headerHash parses a block as Fabric's protobuf common.Block and returns
// SHA-256 of the ASN.1 DER of its header {number, previous hash, data hash}.
func headerHash(t *testing.T, raw []byte) (uint64, string) {
	t.Helper()
	var b common.Block
	if err := proto.Unmarshal(raw, &b); err != nil || b.Header == nil {
		t.Fatalf("fetched block: %v", err)
	}
	h := block.Header{Number: b.Header.Number, PreviousHash: b.Header.PreviousHash, DataHash: b.Header.DataHash}
	return b.Header.Number, hex.EncodeToString(h.Hash())
}

// startFabricNode starts evidenced on the network as org's node; its log is
// shown if the test fails.
func startFabricNode(t *testing.T, e *fabricEnv, data, addr, org string, extra ...string) *proc {
	t.Helper()
	args := append([]string{"--ledger", "fabric", "--fabric-config", e.net.Profile, "--fabric-org", org}, extra...)
	start := time.Now()
	p := startNode(t, data, addr, args...)
	t.Logf("evidenced (%s, %s) listening on %s after %v", org, filepath.Base(data), p.url, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		stopProc(p)
		if t.Failed() {
			logs := p.logs.String()
			if len(logs) > 8000 {
				logs = "…" + logs[len(logs)-8000:]
			}
			t.Logf("evidenced (%s) log:\n%s", org, logs)
		}
	})
	return p
}

// stopProc stops a node with SIGTERM (SIGKILL after 10 s) unless it has
// exited.
func stopProc(p *proc) {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// postMultipart posts fields (in order) and a file part.
func postMultipart(t *testing.T, url, key string, fields [][2]string, name string, file []byte) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, f := range fields {
		w.WriteField(f[0], f[1])
	}
	fw, _ := w.CreateFormFile("file", name)
	fw.Write(file)
	w.Close()
	req, _ := http.NewRequest("POST", url, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// getReceipt is GET /api/v1/evidence/{id}.
func getReceipt(hc *http.Client, nodeURL, id string) (int, verifier.Receipt, error) {
	var rc verifier.Receipt
	resp, err := hc.Get(nodeURL + "/api/v1/evidence/" + id)
	if err != nil {
		return 0, rc, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, rc, err
	}
	if resp.StatusCode == 200 {
		err = json.Unmarshal(b, &rc)
	}
	return resp.StatusCode, rc, err
}

// waitReceipt polls GET /api/v1/evidence/{id} until it answers 200.
func waitReceipt(t *testing.T, nodeURL, id string, within time.Duration) verifier.Receipt {
	t.Helper()
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: 10 * time.Second}
	for {
		code, rc, err := getReceipt(hc, nodeURL, id)
		if err == nil && code == 200 {
			return rc
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s from %s: %d %v after %v", id, nodeURL, code, err, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// verifyFile is POST /api/v1/verify with a multipart id and file.
func verifyFile(t *testing.T, nodeURL, id string, file []byte) verifier.Verification {
	t.Helper()
	code, b := postMultipart(t, nodeURL+"/api/v1/verify", "", [][2]string{{"id", id}}, "contract.pdf", file)
	var v verifier.Verification
	if code != 200 {
		t.Fatalf("verify %s: %d %s", id, code, b)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("verify %s: %v\n%s", id, err, b)
	}
	return v
}

// checkVerification requires the three checks in order with the given
// results.
func checkVerification(t *testing.T, v verifier.Verification, verdict string, pass ...bool) {
	t.Helper()
	names := []string{verifier.CheckDigestMatch, verifier.CheckOnLedger, verifier.CheckProofIntact}
	if v.Verdict != verdict || len(v.Checks) != 3 {
		t.Fatalf("verification: verdict %q with %d checks, want %q: %+v", v.Verdict, len(v.Checks), verdict, v)
	}
	for i, c := range v.Checks {
		if c.Name != names[i] || c.Pass != pass[i] {
			t.Fatalf("check %d: %s pass=%v (%s), want %s pass=%v", i, c.Name, c.Pass, c.Reason, names[i], pass[i])
		}
	}
}

// checkAgainstFetched fetches block rc.BlockNumber from peerName with peer
// channel fetch and checks the receipt's block hash against its header, and
// the whole receipt against the fetched block and the genesis trust roots.
func (e *fabricEnv) checkAgainstFetched(t *testing.T, peerName string, rcs ...verifier.Receipt) {
	t.Helper()
	raw := e.fetch(t, peerName, strconv.FormatUint(rcs[0].BlockNumber, 10))
	n, h := headerHash(t, raw)
	for _, rc := range rcs {
		if n != rc.BlockNumber || h != rc.BlockHash {
			t.Fatalf("%s: receipt says block %d %s; block fetched from %s is %d %s", rc.ID, rc.BlockNumber, rc.BlockHash, peerName, n, h)
		}
		if _, err := verifier.VerifyFabricBlock(rc.WithoutBlock(), raw, e.roots); err != nil {
			t.Fatalf("%s against block %d fetched from %s: %v", rc.ID, n, peerName, err)
		}
	}
}

// testEndToEnd: a PDF submitted through the API gets a receipt that
// verifies against its block fetched from every peer; the node's block is
// its peer's; the chaincode holds the record; POST /verify checks the file.
func testEndToEnd(t *testing.T, e *fabricEnv) {
	start := time.Now()
	data := t.TempDir()
	key := addPlatform(t, data, "acme-sign")
	p := startFabricNode(t, e, data, "127.0.0.1:0", "court")

	var lv struct {
		Name       string           `json:"name"`
		Kind       string           `json:"kind"`
		Height     uint64           `json:"height"`
		TrustRoots block.TrustRoots `json:"trust_roots"`
	}
	if code := getJSON(t, p.url+"/api/v1/ledger", &lv); code != 200 || lv.Kind != "fabric" || lv.Name != e.roots.Ledger {
		t.Fatalf("GET /ledger: %d %+v", code, lv)
	}

	pdf := pdftest.OnePage("Contract HT-2026-042: 1,000,000.00 CNY")
	t0 := time.Now()
	code, body := postMultipart(t, p.url+"/api/v1/evidence", key, [][2]string{{"doc_ref", "HT-2026-042"}}, "contract.pdf", pdf)
	submitTook := time.Since(t0)
	var rc verifier.Receipt
	switch code {
	case 201:
		if err := json.Unmarshal(body, &rc); err != nil {
			t.Fatal(err)
		}
	case 202:
		var pd struct{ ID string }
		json.Unmarshal(body, &pd)
		t.Logf("submit answered 202 pending after %v; waiting for the receipt", submitTook)
		rc = waitReceipt(t, p.url, pd.ID, 30*time.Second)
	default:
		t.Fatalf("submit: %d %s", code, body)
	}
	sum := sha256.Sum256(pdf)
	if rc.Type != "file" || rc.DigestHex != hex.EncodeToString(sum[:]) || rc.Ledger != e.roots.Ledger || rc.LedgerKind != "fabric" ||
		rc.TxID == "" || rc.BlockNumber == 0 || len(rc.BlockHash) != 64 || rc.LedgerTime == "" || rc.DocRef != "HT-2026-042" {
		t.Fatalf("receipt: %s", body)
	}
	t.Logf("submit %d in %v: %s in block %d (%s), tx %s, ledger time %s", code, submitTook.Round(time.Millisecond), rc.ID, rc.BlockNumber, rc.BlockHash, rc.TxID, rc.LedgerTime)

	// The block, fetched independently from both peers, hashes to the
	// receipt's block hash, and the receipt verifies against it.
	for _, peer := range []string{"peer0.court", "peer0.platform"} {
		e.checkAgainstFetched(t, peer, rc)
	}
	// The node's block is the one its own peer (court) serves.
	var bv struct {
		Hash string `json:"hash"`
		Kind string `json:"kind"`
		Raw  []byte `json:"raw"`
	}
	if code := getJSON(t, fmt.Sprintf("%s/api/v1/blocks/%d", p.url, rc.BlockNumber), &bv); code != 200 || bv.Kind != "fabric" || bv.Hash != rc.BlockHash {
		t.Fatalf("GET /blocks/%d: %d %s %s", rc.BlockNumber, code, bv.Kind, bv.Hash)
	}
	if fetched := e.fetch(t, "peer0.court", strconv.FormatUint(rc.BlockNumber, 10)); !bytes.Equal(fetched, bv.Raw) {
		t.Fatalf("block %d from the node (%d bytes) differs from peer0.court's (%d bytes)", rc.BlockNumber, len(bv.Raw), len(fetched))
	}
	// The chaincode holds the record under its ID, written by the
	// receipt's transaction.
	out, err := e.cc.Evaluate(fabricblock.FnGet, client.WithArguments(rc.ID))
	if err != nil {
		t.Fatal(err)
	}
	if entry, err := fabricblock.ParseEntry(out); err != nil || entry.TxID != rc.TxID || !entry.Holds(rc.Proof.Record) {
		t.Fatalf("chaincode Get(%s) = %s, %v", rc.ID, out, err)
	}

	// Verify the same PDF: three checks pass; a tampered copy fails
	// digest_match only.
	v := verifyFile(t, p.url, rc.ID, pdf)
	checkVerification(t, v, "pass", true, true, true)
	if v.Receipt == nil || v.Receipt.BlockHash != rc.BlockHash {
		t.Fatalf("verification's receipt: %+v", v.Receipt)
	}
	tampered := bytes.Replace(pdf, []byte("1,000,000.00"), []byte("9,000,000.00"), 1)
	v = verifyFile(t, p.url, rc.ID, tampered)
	checkVerification(t, v, "fail", false, true, true)
	if v.Outcome != "mismatch" {
		t.Fatalf("tampered: outcome %q", v.Outcome)
	}
	t.Logf("end to end in %v", time.Since(start).Round(time.Millisecond))
}

// TestFabricNode: evidenced on Fabric, end to end through the API, checked
// against blocks fetched with peer channel fetch; then two nodes of two
// organisations on one channel, which derive the same transparency log.
func TestFabricNode(t *testing.T) {
	e := startFabric(t, fabricNodePort)

	t.Run("EndToEnd", func(t *testing.T) { testEndToEnd(t, e) })

	// Trusted time on Fabric: two real TSAs stamp each batch transaction
	// (its ID and batch root); the receipts, the block and the package
	// carry the tokens; verify-package checks them offline.
	t.Run("TrustedTime", func(t *testing.T) {
		tp := startTSAs(t)
		data, work := t.TempDir(), t.TempDir()
		key := addPlatform(t, data, "acme-sign")
		p := startFabricNode(t, e, data, "127.0.0.1:0", "court", tp.flags()...)
		submit := func(text string) string {
			code, body := postJSON(t, p.url+"/api/v1/evidence", key, map[string]string{"type": "text", "text": text})
			var ack struct{ ID string }
			if json.Unmarshal(body, &ack); code != 201 && code != 202 {
				t.Fatalf("submit: %d %s", code, body)
			}
			return ack.ID
		}
		id, otherID := submit("Fabric contract with trusted time"), submit("another Fabric contract")
		start := time.Now()
		rc := waitTimestamps(t, p.url, id, 2, 60*time.Second)
		other := waitTimestamps(t, p.url, otherID, 2, 60*time.Second)
		t.Logf("both receipts had two trusted timestamps %v after the receipts", time.Since(start).Round(time.Millisecond))
		if rc.TimeSource != verifier.TimeSourceFabricStamped || rc.TxID == other.TxID {
			t.Fatalf("time_source %q; transactions %s, %s", rc.TimeSource, rc.TxID, other.TxID)
		}
		var bv struct {
			Timestamps []struct {
				TxID        string               `json:"tx_id"`
				TrustedTime string               `json:"trusted_time"`
				Timestamps  []verifier.Timestamp `json:"timestamps"`
			} `json:"timestamps"`
		}
		getJSON(t, fmt.Sprintf("%s/api/v1/blocks/%d", p.url, rc.BlockNumber), &bv)
		found := false
		for _, bt := range bv.Timestamps {
			found = found || (bt.TxID == rc.TxID && bt.TrustedTime == verifier.TrustedStamped && len(bt.Timestamps) == 2)
		}
		if !found {
			t.Errorf("GET /blocks/%d does not show the tokens of %s: %+v", rc.BlockNumber, rc.TxID, bv.Timestamps)
		}
		code, b := postJSON(t, p.url+"/api/v1/verify", key, map[string]string{"id": rc.ID, "text": "Fabric contract with trusted time"})
		var vr verifier.Verification
		if json.Unmarshal(b, &vr); code != 200 || vr.Verdict != verifier.VerdictPass || !strings.Contains(vr.Checks[2].Reason, "trusted timestamp") {
			t.Fatalf("verify: %d %s", code, b)
		}
		ledgerFile := filepath.Join(work, "ledger.json")
		os.WriteFile(ledgerFile, []byte(mustGet(t, p.url+"/api/v1/ledger", "")), 0o600)
		pkg := filepath.Join(work, "package.pdf")
		if out, code := ctl(t, []string{"EVIDENCE_NODE=" + p.url}, "package", rc.ID, "-o", pkg); code != 0 {
			t.Fatalf("package: %d %s", code, out)
		}
		out, code := ctl(t, nil, "verify-package", pkg, "--trust", ledgerFile, "--text", "Fabric contract with trusted time")
		if code != 0 || !strings.Contains(out, "2 trusted timestamp(s) (RFC 3161) verify") {
			t.Fatalf("verify-package: %d %s", code, out)
		}
		// The token of the other transaction is not one over this one.
		files := packageFiles(t, pkg)
		r, err := verifier.ParseReceipt(files[evpkg.ReceiptName])
		if err != nil {
			t.Fatal(err)
		}
		r.Timestamps[0] = other.Timestamps[0]
		if _, err := verifier.VerifyFabricBlock(r, files[evpkg.BlockName(block.KindFabric, rc.BlockNumber)], lv(t, ledgerFile)); !errors.Is(err, verifier.ErrTimestampImprint) {
			t.Errorf("a token of another transaction: %v", err)
		}
	})

	t.Run("TwoNodes", func(t *testing.T) {
		start := time.Now()
		dataA, dataB := t.TempDir(), t.TempDir()
		keyA := addPlatform(t, dataA, "court-clerk")
		keyB := addPlatform(t, dataB, "acme-sign")
		a := startFabricNode(t, e, dataA, "127.0.0.1:0", "court")
		b := startFabricNode(t, e, dataB, "127.0.0.1:0", "platform")

		pdf := pdftest.OnePage("Settlement agreement 2026-77")
		code, body := postMultipart(t, a.url+"/api/v1/evidence", keyA, [][2]string{{"metadata", `{"case":"(2026) 京01民初77号"}`}}, "settlement.pdf", pdf)
		if code != 201 && code != 202 {
			t.Fatalf("submit through A: %d %s", code, body)
		}
		var ack struct{ ID string }
		json.Unmarshal(body, &ack)
		rcA := waitReceipt(t, a.url, ack.ID, 30*time.Second)

		same := func(who string, got verifier.Receipt) {
			t.Helper()
			if got.ID != rcA.ID || got.TxID != rcA.TxID || got.BlockNumber != rcA.BlockNumber || got.BlockHash != rcA.BlockHash ||
				got.LedgerTime != rcA.LedgerTime || got.DigestHex != rcA.DigestHex || !bytes.Equal(got.Proof.Record, rcA.Proof.Record) {
				t.Fatalf("%s's receipt differs from A's:\n%+v\n%+v", who, got, rcA)
			}
		}
		// Node B (the other organisation, its own peer and data) finds it
		// and verifies it; a tampered copy fails there too.
		rcB := waitReceipt(t, b.url, rcA.ID, 10*time.Second)
		same("node B", rcB)
		if strings.Contains(mustGet(t, b.url+"/api/v1/evidence/"+rcA.ID, keyB), "京01") {
			t.Fatal("node B shows private metadata that stays with node A")
		}
		checkVerification(t, verifyFile(t, b.url, rcA.ID, pdf), "pass", true, true, true)
		checkVerification(t, verifyFile(t, b.url, rcA.ID, append(slices.Clone(pdf), '\n')), "fail", false, true, true)
		e.checkAgainstFetched(t, "peer0.platform", rcB)

		// And the other way: submitted through B, found through A.
		code, body = postMultipart(t, b.url+"/api/v1/evidence", keyB, nil, "other.pdf", pdftest.OnePage("Loan contract 2026-78"))
		if code != 201 && code != 202 {
			t.Fatalf("submit through B: %d %s", code, body)
		}
		json.Unmarshal(body, &ack)
		fromB := waitReceipt(t, b.url, ack.ID, 30*time.Second)
		if got := waitReceipt(t, a.url, fromB.ID, 10*time.Second); got.BlockHash != fromB.BlockHash || got.TxID != fromB.TxID {
			t.Fatalf("A's receipt of B's record: %+v", got)
		}
		// One log: both nodes derive the same tree from the blocks.
		checkSameLog(t, a, b, []verifier.Receipt{rcA, fromB}, 30*time.Second)

		// B restarted on an empty data directory: it reads the ledger, not
		// a cache of A's (or its own former) data.
		stopProc(b)
		empty := t.TempDir()
		b2 := startFabricNode(t, e, empty, "127.0.0.1:0", "platform")
		for _, rc := range []verifier.Receipt{rcA, fromB} {
			got := waitReceipt(t, b2.url, rc.ID, 10*time.Second)
			if got.BlockHash != rc.BlockHash || got.TxID != rc.TxID || got.LedgerTime != rc.LedgerTime {
				t.Fatalf("empty node B's receipt of %s: %+v", rc.ID, got)
			}
		}
		same("empty node B", waitReceipt(t, b2.url, rcA.ID, 10*time.Second))
		checkVerification(t, verifyFile(t, b2.url, rcA.ID, pdf), "pass", true, true, true)
		checkVerification(t, verifyFile(t, b2.url, rcA.ID, pdf[:len(pdf)-1]), "fail", false, true, true)
		// Its log, computed again from block 0, is A's.
		checkSameLog(t, a, b2, []verifier.Receipt{rcA, fromB}, 30*time.Second)
		t.Logf("two nodes, one ledger: in %v", time.Since(start).Round(time.Millisecond))
	})
}

// mustGet GETs url with an optional API key and returns the body.
func mustGet(t *testing.T, url, key string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// benchRun is evidencectl bench running as a process.
type benchRun struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	record         string
	start          time.Time
}

type benchResult struct {
	Seconds   float64        `json:"seconds"`
	Requests  int64          `json:"requests"`
	Records   int64          `json:"records"`
	Pending   int64          `json:"pending"` // acknowledged 202
	Errors    map[string]int `json:"errors"`
	RecordsPS float64        `json:"records_per_second"`
	P50ms     float64        `json:"p50_ms"`
	P99ms     float64        `json:"p99_ms"`
	Maxms     float64        `json:"max_ms"`
}

// startBench runs the load generator against nodeURL, recording every
// acknowledgement (201: the receipt; 202: the ID) to record; extra are
// more flags of evidencectl bench.
func startBench(t *testing.T, nodeURL, key string, clients int, d time.Duration, record string, extra ...string) *benchRun {
	t.Helper()
	b := &benchRun{record: record, start: time.Now()}
	b.cmd = exec.Command(filepath.Join(binDir, "evidencectl"), append([]string{"bench", "--node", nodeURL, "--key", key,
		"--clients", strconv.Itoa(clients), "--duration", d.String(), "--record", record, "--json"}, extra...)...)
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if b.cmd.ProcessState == nil {
			b.cmd.Process.Kill()
			b.cmd.Wait()
		}
	})
	return b
}

// stop ends the load before its duration, as an interrupt does: the
// requests in flight are not counted, and wait reads the result. A load
// that already ended is left as it is.
func (b *benchRun) stop(t *testing.T) {
	t.Helper()
	if err := b.cmd.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("stopping the load: %v", err)
	}
}

// acked counts the acknowledgements recorded so far.
func (b *benchRun) acked(t *testing.T) int {
	if _, err := os.Stat(b.record); errors.Is(err, os.ErrNotExist) {
		return 0
	}
	return countLines(t, b.record)
}

func (b *benchRun) wait(t *testing.T) benchResult {
	t.Helper()
	if err := b.cmd.Wait(); err != nil {
		t.Fatalf("bench: %v\n%s%s", err, b.stdout.String(), b.stderr.String())
	}
	var r benchResult
	if err := json.Unmarshal(b.stdout.Bytes(), &r); err != nil {
		t.Fatalf("bench output: %v\n%s", err, b.stdout.String())
	}
	t.Logf("bench: %d records acknowledged (%d of them 202 pending) in %.1fs (%.0f records/s), p50 %.0f ms, p99 %.0f ms, max %.0f ms, errors %v",
		r.Records, r.Pending, r.Seconds, r.RecordsPS, r.P50ms, r.P99ms, r.Maxms, r.Errors)
	return r
}

// ackLine is one line of a bench --record file (client.Ack).
type ackLine struct {
	ID          string `json:"id"`
	TxID        string `json:"tx_id"`
	BlockNumber uint64 `json:"block_number"`
	BlockHash   string `json:"block_hash"`
	LedgerTime  string `json:"ledger_time"`
	DigestHex   string `json:"digest_hex"`
}

// ackReport sums up checkAcks.
type ackReport struct {
	Acked, Committed, Pending int           // lines; with a receipt (201); with only an ID (202)
	OnLedger                  time.Duration // until every acked ID answered 200
	Blocks, Txs               int           // distinct blocks and transactions holding them
	Transient404              int           // 404 answers seen for acked IDs before 200
}

// checkAcks checks every acknowledgement bench recorded: no ID twice;
// every ID answers GET 200 within the deadline (202 pending meanwhile),
// with the 201 receipt it was acknowledged with; the chaincode holds each
// record under its ID, written by the receipt's transaction, and its
// digest under that ID alone; for a sample of blocks, the block fetched
// with peer channel fetch hashes to the receipts' block hash and the
// receipts verify against it. The blocks of sampleIDs are in the sample.
func (e *fabricEnv) checkAcks(t *testing.T, nodeURL, record string, within time.Duration, sampleIDs ...string) ackReport {
	t.Helper()
	f, err := os.Open(record)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var acks []ackLine
	byID := map[string]int{}
	var rep ackReport
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var a ackLine
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil || a.ID == "" {
			t.Fatalf("record line %d %q: %v", len(acks)+1, sc.Text(), err)
		}
		if i, dup := byID[a.ID]; dup {
			if acks[i] != a {
				t.Errorf("ID %s acknowledged twice with different receipts: %+v and %+v", a.ID, acks[i], a)
			} else {
				t.Errorf("ID %s acknowledged twice", a.ID)
			}
			continue
		}
		byID[a.ID] = len(acks)
		acks = append(acks, a)
		if a.BlockHash != "" {
			rep.Committed++
		} else {
			rep.Pending++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	rep.Acked = len(acks)

	// GET every acknowledged ID until it answers 200.
	start := time.Now()
	deadline := start.Add(within)
	rcs := make([]verifier.Receipt, len(acks))
	var (
		next, n404 atomic.Int64
		mu         sync.Mutex
		fails      []string
		wg         sync.WaitGroup
	)
	hc := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(acks) {
					return
				}
				a := acks[i]
				for {
					code, rc, err := getReceipt(hc, nodeURL, a.ID)
					if err == nil && code == 200 {
						rcs[i] = rc
						break
					}
					if code == 404 {
						n404.Add(1)
					}
					if time.Now().After(deadline) {
						mu.Lock()
						fails = append(fails, fmt.Sprintf("%s: %d %v", a.ID, code, err))
						mu.Unlock()
						break
					}
					time.Sleep(250 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	rep.OnLedger = time.Since(start)
	rep.Transient404 = int(n404.Load())
	if len(fails) > 0 {
		sort.Strings(fails)
		t.Fatalf("%d of %d acknowledged records not on the ledger after %v, e.g. %v", len(fails), len(acks), within, fails[:min(5, len(fails))])
	}
	if rep.Transient404 > 0 {
		t.Errorf("acknowledged IDs answered 404 not_found %d times before their receipt", rep.Transient404)
	}

	// The receipt is the one acknowledged (201), for the ID asked.
	blocks := map[uint64][]verifier.Receipt{}
	txs := map[string]bool{}
	for i, a := range acks {
		rc := rcs[i]
		if rc.ID != a.ID || rc.LedgerKind != "fabric" || rc.Ledger != e.roots.Ledger {
			t.Fatalf("GET %s: receipt for %s on %s (%s)", a.ID, rc.ID, rc.Ledger, rc.LedgerKind)
		}
		if a.BlockHash != "" && (rc.TxID != a.TxID || rc.BlockNumber != a.BlockNumber || rc.BlockHash != a.BlockHash ||
			rc.LedgerTime != a.LedgerTime || rc.DigestHex != a.DigestHex) {
			t.Fatalf("%s: acknowledged with block %d %s tx %s, now block %d %s tx %s", a.ID, a.BlockNumber, a.BlockHash, a.TxID, rc.BlockNumber, rc.BlockHash, rc.TxID)
		}
		blocks[rc.BlockNumber] = append(blocks[rc.BlockNumber], rc)
		txs[rc.TxID] = true
	}
	rep.Blocks, rep.Txs = len(blocks), len(txs)

	// Exactly once on the ledger: each ID's entry names the receipt's
	// transaction, and each digest (bench sends every digest once) is
	// held under that one ID.
	type job struct{ lo, hi int }
	jobs := make(chan job)
	var cfails atomic.Int64
	var firstErr atomic.Value
	fail := func(format string, args ...any) {
		if cfails.Add(1) == 1 {
			firstErr.Store(fmt.Sprintf(format, args...))
		}
	}
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ids := make([]string, 0, j.hi-j.lo)
				for _, rc := range rcs[j.lo:j.hi] {
					ids = append(ids, rc.ID)
				}
				out, err := e.cc.Evaluate(fabricblock.FnLookup, client.WithArguments(strings.Join(ids, "\n")))
				if err != nil {
					fail("Lookup: %v", err)
					continue
				}
				var entries []*fabricblock.Entry
				if err := json.Unmarshal(out, &entries); err != nil || len(entries) != len(ids) {
					fail("Lookup of %d IDs: %d entries, %v", len(ids), len(entries), err)
					continue
				}
				for k, en := range entries {
					rc := rcs[j.lo+k]
					if en == nil || en.TxID != rc.TxID || !en.Holds(rc.Proof.Record) || uint64(en.Index) != rc.Proof.LeafIndex {
						fail("chaincode entry of %s: %+v, receipt tx %s", rc.ID, en, rc.TxID)
						continue
					}
					out, err := e.cc.Evaluate(fabricblock.FnListByDigest, client.WithArguments(string(rc.Algorithm), rc.DigestHex))
					if err != nil || string(out) != `["`+rc.ID+`"]` {
						fail("ListByDigest(%s %s) = %s, %v; want only %s", rc.Algorithm, rc.DigestHex, out, err, rc.ID)
					}
				}
			}
		}()
	}
	for lo := 0; lo < len(rcs); lo += 200 {
		jobs <- job{lo, min(lo+200, len(rcs))}
	}
	close(jobs)
	wg.Wait()
	if n := cfails.Load(); n > 0 {
		t.Fatalf("%d chaincode checks failed, first: %v", n, firstErr.Load())
	}

	// A sample of blocks, fetched with peer channel fetch from either peer:
	// the first, middle and last blocks, the first block holding a record
	// acknowledged 202, and the blocks of sampleIDs.
	nums := make([]uint64, 0, len(blocks))
	for n := range blocks {
		nums = append(nums, n)
	}
	slices.Sort(nums)
	sample := []uint64{nums[0], nums[len(nums)/2], nums[len(nums)-1]}
	for i, a := range acks {
		if a.BlockHash == "" {
			sample = append(sample, rcs[i].BlockNumber)
			break
		}
	}
	for _, id := range sampleIDs {
		i, ok := byID[id]
		if !ok {
			t.Fatalf("sample %s was not acknowledged", id)
		}
		sample = append(sample, rcs[i].BlockNumber)
	}
	slices.Sort(sample)
	sample = slices.Compact(sample)
	for i, n := range sample {
		in := blocks[n]
		e.checkAgainstFetched(t, e.net.Peers()[i%len(e.net.Peers())], in[:min(3, len(in))]...)
		// Every receipt in the block names the same hash.
		for _, rc := range in {
			if rc.BlockHash != in[0].BlockHash {
				t.Fatalf("block %d: receipts name hashes %s and %s", n, rc.BlockHash, in[0].BlockHash)
			}
		}
	}
	t.Logf("%d acknowledged (%d with a receipt, %d pending): all on the ledger after %v, exactly once, in %d transactions and %d blocks; blocks %v checked against peer channel fetch",
		rep.Acked, rep.Committed, rep.Pending, rep.OnLedger.Round(time.Millisecond), rep.Txs, rep.Blocks, sample)
	return rep
}

// queueDepth reads evidence_queue_pending_submissions from the node's
// metrics.
func queueDepth(t *testing.T, nodeURL string) int {
	t.Helper()
	resp, err := http.Get(nodeURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "evidence_queue_pending_submissions "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int(f)
		}
	}
	return -1
}

// TestFabricFaults runs a bounded load through evidenced on Fabric while
// (a) the Raft leader, one orderer of three, stops; (b) the other
// organisation's peer, whose endorsement is required, stops and restarts;
// (c) evidenced itself is killed with SIGKILL and restarted, once under
// plain load and once with acknowledged records queued in it while the
// endorser is down. After each, every acknowledged record (201 or 202) is
// on the ledger exactly once.
func TestFabricFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("Fabric fault tests")
	}
	e := startFabric(t, fabricFaultPort)
	if !e.net.Owned() {
		t.Skip("stops Fabric nodes: only on a network the test started")
	}
	const clients = 16
	load := 15 * time.Second

	// onlyPending requires the load generator to have met no error but
	// 202 answers (allowed lists further error codes).
	onlyPending := func(t *testing.T, r benchResult, rep ackReport, allowed ...string) {
		t.Helper()
		for k, n := range r.Errors {
			if !slices.Contains(allowed, k) {
				t.Errorf("load generator: %d errors %q (all: %v)", n, k, r.Errors)
			}
		}
		if int64(rep.Pending) != r.Pending || int64(rep.Acked) != r.Records {
			t.Errorf("bench counted %d acknowledgements (%d pending), its record file %d (%d pending)", r.Records, r.Pending, rep.Acked, rep.Pending)
		}
	}

	t.Run("OrdererDown", func(t *testing.T) {
		start := time.Now()
		data := t.TempDir()
		key := addPlatform(t, data, "load-a")
		p := startFabricNode(t, e, data, "127.0.0.1:0", "court")
		rec := filepath.Join(t.TempDir(), "acks.jsonl")
		b := startBench(t, p.url, key, clients, load, rec)
		time.Sleep(4 * time.Second)
		leader := e.raftLeader(t)
		before := b.acked(t)
		e.script(t, "stop-node", leader)
		stopped := time.Now()
		time.Sleep(7 * time.Second)
		outage := time.Since(stopped)
		after := b.acked(t)
		e.script(t, "start-node", leader)
		r := b.wait(t)
		ok201, ok202 := ackCounts(t, rec, before, after)
		t.Logf("in the first 4 s: %d acknowledgements; with %s (the Raft leader) down for %v: %d with a receipt, %d pending (%.0f/s)",
			before, leader, outage.Round(time.Millisecond), ok201, ok202, float64(ok201+ok202)/outage.Seconds())
		if ok201 < 2*clients {
			t.Errorf("the load did not go on with one orderer of three down: %d receipts, %d pending in %v", ok201, ok202, outage.Round(time.Millisecond))
		}
		// A transaction the stopped leader had accepted but not ordered
		// is lost; the node learns it only when its wait for the commit
		// status times out (a minute), then the queue resubmits it. Hence
		// the long deadline; see docs/fabric.md.
		rep := e.checkAcks(t, p.url, rec, 120*time.Second)
		onlyPending(t, r, rep)
		if rep.OnLedger > 30*time.Second {
			t.Logf("records acknowledged 202 took %v to reach the ledger: a transaction the stopped leader had accepted was lost, and the node resubmits it only when its one-minute append times out (docs/fabric.md)", rep.OnLedger.Round(time.Second))
		}
		if rep.Acked < 10*clients {
			t.Errorf("load too small to mean anything: %d acknowledgements", rep.Acked)
		}
		t.Logf("orderer down: %v in all", time.Since(start).Round(time.Millisecond))
	})

	t.Run("EndorserDown", func(t *testing.T) {
		start := time.Now()
		data := t.TempDir()
		key := addPlatform(t, data, "load-b")
		p := startFabricNode(t, e, data, "127.0.0.1:0", "court")
		rec := filepath.Join(t.TempDir(), "acks.jsonl")
		b := startBench(t, p.url, key, clients, load, rec)
		time.Sleep(3 * time.Second)
		before := b.acked(t)
		if before == 0 {
			t.Fatal("no acknowledgements before the peer stopped")
		}
		var early ackLine
		json.Unmarshal(firstLine(t, rec), &early)
		e.stopPeers(t, otherEndorsers...)
		stopped := time.Now()
		time.Sleep(7 * time.Second)
		outage := time.Since(stopped)
		after := b.acked(t)
		depth := queueDepth(t, p.url)
		// Reads go on through the node's own peer; a queued record says
		// pending.
		if code, _, err := getReceipt(http.DefaultClient, p.url, early.ID); code != 200 {
			t.Errorf("GET of a committed record with the other peer down: %d %v", code, err)
		}
		pendingID := lastPendingID(t, rec, before)
		firstPending := firstPendingID(t, rec, before)
		if pendingID != "" {
			if code, _, err := getReceipt(http.DefaultClient, p.url, pendingID); code != 202 {
				t.Errorf("GET of a queued record with the endorser down: %d %v, want 202", code, err)
			}
		}
		e.startPeers(t, otherEndorsers...)
		restarted := time.Now()
		// When does the node commit again (a new submission gets a
		// receipt, or the first record queued in the outage, drained
		// first, is on the ledger), and when is its queue empty?
		var back, drained time.Duration
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && (back == 0 || drained == 0); time.Sleep(100 * time.Millisecond) {
			if back == 0 {
				c, _ := ackCounts(t, rec, after, -1)
				if code, _, _ := getReceipt(http.DefaultClient, p.url, firstPending); c > 0 || code == 200 {
					back = time.Since(restarted)
				}
			}
			if drained == 0 && back != 0 && queueDepth(t, p.url) == 0 {
				drained = time.Since(restarted)
			}
		}
		r := b.wait(t)
		ok201, ok202 := ackCounts(t, rec, before, after)
		t.Logf("with peer0.platform and peer0.notary down for %v: %d acknowledged 202 pending, %d with a receipt; queue depth %d submissions; after the restart: first receipt in %v, queue empty in %v",
			outage.Round(time.Millisecond), ok202, ok201, depth, back.Round(time.Millisecond), drained.Round(time.Millisecond))
		if ok202 < clients || pendingID == "" {
			t.Errorf("the node did not keep accepting with 202 pending: %d pending, %d with a receipt during the outage", ok202, ok201)
		}
		rep := e.checkAcks(t, p.url, rec, 90*time.Second, pendingID)
		onlyPending(t, r, rep)
		t.Logf("every acknowledged record on the ledger %v after the peer restarted", time.Since(restarted).Round(time.Millisecond))
		for deadline := time.Now().Add(20 * time.Second); queueDepth(t, p.url) != 0 && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
		}
		if d := queueDepth(t, p.url); d != 0 {
			t.Errorf("queue depth %d after every record is on the ledger", d)
		}
		t.Logf("endorser down: %v in all", time.Since(start).Round(time.Millisecond))
	})

	t.Run("Kill9", func(t *testing.T) {
		start := time.Now()
		data := t.TempDir()
		key := addPlatform(t, data, "load-c")
		// A commit wait shorter than Fabric's commit latency (~150 ms):
		// many submissions are acknowledged 202 while their transaction
		// is in flight, and the kill may find some not yet on the ledger.
		// (Kill9Queued makes sure of that.)
		extra := []string{"--commit-wait", "100ms"}
		p := startFabricNode(t, e, data, "127.0.0.1:0", "court", extra...)
		addr := strings.TrimPrefix(p.url, "http://")
		rec := filepath.Join(t.TempDir(), "acks.jsonl")
		b := startBench(t, p.url, key, clients, load, rec)
		time.Sleep(6 * time.Second)
		p.kill9(t)
		killedAt := b.acked(t)
		// Which acknowledged records are not on the ledger? (Read from
		// the chaincode, once the transactions in flight had time to
		// commit.) Only the killed node's queue holds them.
		time.Sleep(500 * time.Millisecond)
		queued := e.notOnLedger(t, ackIDs(t, rec, killedAt))
		restart := time.Now()
		p2 := startFabricNode(t, e, data, addr, "court", extra...)
		restarted := time.Since(restart)
		r := b.wait(t)
		ok201, ok202 := ackCounts(t, rec, 0, killedAt)
		t.Logf("kill -9 after %d acknowledgements (%d with a receipt, %d pending), %d of them not on the ledger; restarted in %v",
			killedAt, ok201, ok202, len(queued), restarted.Round(time.Millisecond))
		rep := e.checkAcks(t, p2.url, rec, 90*time.Second, queued[:min(2, len(queued))]...)
		onlyPending(t, r, rep, "connection")
		if killedAt < 10*clients || rep.Acked <= killedAt {
			t.Errorf("load too small to mean anything: %d acknowledgements before the kill, %d in all", killedAt, rep.Acked)
		}
		t.Logf("kill -9: %v in all", time.Since(start).Round(time.Millisecond))
	})

	// Kill9Queued: kill -9 while acknowledged records wait in the node's
	// queue because the endorser is down; the node restarts while it still
	// cannot commit, then the endorser comes back and the queue drains.
	t.Run("Kill9Queued", func(t *testing.T) {
		start := time.Now()
		data := t.TempDir()
		key := addPlatform(t, data, "load-d")
		p := startFabricNode(t, e, data, "127.0.0.1:0", "court")
		addr := strings.TrimPrefix(p.url, "http://")
		rec := filepath.Join(t.TempDir(), "acks.jsonl")
		b := startBench(t, p.url, key, clients, 14*time.Second, rec)
		time.Sleep(2 * time.Second)
		e.stopPeers(t, otherEndorsers...)
		time.Sleep(4 * time.Second)
		p.kill9(t)
		killedAt := b.acked(t)
		queued := e.notOnLedger(t, ackIDs(t, rec, killedAt))
		p2 := startFabricNode(t, e, data, addr, "court")
		time.Sleep(2 * time.Second)
		e.startPeers(t, otherEndorsers...)
		restarted := time.Now()
		r := b.wait(t)
		ok201, ok202 := ackCounts(t, rec, 0, killedAt)
		t.Logf("kill -9 with the endorser down after %d acknowledgements (%d with a receipt, %d pending), %d of them not on the ledger", killedAt, ok201, ok202, len(queued))
		if len(queued) < clients {
			t.Errorf("only %d acknowledged records were queued at the kill", len(queued))
		}
		rep := e.checkAcks(t, p2.url, rec, 90*time.Second, queued[:min(2, len(queued))]...)
		onlyPending(t, r, rep, "connection")
		t.Logf("every acknowledged record on the ledger %v after the endorser restarted; kill -9 with a queue: %v in all",
			time.Since(restarted).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	})
}

func firstLine(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, _, _ := bytes.Cut(b, []byte("\n"))
	return l
}

// firstPendingID returns the first ID acknowledged 202 after line skip.
func firstPendingID(t *testing.T, path string, skip int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for _, l := range lines[min(skip, len(lines)):] {
		var a ackLine
		if json.Unmarshal(l, &a) == nil && a.BlockHash == "" && a.ID != "" {
			return a.ID
		}
	}
	return ""
}

// lastPendingID returns the last ID acknowledged 202 after line skip.
func lastPendingID(t *testing.T, path string, skip int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	for i := len(lines) - 1; i >= skip && i >= 0; i-- {
		var a ackLine
		if json.Unmarshal(lines[i], &a) == nil && a.BlockHash == "" && a.ID != "" {
			return a.ID
		}
	}
	return ""
}

// ackCounts counts the acknowledgements recorded in lines [from, to) of a
// record file: with a receipt (201) and pending (202). to < 0: to the end.
func ackCounts(t *testing.T, path string, from, to int) (committed, pending int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(b, []byte("\n"))
	lines = lines[:len(lines)-1] // the last line ends with \n, or is partial
	if to < 0 || to > len(lines) {
		to = len(lines)
	}
	for _, l := range lines[min(from, to):to] {
		var a ackLine
		if err := json.Unmarshal(l, &a); err != nil {
			t.Fatalf("record line %q: %v", l, err)
		}
		if a.BlockHash != "" {
			committed++
		} else {
			pending++
		}
	}
	return committed, pending
}

// ackIDs returns the IDs in the first n lines of a record file.
func ackIDs(t *testing.T, path string, n int) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range bytes.Split(b, []byte("\n"))[:n] {
		var a ackLine
		if err := json.Unmarshal(l, &a); err != nil {
			t.Fatalf("record line %q: %v", l, err)
		}
		ids = append(ids, a.ID)
	}
	return ids
}

// notOnLedger returns the IDs the chaincode holds no record under (read
// through the court's peer).
func (e *fabricEnv) notOnLedger(t *testing.T, ids []string) []string {
	t.Helper()
	var missing []string
	for lo := 0; lo < len(ids); lo += 200 {
		chunk := ids[lo:min(lo+200, len(ids))]
		out, err := e.ccCourt.Evaluate(fabricblock.FnLookup, client.WithArguments(strings.Join(chunk, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		var entries []*fabricblock.Entry
		if err := json.Unmarshal(out, &entries); err != nil || len(entries) != len(chunk) {
			t.Fatalf("Lookup of %d IDs: %d entries, %v", len(chunk), len(entries), err)
		}
		for i, en := range entries {
			if en == nil {
				missing = append(missing, chunk[i])
			}
		}
	}
	return missing
}

// lv reads the trust roots of a GET /api/v1/ledger answer.
func lv(t *testing.T, path string) block.TrustRoots {
	t.Helper()
	var v struct {
		TrustRoots block.TrustRoots `json:"trust_roots"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.TrustRoots
}
