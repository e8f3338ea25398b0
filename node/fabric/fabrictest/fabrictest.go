// Package fabrictest gives tests a real Fabric network with the evidence
// chaincode deployed: either one already running (EVIDENCE_FABRIC_CONFIG
// names its connection profile) or one it starts with the network/
// scripts on its own ports and run folder, and stops afterwards
// (EVIDENCE_FABRIC_NETWORK=1). With neither set, tests skip.
//
//	EVIDENCE_FABRIC_NETWORK=1 go test ./node/fabric/
//	EVIDENCE_FABRIC_CONFIG=network/.run/default/connection.json go test ./node/fabric/
//
// A started network runs the chaincode server as a real process
// (cmd/evidence-chaincode), as operators do. The Fabric binaries must be
// built before (network/build-fabric; make test does it first): a test
// never builds them under its timeout.
package fabrictest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Environment variables.
const (
	// EnvNetwork = "1" lets tests start (and stop) their own network.
	EnvNetwork = "EVIDENCE_FABRIC_NETWORK"
	// EnvConfig names the connection profile of a running network on
	// which the evidence chaincode is deployed and served.
	EnvConfig = "EVIDENCE_FABRIC_CONFIG"
	// EnvBasePort overrides the base port of a started network.
	EnvBasePort = "EVIDENCE_FABRIC_BASE_PORT"
	// EnvKeep = "1" leaves a started network running (and its run folder)
	// for inspection.
	EnvKeep = "EVIDENCE_FABRIC_KEEP"
	// EnvConsensus is the ordering of a started network: "raft" (the
	// default) or "bft" (network/up --consensus).
	EnvConsensus = "EVIDENCE_FABRIC_CONSENSUS"
	// EnvChaincode names a built chaincode server (cmd/evidence-chaincode)
	// to run; unset, one is built from the checkout.
	EnvChaincode = "EVIDENCE_CHAINCODE_BIN"
)

// ErrNoNetwork means neither EnvNetwork nor EnvConfig is set.
var ErrNoNetwork = errors.New("no Fabric network: set " + EnvNetwork + "=1 to start one, or " + EnvConfig + " to use a running one")

// Network is a Fabric network for tests.
type Network struct {
	// Profile is the connection profile's path.
	Profile string
	// Dir is the run folder (empty if a profile given by EnvConfig is not
	// in one).
	Dir      string
	BasePort int
	// Consensus is "raft" or "bft".
	Consensus string
	// Chaincode is the chaincode's name.
	Chaincode string

	repo string
	own  bool // started here: Stop stops it
	cc   *exec.Cmd
	log  func(format string, args ...any)
}

// Start returns the network EnvConfig names, or starts one on basePort
// (EnvBasePort wins) in a new run folder when EnvNetwork is "1", deploys
// the evidence chaincode and starts its server. It returns ErrNoNetwork
// when neither is set. logf reports progress (nil: silent).
func Start(ctx context.Context, basePort int, logf func(format string, args ...any)) (*Network, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if p := os.Getenv(EnvConfig); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvConfig, err)
		}
		n := &Network{Profile: abs, Chaincode: "evidence", log: logf, Consensus: profileConsensus(abs)}
		// A profile network/up wrote sits in its run folder.
		if dir := filepath.Dir(abs); fileExists(filepath.Join(dir, "network.env")) {
			if repo, err := repoRoot(); err == nil {
				n.Dir, n.repo = dir, repo
			}
		}
		return n, nil
	}
	if os.Getenv(EnvNetwork) != "1" {
		return nil, ErrNoNetwork
	}
	return StartConsensus(ctx, basePort, ConsensusFromEnv(), logf)
}

// ConsensusFromEnv is EnvConsensus, or "raft".
func ConsensusFromEnv() string {
	if c := os.Getenv(EnvConsensus); c != "" {
		return c
	}
	return "raft"
}

// StartConsensus starts a network of the given consensus ("raft" or
// "bft") on basePort (EnvBasePort wins) in a new run folder, as Start
// does when EnvNetwork is "1", whatever EnvConfig says.
func StartConsensus(ctx context.Context, basePort int, consensus string, logf func(format string, args ...any)) (*Network, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if consensus != "raft" && consensus != "bft" {
		return nil, fmt.Errorf("fabrictest: consensus %q (want raft or bft)", consensus)
	}
	if s := os.Getenv(EnvBasePort); s != "" {
		p, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: %w", EnvBasePort, s, err)
		}
		basePort = p
	}
	repo, err := repoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "evidence-fabric-")
	if err != nil {
		return nil, err
	}
	n := &Network{Dir: dir, BasePort: basePort, Consensus: consensus, Chaincode: "evidence", repo: repo, own: true, log: logf, Profile: filepath.Join(dir, "connection.json")}
	if err := n.start(ctx); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

