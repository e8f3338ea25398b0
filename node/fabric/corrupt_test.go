package fabric

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// golden is a Fabric block fetched from a real network with `peer channel
// fetch` (verifier/testdata/fabric: Raft; fabric-bft: SmartBFT), the
// receipts of its batch without the block, and the channel's trust roots.
type golden struct {
	raw   []byte
	rcs   []verifier.Receipt
	roots block.TrustRoots
}

func readGolden(t *testing.T, dir string) golden {
	t.Helper()
	dir = filepath.Join("..", "..", "verifier", "testdata", dir)
	raw, err := os.ReadFile(filepath.Join(dir, "block.pb"))
	if err != nil {
		t.Fatal(err)
	}
	g := golden{raw: raw}
	for name, v := range map[string]any{"receipts.json": &g.rcs, "roots.json": &g.roots} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if len(g.rcs) == 0 || g.roots.Fabric == nil {
		t.Fatal("no golden receipts or no Fabric roots")
	}
	return g
}

// corruption is what a ledger reported through OnCorrupted and its log.
type corruption struct {
	mu     sync.Mutex
	calls  []int64 // block of each call
	firsts int
	logs   bytes.Buffer
}

func (c *corruption) onCorrupted(n int64, first bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, n)
	if first {
		c.firsts++
	}
}

func (c *corruption) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.logs.Write(p)
}

// errorLogs counts the CORRUPTED lines logged at error level.
func (c *corruption) errorLogs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, line := range strings.Split(c.logs.String(), "\n") {
		if strings.Contains(line, "level=ERROR") && strings.Contains(line, "CORRUPTED") {
			n++
		}
	}
	return n
}

// offline is a Ledger with no peer behind it: the trust roots are the
// golden ones, and blocks reach it only through admit, the function every
// block read from the peer goes through. Nothing here may call the peer.
func offline(g golden) (*Ledger, *corruption) {
	c := &corruption{}
	l := &Ledger{
		cfg:  Config{Chaincode: g.roots.Fabric.Chaincode, Logger: slog.New(slog.NewTextHandler(c, nil)), OnCorrupted: c.onCorrupted},
		name: g.roots.Ledger, roots: &g.roots, cache: newBlockCache(64),
	}
	return l, c
}

func entryOf(rc verifier.Receipt) fabricblock.Entry {
	return fabricblock.NewEntry(rc.Proof.Record, rc.TxID, int(rc.Proof.LeafIndex), int(rc.Proof.TreeSize))
}

