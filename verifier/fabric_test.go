package verifier

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// The golden data in testdata/fabric comes from a real network (Fabric
// v3.1.1, 3 Raft orderers, 2 organisations): block.pb was fetched with
// `peer channel fetch`, receipts.json holds the receipts of its batch
// without the block, roots.json the channel's trust roots, genesis.pb the
// channel's block 0. node/fabric's TestFetchedBlock regenerates them:
//
//	EVIDENCE_FABRIC_NETWORK=1 go test ./node/fabric -run TestFetchedBlock -args -update-fabric-golden
func golden(t testing.TB) ([]byte, []Receipt, block.TrustRoots) {
	t.Helper()
	return goldenIn(t, filepath.Join("testdata", "fabric"))
}

// goldenIn reads golden Fabric data from dir (testdata/fabric for Raft,
// testdata/fabric-bft for BFT).
func goldenIn(t testing.TB, dir string) ([]byte, []Receipt, block.TrustRoots) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "block.pb"))
	if err != nil {
		t.Fatal(err)
	}
	var rcs []Receipt
	var roots block.TrustRoots
	for name, v := range map[string]any{"receipts.json": &rcs, "roots.json": &roots} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if len(rcs) == 0 {
		t.Fatal("no golden receipts")
	}
	return raw, rcs, roots
}

func TestFabricGolden(t *testing.T) {
	raw, rcs, roots := golden(t)
	for i, rc := range rcs {
		if _, err := VerifyFabricBlock(rc, raw, roots); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
		// The same receipt with the block inside verifies on its own.
		rc.Proof.Block = raw
		if _, err := VerifyReceipt(rc, roots); err != nil {
			t.Fatalf("receipt %d with its block: %v", i, err)
		}
		// And stripped of its block it does not.
		if _, err := VerifyReceipt(rc.WithoutBlock(), roots); err == nil {
			t.Fatalf("receipt %d verified without its block", i)
		}
	}
	b, err := fabricblock.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b.Header.Hash()); got != rcs[0].BlockHash {
		t.Fatalf("block hash %s, receipts say %s", got, rcs[0].BlockHash)
	}
}

// TestFabricGoldenOlderEntries: receipts of ledgers written by the
// chaincode before entry version 3 still verify: testdata/fabric-v1 (its
// entries hold the whole record, version 1) and testdata/fabric-v2 (JSON
// naming the record by its leaf hash, version 2); the current golden
// blocks' entries are version 3 (binary). A receipt naming another record
// of its batch fails, whatever the entry's version (on the record ID,
// before its entry: TestFabricEntryNamesTheRecord checks the entry).
func TestFabricGoldenOlderEntries(t *testing.T) {
	for dir, want := range map[string]int{"fabric-v1": fabricblock.EntryVersionRecord, "fabric-v2": fabricblock.EntryVersionLeaf, "fabric": fabricblock.EntryVersion, "fabric-bft": fabricblock.EntryVersion} {
		raw, rcs, roots := goldenIn(t, filepath.Join("testdata", dir))
		b, err := fabricblock.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		for i, rc := range rcs {
			if _, err := VerifyFabricBlock(rc, raw, roots); err != nil {
				t.Fatalf("%s: receipt %d: %v", dir, i, err)
			}
			_, v := goldenEntry(t, b, roots.Fabric.Chaincode, rc)
			e, err := fabricblock.ParseEntry(v)
			if err != nil || e.V != want || !e.Holds(rc.Proof.Record) {
				t.Fatalf("%s: entry %s = %+v, %v; want version %d holding the record", dir, v, e, err, want)
			}
		}
	}
	for _, dir := range []string{"fabric-v1", "fabric-v2", "fabric"} {
		raw, rcs, roots := goldenIn(t, filepath.Join("testdata", dir))
		rc := rcs[0]
		rc.Proof.Record = rcs[1].Proof.Record
		if _, err := VerifyFabricBlock(rc, raw, roots); err == nil {
			t.Fatalf("%s: a receipt with another record of the batch verified", dir)
		}
	}
}

