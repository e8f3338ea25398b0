package fabric_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/fabric"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

var updateGolden = flag.Bool("update-fabric-golden", false, "rewrite verifier/testdata/fabric (Raft) or fabric-bft (BFT) from the live network")

// goldenDir is where the verifier's Fabric golden data lives: fabric for a
// Raft network, fabric-bft for a BFT one.
func goldenDir(consensus string) string {
	name := "fabric"
	if consensus == "bft" {
		name = "fabric-bft"
	}
	return filepath.Join("..", "..", "verifier", "testdata", name)
}

// fetchBlock runs `peer channel fetch n` against a peer of the network, as
// an auditor would, and returns the block file's bytes.
func fetchBlock(t *testing.T, n uint64, peerName string) []byte {
	t.Helper()
	net := needNetwork(t)
	if net.Dir == "" {
		t.Skip("peer channel fetch needs the network's run folder")
	}
	out := filepath.Join(t.TempDir(), "block.pb")
	script := `source "$1/network/lib.sh"; use_run_dir "$2"; as_admin "$3" "$FABRIC_BIN/peer" channel fetch "$4" "$5" -c "$CHANNEL"`
	cmd := exec.Command("bash", "-c", script, "fetch", net.RepoRoot(), net.Dir, peerName, strconv.FormatUint(n, 10), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("peer channel fetch %d: %v\n%s", n, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFetchedBlock submits a batch and checks its receipts against the
// block fetched independently with `peer channel fetch` from each peer:
// same bytes as the ledger returned, same header hash as the receipts,
// and the receipts verify against that block. With -update-fabric-golden
// it writes the block, the receipts (without their block) and the trust
// roots to verifier/testdata/fabric for the verifier's offline tests.
func TestFetchedBlock(t *testing.T) {
	cfg := config(t, "court")
	l, err := fabric.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gen := evidence.NewIDGenerator(nil, nil)
	var recs []evidence.Record
	for i, text := range []string{"合同正文：甲方与乙方……", "contract-2026-0042.pdf", "补充协议"} {
		id, err := gen.New()
		if err != nil {
			t.Fatal(err)
		}
		r := evidence.Record{ID: id, Type: evidence.Text, Digests: []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(text)), evidence.Sum(evidence.SM3, []byte(text))},
			Platform: "acme-sign", DocRef: fmt.Sprintf("HT-2026-%03d", i+1), SubmittedAt: time.Now()}
		if i == 1 {
			r.Type = evidence.File
			r.MetaDigest = evidence.Sum(evidence.SHA256, []byte(`{"parties":["甲","乙"]}`)).Value
		}
		recs = append(recs, r)
	}
	rcs, err := l.Append(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	info, err := l.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := rcs[0].BlockNumber
	stored, err := l.Block(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Records < len(recs) {
		t.Fatalf("block %d counts %d records", n, stored.Records)
	}
	// The node's own peer (court) serves the very bytes the receipts
	// carry. The other peer's copy has the same header and data but the
	// signature of the orderer that delivered it to that peer.
	raw := fetchBlock(t, n, "peer0.court")
	if !bytes.Equal(raw, stored.Raw) {
		t.Fatalf("block %d from peer0.court (%d bytes) differs from the ledger's (%d bytes)", n, len(raw), len(stored.Raw))
	}
	for _, p := range needNetwork(t).Peers() {
		b := fetchBlock(t, n, p)
		fb, err := fabricblock.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for i, rc := range rcs {
			if got := hex.EncodeToString(fb.Header.Hash()); got != rc.BlockHash {
				t.Fatalf("block from %s hashes to %s, receipt %d says %s", p, got, i, rc.BlockHash)
			}
			if _, err := verifier.VerifyFabricBlock(rc.WithoutBlock(), b, info.TrustRoots); err != nil {
				t.Fatalf("receipt %d against the block fetched from %s: %v", i, p, err)
			}
		}
	}
	if !*updateGolden {
		return
	}
	goldenDir := goldenDir(needNetwork(t).Consensus)
	if err := os.MkdirAll(goldenDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var compact []verifier.Receipt
	for _, rc := range rcs {
		compact = append(compact, rc.WithoutBlock())
	}
	write := func(name string, v any) {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(goldenDir, name), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(goldenDir, "block.pb"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	write("receipts.json", compact)
	write("roots.json", info.TrustRoots)
	// Block 0, the channel's genesis block, carries the same roots.
	genesis, err := l.Block(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(goldenDir, "genesis.pb"), genesis.Raw, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote block %d (%d bytes), %d receipts and the trust roots to %s", n, len(raw), len(rcs), goldenDir)
}