// TestGenuineBlockServed: the bytes a real peer served pass the node's
// checks, as a block and as receipts identical to the ones the node gave
// when it committed them; nothing is reported corrupted.
func TestGenuineBlockServed(t *testing.T) {
	// fabric-v1, fabric-v2: blocks written by the chaincode before entry
	// versions 2 and 3.
	for _, dir := range []string{"fabric", "fabric-bft", "fabric-v1", "fabric-v2"} {
		t.Run(dir, func(t *testing.T) {
			g := readGolden(t, dir)
			l, c := offline(g)
			ctx := context.Background()
			n := g.rcs[0].BlockNumber
			cb, err := l.admit(g.raw, int64(n), "")
			if err != nil {
				t.Fatal(err)
			}
			b, err := l.serveBlock(ctx, cb)
			if err != nil {
				t.Fatalf("block %d: %v", n, err)
			}
			if b.Header.Number != n || !bytes.Equal(b.Raw, g.raw) || b.Records < len(g.rcs) {
				t.Fatalf("block %d served as number %d, %d bytes (want %d), %d records (want ≥ %d)", n, b.Header.Number, len(b.Raw), len(g.raw), b.Records, len(g.rcs))
			}
			for i, want := range g.rcs {
				id, err := evidence.ParseID(want.ID)
				if err != nil {
					t.Fatal(err)
				}
				got, err := l.receiptOf(ctx, id, entryOf(want))
				if err != nil {
					t.Fatalf("receipt %d: %v", i, err)
				}
				gj, _ := json.Marshal(got.WithoutBlock())
				wj, _ := json.Marshal(want)
				if !bytes.Equal(gj, wj) {
					t.Fatalf("receipt %d:\n got %s\nwant %s", i, gj, wj)
				}
				if _, err := verifier.VerifyReceipt(got, g.roots); err != nil {
					t.Fatalf("receipt %d does not verify: %v", i, err)
				}
			}
			// The channel's genesis block: no evidence transaction, its
			// data hash checked.
			gen, err := os.ReadFile(filepath.Join("..", "..", "verifier", "testdata", dir, "genesis.pb"))
			if err != nil {
				t.Fatal(err)
			}
			cb, err = l.admit(gen, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			if b, err := l.serveBlock(ctx, cb); err != nil || b.Records != 0 {
				t.Fatalf("genesis block: %d records, %v", b.Records, err)
			}
			if len(c.calls) != 0 || c.errorLogs() != 0 {
				t.Fatalf("genuine block reported corrupted: %v\n%s", c.calls, c.logs.String())
			}
		})
	}
}

// flipRecord changes one character of the first golden record inside the
// block (in the transaction's signed arguments); with rehash the header's
// data hash is recomputed over the changed data, as a forger would, so
// only the signatures can tell.
func flipRecord(t *testing.T, g golden, rehash bool) []byte {
	t.Helper()
	rec := g.rcs[0].Proof.Record
	i := bytes.Index(g.raw, rec)
	if i < 0 {
		t.Fatal("the record is not in the block")
	}
	raw := bytes.Clone(g.raw)
	j := i + bytes.Index(rec, []byte(`"doc_ref":"`)) + len(`"doc_ref":"`)
	raw[j] ^= 0x01 // 'H' → 'I': still a valid record, and a valid block
	if !rehash {
		return raw
	}
	var pb common.Block
	if err := proto.Unmarshal(raw, &pb); err != nil {
		t.Fatal(err)
	}
	pb.Header.DataHash = (&fabricblock.Block{Data: pb.Data.Data}).DataHash()
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// invalidate sets the peer's validation flag of the golden transaction to
// ENDORSEMENT_POLICY_FAILURE (the flag is not signed).
func invalidate(t *testing.T, g golden) []byte {
	t.Helper()
	var pb common.Block
	if err := proto.Unmarshal(g.raw, &pb); err != nil {
		t.Fatal(err)
	}
	fb, err := fabricblock.Parse(g.raw)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := fb.FindTx(g.rcs[0].TxID)
	if err != nil {
		t.Fatal(err)
	}
	filter := bytes.Clone(pb.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER])
	filter[tx.Index] = 10 // ENDORSEMENT_POLICY_FAILURE
	pb.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = filter
	out, err := proto.MarshalOptions{Deterministic: true}.Marshal(&pb)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantCorrupted checks err is the node's corrupted error for block n, not
// an outage, and that it was counted once and logged once.
func wantCorrupted(t *testing.T, err error, n int64, c *corruption) {
	t.Helper()
	var ce *node.CorruptedError
	if !errors.As(err, &ce) || !errors.Is(err, node.ErrCorrupted) || errors.Is(err, node.ErrUnavailable) {
		t.Fatalf("got %v (%T), want a *node.CorruptedError and not ErrUnavailable", err, err)
	}
	t.Logf("refused: %v", err)
	if ce.Block != n {
		t.Fatalf("corrupted error names block %d, want %d: %v", ce.Block, n, err)
	}
	if len(c.calls) != 1 || c.calls[0] != n || c.firsts != 1 {
		t.Fatalf("OnCorrupted calls %v (%d first), want one call for block %d, first", c.calls, c.firsts, n)
	}
	if got := c.errorLogs(); got != 1 {
		t.Fatalf("%d CORRUPTED error lines logged, want 1:\n%s", got, c.logs.String())
	}
}

// TestCorruptedBlockRefused: bytes a peer served that fail the verifier's
// check are refused as corrupted, counted once and logged once, whether
// served as a block or as a receipt; the same bad bytes read again are
// counted again and not logged again.
func TestCorruptedBlockRefused(t *testing.T) {
	g := readGolden(t, "fabric")
	n := g.rcs[0].BlockNumber
	id, err := evidence.ParseID(g.rcs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		raw  []byte
		// receiptOnly: the block as a whole still passes (the peer's
		// verdict on a transaction is not signed: a block whose evidence
		// transaction the peer marked invalid adds no records), but the
		// receipt that names the transaction must not.
		receiptOnly bool
	}{
		{"record byte changed", flipRecord(t, g, false), false},
		{"record byte changed, data hash recomputed", flipRecord(t, g, true), false},
		{"transaction marked invalid", invalidate(t, g), true},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/block", func(t *testing.T) {
			l, c := offline(g)
			cb, err := l.admit(tc.raw, int64(n), "")
			if err != nil {
				t.Fatal(err)
			}
			b, err := l.serveBlock(context.Background(), cb)
			if tc.receiptOnly {
				if err != nil || b.Records != 0 {
					t.Fatalf("got %d records, %v; want the block served with no records", b.Records, err)
				}
				return
			}
			wantCorrupted(t, err, int64(n), c)
			if l.cache.get(n) != nil {
				t.Fatal("the corrupted block is still cached")
			}
			// Read again (the peer serves the same bad bytes): counted
			// again, logged once.
			cb, err = l.admit(tc.raw, int64(n), "")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.serveBlock(context.Background(), cb); !errors.Is(err, node.ErrCorrupted) {
				t.Fatalf("second read: %v", err)
			}
			if len(c.calls) != 2 || c.firsts != 1 || c.errorLogs() != 1 {
				t.Fatalf("after a second read: calls %v (%d first), %d logs; want 2 calls, 1 first, 1 log", c.calls, c.firsts, c.errorLogs())
			}
		})
		t.Run(tc.name+"/receipt", func(t *testing.T) {
			l, c := offline(g)
			if _, err := l.admit(tc.raw, -1, g.rcs[0].TxID); err != nil {
				t.Fatal(err)
			}
			rc, err := l.receiptOf(context.Background(), id, entryOf(g.rcs[0]))
			if err == nil {
				t.Fatalf("a receipt was served from the altered block (block hash %s)", rc.BlockHash)
			}
			wantCorrupted(t, err, int64(n), c)
		})
	}
	t.Run("another block served", func(t *testing.T) {
		l, c := offline(g)
		_, err := l.admit(g.raw, int64(n)+1, "")
		wantCorrupted(t, err, int64(n)+1, c)
	})
	t.Run("not a block", func(t *testing.T) {
		l, c := offline(g)
		_, err := l.admit(g.raw[:len(g.raw)/2], int64(n), "")
		wantCorrupted(t, err, int64(n), c)
	})
}