// TestFabricRootsFromGenesis: a verifier can take the trust roots from the
// channel's genesis block instead of the node.
func TestFabricRootsFromGenesis(t *testing.T) {
	_, _, roots := golden(t)
	g, err := os.ReadFile(filepath.Join("testdata", "fabric", "genesis.pb"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := fabricblock.RootsFromConfigBlock(g, roots.Fabric.Chaincode)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(f)
	want, _ := json.Marshal(roots.Fabric)
	if string(got) != string(want) {
		t.Fatalf("roots from block 0:\n%s\nwant\n%s", got, want)
	}
}

// protoBlock and encode round-trip the golden block through protobuf for
// tampering.
func protoBlock(t *testing.T, raw []byte) *common.Block {
	var b common.Block
	if err := proto.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	return &b
}

func encode(t *testing.T, m proto.Message) []byte {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rewriteWrite changes the value of key in the transaction's write set
// and re-encodes the transaction, the block data and the data hash; the
// receipt's header and block hash follow, as a forger would make them.
func rewriteWrite(t *testing.T, raw []byte, rc *Receipt, key string, value []byte) []byte {
	b := protoBlock(t, raw)
	for i, d := range b.Data.Data {
		var env common.Envelope
		var pl common.Payload
		var ch common.ChannelHeader
		var tx peer.Transaction
		var cap peer.ChaincodeActionPayload
		var prp peer.ProposalResponsePayload
		var ca peer.ChaincodeAction
		var rws rwset.TxReadWriteSet
		must := func(err error) {
			if err != nil {
				t.Fatal(err)
			}
		}
		must(proto.Unmarshal(d, &env))
		must(proto.Unmarshal(env.Payload, &pl))
		must(proto.Unmarshal(pl.Header.ChannelHeader, &ch))
		if ch.TxId != rc.TxID {
			continue
		}
		must(proto.Unmarshal(pl.Data, &tx))
		must(proto.Unmarshal(tx.Actions[0].Payload, &cap))
		must(proto.Unmarshal(cap.Action.ProposalResponsePayload, &prp))
		must(proto.Unmarshal(prp.Extension, &ca))
		must(proto.Unmarshal(ca.Results, &rws))
		for _, ns := range rws.NsRwset {
			var kv kvrwset.KVRWSet
			must(proto.Unmarshal(ns.Rwset, &kv))
			for _, w := range kv.Writes {
				if w.Key == key {
					w.Value = value
				}
			}
			ns.Rwset = encode(t, &kv)
		}
		ca.Results = encode(t, &rws)
		prp.Extension = encode(t, &ca)
		cap.Action.ProposalResponsePayload = encode(t, &prp)
		tx.Actions[0].Payload = encode(t, &cap)
		pl.Data = encode(t, &tx)
		env.Payload = encode(t, &pl)
		b.Data.Data[i] = encode(t, &env)
	}
	fb := &fabricblock.Block{Data: b.Data.Data}
	b.Header.DataHash = fb.DataHash()
	rc.Proof.Header.DataHash = b.Header.DataHash
	rc.BlockHash = hex.EncodeToString(rc.Proof.Header.Hash())
	return encode(t, b)
}

func foreignCA(t *testing.T) string {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca.forged"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func cloneRoots(r block.TrustRoots) block.TrustRoots {
	b, _ := json.Marshal(r)
	var c block.TrustRoots
	json.Unmarshal(b, &c)
	return c
}

func TestFabricTampered(t *testing.T) {
	raw0, rcs, roots0 := golden(t)
	tests := []struct {
		desc    string
		tamper  func(raw []byte, rc *Receipt, roots *block.TrustRoots) []byte
		wantErr error // matched with errors.Is when set
		field   string
	}{
		{desc: "another record in the proof", field: "proof.audit_path", tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			rc.Proof.Record, rc.ID = rcs[1].Proof.Record, rcs[1].ID
			rc.DigestHex, rc.DigestBase64, rc.Digests, rc.Type = rcs[1].DigestHex, rcs[1].DigestBase64, rcs[1].Digests, rcs[1].Type
			return raw
		}},
		{desc: "changed audit path", field: "proof.audit_path", tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			rc.Proof.AuditPath[0] = make([]byte, 32)
			return raw
		}},
		{desc: "batch root and path of a made-up batch", field: "proof.batch_root", tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			leaves := [][]byte{rc.Proof.Record, []byte("other")}
			rc.Proof.BatchRoot, rc.Proof.AuditPath, rc.Proof.LeafIndex, rc.Proof.TreeSize = block.DataHash(leaves), block.AuditPaths(leaves)[0], 0, 2
			return raw
		}},
		{desc: "another block number", field: "block_number", tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			rc.BlockNumber++
			return raw
		}},
		{desc: "ledger time moved", field: "ledger_time", tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			rc.LedgerTime = "2020-01-01T00:00:00.000Z"
			return raw
		}},
		{desc: "unknown transaction", field: "tx_id", wantErr: fabricblock.ErrNotFound, tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			rc.TxID = hex.EncodeToString(make([]byte, 32))
			return raw
		}},
		{desc: "endorser key IDs changed", field: "key_ids", tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			rc.KeyIDs = append([]string{rc.KeyIDs[1], rc.KeyIDs[0]}, rc.KeyIDs[2:]...)
			return raw
		}},
		{desc: "a byte of the block data flipped", field: "proof.block", tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			b := protoBlock(t, raw)
			b.Data.Data[0][len(b.Data.Data[0])-5] ^= 1
			return encode(t, b)
		}},
		{desc: "transaction marked invalid by the peer", field: "tx_id", tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			b := protoBlock(t, raw)
			f := b.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
			for i := range f {
				f[i] = byte(peer.TxValidationCode_MVCC_READ_CONFLICT)
			}
			return encode(t, b)
		}},
		{desc: "orderer signature altered", field: "proof.block", wantErr: fabricblock.ErrSignature, tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			b := protoBlock(t, raw)
			var md common.Metadata
			proto.Unmarshal(b.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES], &md)
			md.Value = append(md.Value, 0) // what the signature covers
			b.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES] = encode(t, &md)
			return encode(t, b)
		}},
		{desc: "batch root rewritten in the write set (data hash and block hash recomputed)", field: "proof.block", wantErr: fabricblock.ErrSignature, tamper: func(raw []byte, rc *Receipt, _ *block.TrustRoots) []byte {
			leaves := [][]byte{rc.Proof.Record}
			rc.Proof.BatchRoot, rc.Proof.AuditPath, rc.Proof.LeafIndex, rc.Proof.TreeSize = block.DataHash(leaves), nil, 0, 1
			v, _ := json.Marshal(fabricblock.Batch{V: 1, Root: hex.EncodeToString(rc.Proof.BatchRoot), Size: 1, LedgerTime: rc.LedgerTime})
			return rewriteWrite(t, raw, rc, fabricblock.BatchKey(rc.TxID), v)
		}},
		{desc: "endorsers' CA not trusted", field: "proof.block", wantErr: fabricblock.ErrUntrusted, tamper: func(raw []byte, rc *Receipt, roots *block.TrustRoots) []byte {
			for i := range roots.Fabric.Orgs {
				roots.Fabric.Orgs[i].RootCerts = []string{foreignCA(t)}
			}
			return raw
		}},
		{desc: "orderer's CA not trusted", field: "proof.block", wantErr: fabricblock.ErrUntrusted, tamper: func(raw []byte, rc *Receipt, roots *block.TrustRoots) []byte {
			roots.Fabric.Orderers[0].RootCerts = []string{foreignCA(t)}
			return raw
		}},
		{desc: "one organisation's endorsement is not enough for three", field: "proof.block", wantErr: fabricblock.ErrPolicy, tamper: func(raw []byte, rc *Receipt, roots *block.TrustRoots) []byte {
			roots.Fabric.Endorsers = 3
			return raw
		}},
		{desc: "an endorsing organisation missing from the roots", field: "proof.block", wantErr: fabricblock.ErrUntrusted, tamper: func(raw []byte, rc *Receipt, roots *block.TrustRoots) []byte {
			roots.Fabric.Orgs = roots.Fabric.Orgs[:1]
			return raw
		}},
		{desc: "another chaincode", field: "proof.block", tamper: func(raw []byte, rc *Receipt, roots *block.TrustRoots) []byte {
			roots.Fabric.Chaincode = "other"
			return raw
		}},
		{desc: "another channel", field: "proof.block", tamper: func(raw []byte, rc *Receipt, roots *block.TrustRoots) []byte {
			roots.Fabric.Channel = "other"
			return raw
		}},
		{desc: "another ledger", field: "ledger", tamper: func(raw []byte, rc *Receipt, roots *block.TrustRoots) []byte {
			rc.Ledger = "elsewhere"
			return raw
		}},
		{desc: "embedded trust roots", field: "proof", tamper: func(raw []byte, rc *Receipt, roots *block.TrustRoots) []byte {
			roots.Fabric = nil
			return raw
		}},
		{desc: "no block", field: "proof.block", tamper: func(raw []byte, rc *Receipt, roots *block.TrustRoots) []byte {
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			rc := rcs[0]
			rc.Proof.AuditPath = append([][]byte(nil), rc.Proof.AuditPath...)
			rc.KeyIDs = append([]string(nil), rc.KeyIDs...)
			roots := cloneRoots(roots0)
			raw := tt.tamper(append([]byte(nil), raw0...), &rc, &roots)
			_, err := VerifyFabricBlock(rc, raw, roots)
			if err == nil {
				t.Fatal("tampered receipt verified")
			}
			var re *ReceiptError
			if !errors.As(err, &re) || re.Field != tt.field {
				t.Fatalf("error %v: want a ReceiptError on field %q", err, tt.field)
			}
			t.Log(err)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v: want %v", err, tt.wantErr)
			}
		})
	}
}

