package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/logproof"
	"github.com/evidence-node/evidence-node/web"
)

// nodeLog is the transparency log the node's trust roots name (GET
// /api/v1/ledger).
func nodeLog(t *testing.T, nodeURL string) block.Log {
	t.Helper()
	var lv struct {
		TrustRoots block.TrustRoots `json:"trust_roots"`
	}
	if code := getJSON(t, nodeURL+"/api/v1/ledger", &lv); code != 200 || lv.TrustRoots.Log == nil {
		t.Fatalf("GET %s/api/v1/ledger: %d, log %+v", nodeURL, code, lv.TrustRoots.Log)
	}
	return *lv.TrustRoots.Log
}

// latestCheckpoint is GET /checkpoint, opened with the node's log key(s);
// ok is false while the node has none (404).
func latestCheckpoint(t *testing.T, nodeURL string, lg block.Log) (logproof.Verified, bool) {
	t.Helper()
	resp, err := http.Get(nodeURL + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, logproof.MaxCheckpoint+1))
	if resp.StatusCode == 404 {
		return logproof.Verified{}, false
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s/checkpoint: %d %s", nodeURL, resp.StatusCode, b)
	}
	v, err := logproof.OpenKeys(b, lg.Origin, lg.Trust().LogKeys(), nil)
	if err != nil {
		t.Fatalf("%s/checkpoint %q: %v", nodeURL, b, err)
	}
	return v, true
}