// TestUnreachablePeerUnavailable: a peer that cannot be reached is an
// outage (node.ErrUnavailable, 503), never corruption. The peer is a
// closed port on 127.0.0.1.
func TestUnreachablePeerUnavailable(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peer0.test"}, DNSNames: []string{"peer0.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	prof := Profile{Channel: "evidence", Organizations: []ProfileOrg{{Name: "court", MSPID: "CourtMSP",
		Peer: Endpoint{Name: "peer0.test", Endpoint: addr, ServerHostOverride: "peer0.test", TLSCACert: certPath},
		User: IdentityRef{Name: "user", Cert: certPath, Key: keyPath}}}}
	pj, err := json.Marshal(prof)
	if err != nil {
		t.Fatal(err)
	}
	profPath := filepath.Join(dir, "connection.json")
	if err := os.WriteFile(profPath, pj, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &corruption{}
	l, err := Open(Config{Profile: profPath, CallTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(c, nil)), OnCorrupted: c.onCorrupted})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = l.Block(ctx, 1)
	if !errors.Is(err, node.ErrUnavailable) || errors.Is(err, node.ErrCorrupted) {
		t.Fatalf("block from an unreachable peer: %v; want ErrUnavailable, not ErrCorrupted", err)
	}
	id, err := evidence.ParseID(readGolden(t, "fabric").rcs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Receipt(ctx, id); !errors.Is(err, node.ErrUnavailable) || errors.Is(err, node.ErrCorrupted) {
		t.Fatalf("receipt from an unreachable peer: %v; want ErrUnavailable, not ErrCorrupted", err)
	}
	if len(c.calls) != 0 || c.errorLogs() != 0 {
		t.Fatalf("an unreachable peer was reported corrupted: %v", c.calls)
	}
}