func (n *Network) start(ctx context.Context) error {
	// The Fabric binaries are built before the tests (make fabric), never
	// here under a test's timeout: without them, fail at once saying so.
	if _, err := n.script(ctx, "build-fabric", "--check"); err != nil {
		return err
	}
	bin, err := n.chaincodeServer(ctx)
	if err != nil {
		return err
	}

	t1 := time.Now()
	if _, err := n.script(ctx, "up", "--no-build", "--consensus", n.Consensus, "--base-port", strconv.Itoa(n.BasePort)); err != nil {
		return err
	}
	n.log("fabrictest: %s network up in %v (base port %d, %s)", n.Consensus, time.Since(t1).Round(time.Millisecond), n.BasePort, n.Dir)

	t2 := time.Now()
	addr := fmt.Sprintf("127.0.0.1:%d", n.BasePort+50)
	out, err := n.script(ctx, "deploy-chaincode", "--name", n.Chaincode, "--address", addr)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	ccid := strings.TrimSpace(lines[len(lines)-1])
	logf, err := os.Create(filepath.Join(n.Dir, "logs", "evidence-chaincode.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	tlsDir := filepath.Join(n.Dir, "crypto", "peerOrganizations", "chaincode.evidence", "peers", "evidence.chaincode.evidence", "tls")
	n.cc = exec.Command(bin, "--address", addr, "--ccid", ccid,
		"--tls-cert", filepath.Join(tlsDir, "server.crt"), "--tls-key", filepath.Join(tlsDir, "server.key"))
	n.cc.Stdout, n.cc.Stderr = logf, logf
	n.cc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cc.Start(); err != nil {
		return fmt.Errorf("start the chaincode server: %w", err)
	}
	if _, err := n.script(ctx, "commit-chaincode", "--name", n.Chaincode); err != nil {
		return err
	}
	n.log("fabrictest: chaincode %s deployed and served (pid %d) in %v", ccid, n.cc.Process.Pid, time.Since(t2).Round(time.Millisecond))
	return nil
}

// chaincodeServer returns the chaincode server binary: the one EnvChaincode
// names (make test builds it before the tests), or one built now from this
// checkout into the run folder.
func (n *Network) chaincodeServer(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvChaincode); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w (run make fabric)", EnvChaincode, err)
		}
		return p, nil
	}
	t0 := time.Now()
	bin := filepath.Join(n.Dir, "evidence-chaincode")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/evidence-chaincode")
	build.Dir = n.repo
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build the chaincode server: %v\n%s", err, out)
	}
	n.log("fabrictest: chaincode server built in %v", time.Since(t0).Round(time.Millisecond))
	return bin, nil
}

// script runs network/<name> on this network's run folder and returns its
// standard output.
func (n *Network) script(ctx context.Context, name string, args ...string) (string, error) {
	if name != "build-fabric" {
		args = append([]string{"--dir", n.Dir}, args...)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(n.repo, "network", name), args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("network/%s: %v\n%s", name, err, stderr.String())
	}
	return stdout.String(), nil
}

// Script runs a network/ script (e.g. "stop-node", "peer0.court") on the
// network's run folder, for fault tests.
func (n *Network) Script(ctx context.Context, name string, args ...string) (string, error) {
	if n.Dir == "" {
		return "", errors.New("fabrictest: the connection profile is not in a network/ run folder")
	}
	return n.script(ctx, name, args...)
}

// Stop stops what Start started: the chaincode server (by PID) and the
// network (network/down --clean), unless EnvKeep is "1".
func (n *Network) Stop() error {
	if n == nil || !n.own {
		return nil
	}
	if os.Getenv(EnvKeep) == "1" {
		n.log("fabrictest: %s=1: leaving the network in %s running", EnvKeep, n.Dir)
		return nil
	}
	var errs []error
	if n.cc != nil && n.cc.Process != nil {
		n.cc.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { n.cc.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			n.cc.Process.Kill()
			<-done
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Now()
	if _, err := n.script(ctx, "down", "--clean"); err != nil {
		errs = append(errs, err)
	}
	n.log("fabrictest: network down in %v", time.Since(t0).Round(time.Millisecond))
	if err := os.RemoveAll(n.Dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// profileConsensus reads the consensus a connection profile names ("raft"
// when it names none or cannot be read).
func profileConsensus(path string) string {
	var p struct {
		Consensus string `json:"consensus"`
	}
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &p) == nil && p.Consensus != "" {
		return p.Consensus
	}
	return "raft"
}

// Orderers are the orderer names of the network.
func (n *Network) Orderers() []string {
	if n.Consensus == "bft" {
		return []string{"orderer0", "orderer1", "orderer2", "orderer3"}
	}
	return []string{"orderer0", "orderer1", "orderer2"}
}

// Peers are the peer names of the network, court first.
func (n *Network) Peers() []string {
	return []string{"peer0.court", "peer0.platform", "peer0.notary"}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// Owned reports whether Start started the network (so tests may stop and
// start its nodes).
func (n *Network) Owned() bool { return n.own }

// RepoRoot returns the module root (where network/ is).
func (n *Network) RepoRoot() string { return n.repo }

// repoRoot finds the module root above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "network", "up")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("fabrictest: no module root with network/up above the working directory")
		}
		dir = parent
	}
}
