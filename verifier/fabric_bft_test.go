package verifier

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// The golden data in testdata/fabric-bft comes from a real BFT network
// (Fabric v3.1.1, four SmartBFT orderers of four organisations, three
// peer organisations): block.pb fetched with `peer channel fetch`,
// receipts.json its batch's receipts without the block, roots.json the
// channel's trust roots (with the consenter set), genesis.pb block 0.
// node/fabric's TestFetchedBlock regenerates them:
//
//	EVIDENCE_FABRIC_NETWORK=1 EVIDENCE_FABRIC_CONSENSUS=bft go test ./node/fabric -run TestFetchedBlock -args -update-fabric-golden
func goldenBFT(t testing.TB) ([]byte, []Receipt, block.TrustRoots) {
	t.Helper()
	return goldenIn(t, filepath.Join("testdata", "fabric-bft"))
}

func TestFabricBFTGolden(t *testing.T) {
	raw, rcs, roots := goldenBFT(t)
	if n, q := len(roots.Fabric.Consenters), roots.Fabric.Quorum(); n != 4 || q != 3 {
		t.Fatalf("%d consenters, quorum %d: want 4 and 3", n, q)
	}
	for i, rc := range rcs {
		if _, err := VerifyFabricBlock(rc, raw, roots); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
		rc.Proof.Block = raw
		if _, err := VerifyReceipt(rc, roots); err != nil {
			t.Fatalf("receipt %d with its block: %v", i, err)
		}
	}
	b, err := fabricblock.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(b.Header.Hash()); got != rcs[0].BlockHash {
		t.Fatalf("block hash %s, receipts say %s", got, rcs[0].BlockHash)
	}
	// The real block names its signers by consenter ID, a quorum or more.
	sigs, err := b.OrdererSignatures(roots.Fabric.Consenters)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) < 3 {
		t.Fatalf("%d signatures on a BFT block", len(sigs))
	}
	for i, s := range sigs {
		if !s.ByID {
			t.Fatalf("signature %d names its signer by identity, not by consenter ID", i)
		}
	}
	// Against the Raft way of reading (no consenter set) it is refused.
	raft := cloneRoots(roots)
	raft.Fabric.Consenters = nil
	if _, err := VerifyFabricBlock(rcs[0], raw, raft); !errors.Is(err, fabricblock.ErrNotConsenter) {
		t.Fatalf("BFT block with roots without consenters: %v, want ErrNotConsenter", err)
	}
}

// TestFabricBFTRootsFromGenesis: the consenter set in the trust roots is
// the one in the channel's genesis block.
func TestFabricBFTRootsFromGenesis(t *testing.T) {
	_, _, roots := goldenBFT(t)
	g, err := os.ReadFile(filepath.Join("testdata", "fabric-bft", "genesis.pb"))
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
	if err := roots.Validate(); err != nil {
		t.Fatal(err)
	}
	// A consenter ID twice is refused by Validate.
	bad := cloneRoots(roots)
	bad.Fabric.Consenters[1].ID = bad.Fabric.Consenters[0].ID
	if err := bad.Validate(); !errors.Is(err, block.ErrTrustRoots) {
		t.Fatalf("duplicate consenter ID: %v", err)
	}
}

func TestFabricQuorum(t *testing.T) {
	for n, want := range map[int]int{0: 0, 1: 1, 2: 2, 3: 2, 4: 3, 5: 4, 6: 4, 7: 5, 10: 7} {
		f := block.Fabric{Consenters: make([]block.Consenter, n)}
		if got := f.Quorum(); got != want {
			t.Errorf("quorum of %d consenters: %d, want %d", n, got, want)
		}
	}
}

// editSignatures rewrites the block's SIGNATURES metadata.
func editSignatures(t *testing.T, raw []byte, edit func(md *common.Metadata)) []byte {
	b := protoBlock(t, raw)
	var md common.Metadata
	if err := proto.Unmarshal(b.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES], &md); err != nil {
		t.Fatal(err)
	}
	edit(&md)
	b.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES] = encode(t, &md)
	return encode(t, b)
}

func identifierHeader(t *testing.T, id uint32) []byte {
	return encode(t, &common.IdentifierHeader{Identifier: id})
}