// waitLogProof polls the receipt of id until it carries a log_proof.
func waitLogProof(t *testing.T, nodeURL, id string, within time.Duration) verifier.Receipt {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rc := waitReceipt(t, nodeURL, id, within)
		if rc.LogProof != "" {
			return rc
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receipt of %s from %s has no log_proof after %v", id, nodeURL, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// nodeTiles is a tlog.TileReader of a node's C2SP tiles (x/mod's paths
// "tile/8/…" without the height).
type nodeTiles struct{ base string }

func (h nodeTiles) Height() int { return 8 }

func (h nodeTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tl := range tiles {
		url := h.base + "/" + strings.Replace(tl.Path(), "tile/8/", "tile/", 1)
		resp, err := http.Get(url)
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
		}
		out[i] = b
	}
	return out, nil
}

func (h nodeTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// consistency is GET /api/v1/proof/consistency?old=&new=.
func consistency(t *testing.T, nodeURL string, old, new uint64) [][]byte {
	t.Helper()
	var cv web.ConsistencyView
	url := fmt.Sprintf("%s/api/v1/proof/consistency?old=%d&new=%d", nodeURL, old, new)
	if code := getJSON(t, url, &cv); code != 200 || cv.Old != old || cv.New != new {
		t.Fatalf("GET %s: %d %+v", url, code, cv)
	}
	prf := make([][]byte, len(cv.Proof))
	for i, s := range cv.Proof {
		h, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("GET %s: hash %q: %v", url, s, err)
		}
		prf[i] = h
	}
	return prf
}

// checkSameLog checks issue 12's claim that on Fabric every organisation's
// node derives the same log from the committed blocks: once both nodes'
// latest checkpoints have the same size (at least the size holding every
// record of rcs; bounded wait, nothing else is submitted meanwhile), they
// have the same text (origin, size, root) although each node signs with
// its own key. For each record, each node's log_proof verifies under its
// own key and the two give the same index; the inclusion proof from one
// node leads to the other node's root: directly at the same size, else
// through the other node's consistency proof from the proof's size; and
// an inclusion proof at the common size read from one node's tiles (x/mod's
// tlog client) verifies against the other node's checkpoint root.
func checkSameLog(t *testing.T, a, b *proc, rcs []verifier.Receipt, within time.Duration) {
	t.Helper()
	start := time.Now()
	nodes := []*proc{a, b}
	logs := []block.Log{nodeLog(t, a.url), nodeLog(t, b.url)}
	if logs[0].Origin != logs[1].Origin || logs[0].Origin != rcs[0].Ledger {
		t.Fatalf("log origins %q (A) and %q (B); the ledger is %q", logs[0].Origin, logs[1].Origin, rcs[0].Ledger)
	}

	// Each record's log proof from each node, under that node's key.
	type inclusion struct {
		index uint64
		prf   logproof.Proof
		cp    logproof.Verified
	}
	incl := make([][2]inclusion, len(rcs))
	var need uint64
	for i, rc := range rcs {
		for n, p := range nodes {
			got := waitLogProof(t, p.url, rc.ID, within)
			v, prf, err := logproof.VerifyProof(got.Proof.Record, got.LogProof, logs[n].Trust())
			if err != nil {
				t.Fatalf("node %c's log_proof of %s: %v\n%s", 'A'+n, rc.ID, err, got.LogProof)
			}
			incl[i][n] = inclusion{prf.Index, prf, v}
			need = max(need, v.Size)
		}
		if ia, ib := incl[i][0].index, incl[i][1].index; ia != ib {
			t.Fatalf("record %s is leaf %d in A's log, %d in B's", rc.ID, ia, ib)
		}
	}

	// Both latest checkpoints at one size, holding every record.
	var cps [2]logproof.Verified
	deadline := time.Now().Add(within)
	for {
		var ok [2]bool
		for n, p := range nodes {
			cps[n], ok[n] = latestCheckpoint(t, p.url, logs[n])
		}
		if ok[0] && ok[1] && cps[0].Size == cps[1].Size && cps[0].Size >= need {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the nodes' checkpoints are not at one size ≥ %d after %v: A %d, B %d", need, within, cps[0].Size, cps[1].Size)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got, want := cps[1].Body(), cps[0].Body(); got != want {
		t.Fatalf("checkpoints of the same size differ:\nA:\n%s\nB:\n%s", want, got)
	}
	size, root := cps[0].Size, cps[0].Root

	direct, viaConsistency := 0, 0
	for i, rc := range rcs {
		for n := range nodes {
			in, other := incl[i][n], nodes[1-n]
			// This node's proof, to the other node's root.
			if in.cp.Size == size {
				direct++
				if err := logproof.VerifyInclusion(rc.Proof.Record, in.index, size, in.prf.Hashes, cps[1-n].Root); err != nil {
					t.Errorf("node %c's proof of %s against node %c's root: %v", 'A'+n, rc.ID, 'A'+1-n, err)
				}
			} else {
				viaConsistency++
				if err := logproof.VerifyConsistency(in.cp.Size, size, consistency(t, other.url, in.cp.Size, size), in.cp.Root, cps[1-n].Root); err != nil {
					t.Errorf("node %c's checkpoint of size %d holding %s is not a prefix of node %c's tree of size %d: %v", 'A'+n, in.cp.Size, rc.ID, 'A'+1-n, size, err)
				}
			}
			// A proof at the common size from this node's tiles, checked
			// against the other node's checkpoint.
			var th tlog.Hash
			copy(th[:], cps[1-n].Root)
			hr := tlog.TileHashReader(tlog.Tree{N: int64(size), Hash: th}, nodeTiles{nodes[n].url})
			p, err := tlog.ProveRecord(int64(size), int64(in.index), hr)
			if err == nil {
				err = tlog.CheckRecord(p, int64(size), th, int64(in.index), tlog.RecordHash(rc.Proof.Record))
			}
			if err != nil {
				t.Errorf("leaf %d (%s) from node %c's tiles against node %c's root at size %d: %v", in.index, rc.ID, 'A'+n, 'A'+1-n, size, err)
			}
		}
	}
	t.Logf("one log on both nodes (keys %s and %s): checkpoints of size %d, root %s; %d records at the same index in both, each node's log_proofs lead to the other's root (%d directly, %d through its consistency proof), and so do proofs from its tiles (checked in %v)",
		keyID(logs[0].Key), keyID(logs[1].Key), size,
		base64.StdEncoding.EncodeToString(root), len(rcs), direct, viaConsistency, time.Since(start).Round(time.Millisecond))
}

// keyID is a note verifier key's name and hash ("name+1a2b3c4d").
func keyID(vkey string) string {
	name, rest, _ := strings.Cut(vkey, "+")
	hash, _, _ := strings.Cut(rest, "+")
	return name + "+" + hash
}