func FuzzFabricBlock(f *testing.F) {
	raw, rcs, roots := golden(f)
	f.Add(raw)
	g, _ := os.ReadFile(filepath.Join("testdata", "fabric", "genesis.pb"))
	f.Add(g)
	if b, err := os.ReadFile(filepath.Join("testdata", "fabric-bft", "block.pb")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := fabricblock.Parse(raw)
		if err != nil {
			return
		}
		b.Transactions()
		b.OrdererSignatures(roots.Fabric.Consenters)
		fabricblock.RootsFromConfigBlock(raw, "evidence")
		// Anything that verifies must be the golden block's content.
		if _, err := VerifyFabricBlock(rcs[0], raw, roots); err == nil {
			if hex.EncodeToString(b.Header.Hash()) != rcs[0].BlockHash {
				t.Fatal("a block with another header verified")
			}
		}
	})
}

// TestFabricEntryNamesTheRecord: the entry under a record's ID must name
// the receipt's record, transaction and place in the batch, in each entry
// version (the golden blocks of versions 1, 2 and 3): a wrong one of each
// fails on proof.record. A forged receipt cannot reach this check through
// VerifyFabricBlock (its ID, audit path and endorsements fail first), so
// it is tested here.
func TestFabricEntryNamesTheRecord(t *testing.T) {
	for _, dir := range []string{"fabric-v1", "fabric-v2", "fabric", "fabric-bft"} {
		raw, rcs, roots := goldenIn(t, filepath.Join("testdata", dir))
		b, err := fabricblock.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		rc := rcs[0]
		tx, v := goldenEntry(t, b, roots.Fabric.Chaincode, rc)
		p := rc.Proof
		if err := checkEntry(v, p.Record, tx.ID, p.LeafIndex, p.TreeSize); err != nil {
			t.Fatalf("%s: the genuine entry: %v", dir, err)
		}
		for name, err := range map[string]error{
			"another record":      checkEntry(v, rcs[1].Proof.Record, tx.ID, p.LeafIndex, p.TreeSize),
			"another transaction": checkEntry(v, p.Record, strings.Repeat("0", 64), p.LeafIndex, p.TreeSize),
			"another index":       checkEntry(v, p.Record, tx.ID, p.LeafIndex+1, p.TreeSize),
			"another size":        checkEntry(v, p.Record, tx.ID, p.LeafIndex, p.TreeSize+1),
			"a cut entry":         checkEntry(v[:len(v)-1], p.Record, tx.ID, p.LeafIndex, p.TreeSize),
		} {
			var re *ReceiptError
			if !errors.As(err, &re) || re.Field != "proof.record" {
				t.Errorf("%s: %s: %v, want a proof.record error", dir, name, err)
			}
		}
	}
}

// goldenEntry is rc's transaction in block b and the entry it wrote under
// rc's ID.
func goldenEntry(t *testing.T, b *fabricblock.Block, chaincode string, rc Receipt) (*fabricblock.Tx, []byte) {
	t.Helper()
	tx, err := b.FindTx(rc.TxID)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := tx.Value(chaincode, rc.ID)
	if !ok {
		t.Fatalf("no entry for %s in transaction %s", rc.ID, rc.TxID)
	}
	return tx, v
}