// TestFabricBFTTampered: each way of faking a BFT block signature fails
// on a named check (a ReceiptError on proof.block wrapping the sentinel).
func TestFabricBFTTampered(t *testing.T) {
	raw0, rcs, roots0 := goldenBFT(t)
	consenterID := func(t *testing.T, s *common.MetadataSignature) uint32 {
		var ih common.IdentifierHeader
		if err := proto.Unmarshal(s.IdentifierHeader, &ih); err != nil {
			t.Fatal(err)
		}
		return ih.Identifier
	}
	tests := []struct {
		desc    string
		tamper  func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte
		wantErr error
	}{
		{"too few distinct consenters (quorum - 1 signatures)", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			return editSignatures(t, raw, func(md *common.Metadata) { md.Signatures = md.Signatures[:roots.Fabric.Quorum()-1] })
		}, fabricblock.ErrQuorum},
		{"one signature only", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			return editSignatures(t, raw, func(md *common.Metadata) { md.Signatures = md.Signatures[:1] })
		}, fabricblock.ErrQuorum},
		{"quorum reached only by counting a consenter twice", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			return editSignatures(t, raw, func(md *common.Metadata) {
				md.Signatures = append(md.Signatures[:roots.Fabric.Quorum()-1], md.Signatures[0])
			})
		}, fabricblock.ErrDuplicateSigner},
		{"a duplicated signer (a signature repeated)", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			return editSignatures(t, raw, func(md *common.Metadata) { md.Signatures = append(md.Signatures, md.Signatures[0]) })
		}, fabricblock.ErrDuplicateSigner},
		{"a duplicated signer named once by ID and once by identity", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			return editSignatures(t, raw, func(md *common.Metadata) {
				id := consenterID(t, md.Signatures[0])
				var c block.Consenter
				for _, k := range roots.Fabric.Consenters {
					if k.ID == id {
						c = k
					}
				}
				ci, err := fabricblock.ConsenterIdentity(c)
				if err != nil {
					t.Fatal(err)
				}
				md.Signatures = append(md.Signatures, &common.MetadataSignature{
					SignatureHeader: encode(t, &common.SignatureHeader{Creator: ci.Raw}), Signature: md.Signatures[0].Signature})
			})
		}, fabricblock.ErrDuplicateSigner},
		{"a signature by a consenter ID outside the set", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			return editSignatures(t, raw, func(md *common.Metadata) { md.Signatures[0].IdentifierHeader = identifierHeader(t, 99) })
		}, fabricblock.ErrNotConsenter},
		{"a signature by a non-consenter identity (an endorsing peer)", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			b, err := fabricblock.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			tx, err := b.FindTx(rcs[0].TxID)
			if err != nil {
				t.Fatal(err)
			}
			e := tx.Endorsements[0]
			return editSignatures(t, raw, func(md *common.Metadata) {
				md.Signatures = append(md.Signatures, &common.MetadataSignature{
					SignatureHeader: encode(t, &common.SignatureHeader{Creator: e.Signer.Raw}), Signature: e.Signature})
			})
		}, fabricblock.ErrNotConsenter},
		{"a signer removed from the consenter set of the roots", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			var md common.Metadata
			proto.Unmarshal(protoBlock(t, raw).Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES], &md)
			id := consenterID(t, md.Signatures[0])
			var keep []block.Consenter
			for _, c := range roots.Fabric.Consenters {
				if c.ID != id {
					keep = append(keep, c)
				}
			}
			roots.Fabric.Consenters = keep
			return raw
		}, fabricblock.ErrNotConsenter},
		{"a consenter's signature moved to another consenter's ID", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			return editSignatures(t, raw, func(md *common.Metadata) {
				// Every consenter ID is in the block: give signature 0 the
				// ID of the consenter that did not sign, or of signer 1.
				signed := map[uint32]bool{}
				for _, s := range md.Signatures {
					signed[consenterID(t, s)] = true
				}
				other := consenterID(t, md.Signatures[1])
				for _, c := range roots.Fabric.Consenters {
					if !signed[c.ID] {
						other = c.ID
					}
				}
				md.Signatures[0].IdentifierHeader = identifierHeader(t, other)
			})
		}, fabricblock.ErrSignature},
		{"a consenter signature altered", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			return editSignatures(t, raw, func(md *common.Metadata) {
				s := append([]byte(nil), md.Signatures[0].Signature...)
				s[len(s)-3] ^= 1
				md.Signatures[0].Signature = s
			})
		}, fabricblock.ErrSignature},
		{"the consenters' organisation not trusted", func(t *testing.T, raw []byte, roots *block.TrustRoots) []byte {
			for i := range roots.Fabric.Orderers {
				roots.Fabric.Orderers[i].RootCerts = []string{foreignCA(t)}
			}
			return raw
		}, fabricblock.ErrUntrusted},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			rc := rcs[0]
			rc.KeyIDs = append([]string(nil), rc.KeyIDs...)
			roots := cloneRoots(roots0)
			raw := tt.tamper(t, append([]byte(nil), raw0...), &roots)
			_, err := VerifyFabricBlock(rc, raw, roots)
			if err == nil {
				t.Fatal("tampered block verified")
			}
			var re *ReceiptError
			if !errors.As(err, &re) || re.Field != "proof.block" {
				t.Fatalf("error %v: want a ReceiptError on proof.block", err)
			}
			t.Log(err)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v: want %v", err, tt.wantErr)
			}
		})
	}
}
