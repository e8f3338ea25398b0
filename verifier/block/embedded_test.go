package block

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

func leaves(n int) [][]byte {
	var ls [][]byte
	for i := 0; i < n; i++ {
		ls = append(ls, []byte(fmt.Sprintf("record-%d", i)))
	}
	return ls
}

// TestAuditPaths checks our tree builder against the library's verifier
// for every leaf of trees of many sizes.
func TestAuditPaths(t *testing.T) {
	h := rfc6962.DefaultHasher
	for n := 1; n <= 70; n++ {
		ls := leaves(n)
		root := DataHash(ls)
		paths := AuditPaths(ls)
		for i, l := range ls {
			if err := proof.VerifyInclusion(h, uint64(i), uint64(n), h.HashLeaf(l), paths[i], root); err != nil {
				t.Fatalf("n=%d leaf %d: %v", n, i, err)
			}
		}
	}
	if got := DataHash(nil); string(got) != string(h.EmptyRoot()) {
		t.Fatal("empty root")
	}
}

func newKey(t *testing.T) (*ecdsa.PrivateKey, TrustRoots) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := NewKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k, TrustRoots{Ledger: "test", Kind: "embedded", Keys: []Key{pk}}
}

func TestEmbeddedBlockVerify(t *testing.T) {
	key, roots := newKey(t)
	ls := leaves(10)
	b := Embedded{Version: EmbeddedVersion, Header: Header{Number: 3, PreviousHash: make([]byte, 32), DataHash: DataHash(ls)}, Records: ls}
	b.Seal = Seal{Ledger: "test", Number: 3, Time: "2026-11-23T09:00:00.000Z"}
	b.Seal.BlockHash = fmt.Sprintf("%x", b.Hash())
	if err := b.Seal.Sign(key); err != nil {
		t.Fatal(err)
	}
	if err := b.Verify(roots); err != nil {
		t.Fatal(err)
	}
	raw, _ := b.Marshal()
	back, err := ParseEmbedded(raw)
	if err != nil || back.Verify(roots) != nil {
		t.Fatalf("round trip: %v", err)
	}

	_, other := newKey(t)
	other.Ledger = "test"
	if err := b.Verify(other); !errors.Is(err, ErrUntrustedKey) {
		t.Errorf("foreign roots: %v", err)
	}
	// A trust root whose key ID was kept but whose key was swapped.
	swapped := TrustRoots{Ledger: "test", Keys: []Key{{ID: roots.Keys[0].ID, Algorithm: KeyAlgorithm, PublicKey: other.Keys[0].PublicKey}}}
	if err := b.Verify(swapped); err == nil {
		t.Error("swapped key accepted")
	}
	tampered := b
	tampered.Records = append([][]byte{[]byte("forged")}, ls[1:]...)
	if err := tampered.Verify(roots); err == nil {
		t.Error("changed record accepted")
	}
	retimed := b
	retimed.Seal.Time = "2020-01-01T00:00:00.000Z"
	if err := retimed.Verify(roots); !errors.Is(err, ErrSignature) {
		t.Errorf("changed time: %v", err)
	}
}

// TestTree: Tree's root is DataHash and its paths prove every leaf, for
// trees of every shape up to 70 leaves.
func TestTree(t *testing.T) {
	for n := 0; n <= 70; n++ {
		ls := make([][]byte, n)
		for i := range ls {
			ls[i] = []byte(fmt.Sprintf("leaf %d of %d", i, n))
		}
		root, paths := Tree(ls)
		if want := DataHash(ls); !bytes.Equal(root, want) {
			t.Fatalf("n=%d: root %x, DataHash %x", n, root, want)
		}
		if len(paths) != n {
			t.Fatalf("n=%d: %d paths", n, len(paths))
		}
		for i, p := range paths {
			if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(i), uint64(n), rfc6962.DefaultHasher.HashLeaf(ls[i]), p, root); err != nil {
				t.Fatalf("n=%d, leaf %d: %v", n, i, err)
			}
		}
	}
}
