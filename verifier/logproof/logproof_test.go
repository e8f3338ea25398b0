package logproof_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-node/evidence-node/verifier/logproof"
)

const origin = "evidence-test/logproof"

type fixture struct {
	tree             *testonly.Tree
	logKey           string
	logSigner        note.Signer
	wKeys            []string
	wSigners         []note.Signer
	leaves           [][]byte
	checkpointSigned []byte
}

func newFixture(t *testing.T, n int, witnesses int) *fixture {
	t.Helper()
	f := &fixture{tree: testonly.New(rfc6962.DefaultHasher)}
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	f.logKey = vkey
	if f.logSigner, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < witnesses; i++ {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		name := fmt.Sprintf("witness-%d.example", i)
		vk, _ := note.NewEd25519VerifierKey(name, pub)
		ck, err := fnote.VKeyToCosignatureV1(vk)
		if err != nil {
			t.Fatal(err)
		}
		sk := fmt.Sprintf("PRIVATE+KEY+%s+%s+%s", name, strings.Split(vk, "+")[1], encode(append([]byte{1}, priv.Seed()...)))
		s, err := fnote.NewSignerForCosignatureV1(sk)
		if err != nil {
			t.Fatal(err)
		}
		f.wKeys, f.wSigners = append(f.wKeys, ck), append(f.wSigners, s)
	}
	for i := 0; i < n; i++ {
		l := []byte(fmt.Sprintf(`{"record":%d}`, i))
		f.leaves = append(f.leaves, l)
		f.tree.AppendData(l)
	}
	body := logproof.Checkpoint{Origin: origin, Size: uint64(n), Root: f.tree.Hash()}.Body()
	signers := append([]note.Signer{f.logSigner}, f.wSigners...)
	if f.checkpointSigned, err = note.Sign(&note.Note{Text: body}, signers...); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) proof(t *testing.T, i uint64) string {
	t.Helper()
	p, err := f.tree.InclusionProof(i, f.tree.Size())
	if err != nil {
		t.Fatal(err)
	}
	return logproof.Proof{Index: i, Hashes: p, Checkpoint: f.checkpointSigned}.Marshal()
}

func TestVerifyProof(t *testing.T) {
	f := newFixture(t, 13, 2)
	trust := logproof.Trust{Origin: origin, Key: f.logKey, Witnesses: f.wKeys, Quorum: 2}
	for i := range f.leaves {
		v, p, err := logproof.VerifyProof(f.leaves[i], f.proof(t, uint64(i)), trust)
		if err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
		if p.Index != uint64(i) || v.Size != 13 || len(v.Cosignatures) != 2 {
			t.Fatalf("leaf %d: %+v %+v", i, p, v)
		}
		if d := time.Since(v.Cosignatures[0].Time); d < 0 || d > time.Hour {
			t.Errorf("cosignature time %v", v.Cosignatures[0].Time)
		}
	}
	good := f.proof(t, 5)
	for _, c := range []struct {
		desc  string
		leaf  []byte
		text  string
		trust logproof.Trust
		want  error
	}{
		{"another leaf", f.leaves[6], good, trust, nil},
		{"another index", f.leaves[5], strings.Replace(good, "index 5", "index 6", 1), trust, nil},
		{"another origin", f.leaves[5], good, logproof.Trust{Origin: origin + "x", Key: f.logKey}, logproof.ErrCheckpoint},
		{"another log key", f.leaves[5], good, logproof.Trust{Origin: origin, Key: newFixture(t, 1, 0).logKey}, logproof.ErrCheckpoint},
		{"quorum of 3", f.leaves[5], good, logproof.Trust{Origin: origin, Key: f.logKey, Witnesses: f.wKeys, Quorum: 3}, logproof.ErrQuorum},
		{"untrusted witnesses", f.leaves[5], good, logproof.Trust{Origin: origin, Key: f.logKey, Witnesses: newFixture(t, 1, 1).wKeys, Quorum: 1}, logproof.ErrQuorum},
		{"no header", f.leaves[5], strings.TrimPrefix(good, "c2sp.org/tlog-proof@v1\n"), trust, logproof.ErrProof},
		{"extra line", f.leaves[5], strings.Replace(good, "@v1\n", "@v1\nextra AA==\n", 1), trust, logproof.ErrProof},
		{"index 05", f.leaves[5], strings.Replace(good, "index 5", "index 05", 1), trust, logproof.ErrProof},
		{"short hash", f.leaves[5], strings.Replace(good, "index 5\n", "index 5\nAAAA\n", 1), trust, logproof.ErrProof},
		{"no checkpoint", f.leaves[5], good[:strings.Index(good, "\n\n")+2], trust, logproof.ErrProof},
		{"altered root", f.leaves[5], alterRoot(good), trust, logproof.ErrCheckpoint},
	} {
		_, _, err := logproof.VerifyProof(c.leaf, c.text, c.trust)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: %v, want %v", c.desc, err, c.want)
		}
	}
}

// alterRoot flips a character of the checkpoint's root line.
func alterRoot(s string) string {
	i := strings.Index(s, "\n\n") + 2
	lines := strings.SplitN(s[i:], "\n", 4)
	r := []byte(lines[2])
	if r[0] == 'A' {
		r[0] = 'B'
	} else {
		r[0] = 'A'
	}
	lines[2] = string(r)
	return s[:i] + strings.Join(lines, "\n")
}

func TestParseBody(t *testing.T) {
	root := encode(make([]byte, 32))
	if _, err := logproof.ParseBody("o\n3\n" + root + "\n"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"", "o\n3\n" + root, "o\n03\n" + root + "\n", "o\n-1\n" + root + "\n", "\n3\n" + root + "\n",
		"o\n3\n" + root + "\next\n", "o\n3\nAAAA\n", "o\n3\n" + strings.TrimRight(root, "=") + "\n"} {
		if _, err := logproof.ParseBody(s); !errors.Is(err, logproof.ErrCheckpoint) {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestConsistency(t *testing.T) {
	f := newFixture(t, 20, 0)
	for _, old := range []uint64{1, 7, 16, 19, 20} {
		p, err := f.tree.ConsistencyProof(old, 20)
		if err != nil {
			t.Fatal(err)
		}
		if err := logproof.VerifyConsistency(old, 20, p, f.tree.HashAt(old), f.tree.Hash()); err != nil {
			t.Errorf("%d→20: %v", old, err)
		}
		if old < 20 {
			if err := logproof.VerifyConsistency(old, 20, p, f.tree.HashAt(old+1), f.tree.Hash()); err == nil {
				t.Errorf("%d→20 with a wrong old root verified", old)
			}
		}
	}
}
