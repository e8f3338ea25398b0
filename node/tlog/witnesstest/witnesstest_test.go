package witnesstest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-node/evidence-node/node/tlog/witnesstest"
)

const origin = "log.evidence-node.test/witnesstest"

// testLog is a log: a Merkle tree and a key that signs its checkpoints.
type testLog struct {
	tree   *testonly.Tree
	signer note.Signer
	vkey   string
}

func newLog(t *testing.T, name string) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{tree: testonly.New(rfc6962.DefaultHasher), signer: s, vkey: vkey}
}

func (l *testLog) grow(t *testing.T, size uint64, prefix string) {
	for l.tree.Size() < size {
		l.tree.AppendData(fmt.Appendf(nil, "%s record %d", prefix, l.tree.Size()))
	}
}

// checkpoint is the signed C2SP checkpoint of the tree at size.
func (l *testLog) checkpoint(t *testing.T, size uint64) []byte {
	t.Helper()
	body := fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(l.tree.HashAt(size)))
	cp, err := note.Sign(&note.Note{Text: body}, l.signer)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func (l *testLog) consistency(t *testing.T, from, to uint64) [][]byte {
	t.Helper()
	p, err := l.tree.ConsistencyProof(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// addCheckpoint speaks c2sp.org/tlog-witness: old size line, proof lines,
// an empty line, the checkpoint.
func addCheckpoint(t *testing.T, w *witnesstest.Witness, old uint64, prf [][]byte, cp []byte) (int, string, []byte) {
	t.Helper()
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", old)
	for _, h := range prf {
		fmt.Fprintf(&body, "%s\n", base64.StdEncoding.EncodeToString(h))
	}
	body.WriteString("\n")
	body.Write(cp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL+"/add-checkpoint", &body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// checkCosigned checks that sigs (the 200 answer) is one cosignature/v1
// line by the witness over cp, made just now.
func checkCosigned(t *testing.T, w *witnesstest.Witness, l *testLog, cp, sigs []byte) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(sigs), "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "— "+w.Name+" ") {
		t.Fatalf("answer %q: want one signature line by %s", sigs, w.Name)
	}
	wv, err := fnote.NewVerifierForCosignatureV1(w.VerifierKey)
	if err != nil {
		t.Fatalf("witness verifier key %q: %v", w.VerifierKey, err)
	}
	lv, err := note.NewVerifier(l.vkey)
	if err != nil {
		t.Fatal(err)
	}
	// The cosigned checkpoint: the log's note with the witness's line added.
	n, err := note.Open(append(bytes.Clone(cp), sigs...), note.VerifierList(lv, wv))
	if err != nil {
		t.Fatalf("open the cosigned checkpoint: %v", err)
	}
	var cosig *note.Signature
	for i, s := range n.Sigs {
		if s.Name == w.Name && s.Hash == wv.KeyHash() {
			cosig = &n.Sigs[i]
		}
	}
	if cosig == nil || len(n.Sigs) != 2 {
		t.Fatalf("verified signatures %+v: want the log's and the witness's", n.Sigs)
	}
	at, err := fnote.CoSigV1Timestamp(*cosig)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(at); d < -2*time.Second || d > time.Minute {
		t.Errorf("cosignature time %v is %v from now", at, d)
	}
	// Another key by the same name does not verify it.
	other := witnesstest.CosignatureV1Key(w.Name, make([]byte, 32))
	ov, err := fnote.NewVerifierForCosignatureV1(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(append(bytes.Clone(cp), sigs...), note.VerifierList(ov)); err == nil {
		t.Error("the cosignature verified under another key")
	}
}

func TestAddCheckpoint(t *testing.T) {
	l := newLog(t, origin)
	w := witnesstest.Start(t, origin, l.vkey)

	// Size 1: trusted on first use, no proof.
	l.grow(t, 1, "a")
	cp1 := l.checkpoint(t, 1)
	code, _, body := addCheckpoint(t, w, 0, nil, cp1)
	if code != http.StatusOK {
		t.Fatalf("first checkpoint: %d %q, want 200", code, body)
	}
	checkCosigned(t, w, l, cp1, body)

	// Size 7 with an RFC 6962 consistency proof from 1.
	l.grow(t, 7, "a")
	prf := l.consistency(t, 1, 7)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 1, 7, prf, l.tree.HashAt(1), l.tree.HashAt(7)); err != nil {
		t.Fatalf("the test's own proof: %v", err)
	}
	cp7 := l.checkpoint(t, 7)
	code, _, body = addCheckpoint(t, w, 1, prf, cp7)
	if code != http.StatusOK {
		t.Fatalf("checkpoint 7: %d %q, want 200", code, body)
	}
	checkCosigned(t, w, l, cp7, body)

	// A stale old size: 409 with the witness's size.
	l.grow(t, 12, "a")
	code, ctype, body := addCheckpoint(t, w, 1, l.consistency(t, 1, 12), l.checkpoint(t, 12))
	if code != http.StatusConflict || ctype != "text/x.tlog.size" || string(body) != "7\n" {
		t.Errorf("stale old size: %d %q %q, want 409 text/x.tlog.size \"7\\n\"", code, ctype, body)
	}

	// A split view: another tree of size 12 whose first 7 records differ;
	// its own proof from 7 does not lead from the witness's size-7 root.
	fork := &testLog{tree: testonly.New(rfc6962.DefaultHasher), signer: l.signer, vkey: l.vkey}
	fork.grow(t, 12, "b")
	code, _, body = addCheckpoint(t, w, 7, fork.consistency(t, 7, 12), fork.checkpoint(t, 12))
	if code != http.StatusUnprocessableEntity {
		t.Errorf("inconsistent checkpoint: %d %q, want 422", code, body)
	}
	// A tampered proof for the real tree.
	bad := l.consistency(t, 7, 12)
	bad[0] = bytes.Repeat([]byte{0xee}, 32)
	code, _, body = addCheckpoint(t, w, 7, bad, l.checkpoint(t, 12))
	if code != http.StatusUnprocessableEntity {
		t.Errorf("tampered proof: %d %q, want 422", code, body)
	}

	// A checkpoint signed by another key under the log's name: 403.
	impostor := newLog(t, origin)
	impostor.tree = l.tree
	code, _, _ = addCheckpoint(t, w, 7, l.consistency(t, 7, 12), impostor.checkpoint(t, 12))
	refused(t, "checkpoint signed by an unknown key", code, http.StatusForbidden)

	// The real next checkpoint is still accepted.
	cp12 := l.checkpoint(t, 12)
	code, _, body = addCheckpoint(t, w, 7, l.consistency(t, 7, 12), cp12)
	if code != http.StatusOK {
		t.Fatalf("checkpoint 12: %d %q, want 200", code, body)
	}
	checkCosigned(t, w, l, cp12, body)
}

func TestUnknownLog(t *testing.T) {
	l := newLog(t, origin)
	w := witnesstest.Start(t, origin, l.vkey)
	l.grow(t, 3, "a")
	other := strings.Replace(string(l.checkpoint(t, 3)), origin, origin+"/other", 1)
	code, _, _ := addCheckpoint(t, w, 0, nil, []byte(other))
	refused(t, "checkpoint of another origin", code, http.StatusNotFound)
}

// refused checks a refusal that tlog-witness answers with want. The pinned
// omniwitness answers 500 instead in two cases: an unknown origin (its
// sqlite log lookup reports "no rows" as an error, not as an unknown log)
// and a checkpoint without a signature by the log's key (the parse error
// is not its ErrNoValidSignature). Either way the checkpoint is refused
// and not cosigned.
func refused(t *testing.T, what string, code, want int) {
	t.Helper()
	switch code {
	case want:
	case http.StatusInternalServerError:
		t.Logf("%s: 500 (tlog-witness says %d; a known divergence of the pinned witness)", what, want)
	default:
		t.Errorf("%s: %d, want %d (or the pinned witness's 500)", what, code, want)
	}
}

func TestRestartKeepsState(t *testing.T) {
	l := newLog(t, origin)
	w := witnesstest.Start(t, origin, l.vkey)
	l.grow(t, 4, "a")
	if code, _, body := addCheckpoint(t, w, 0, nil, l.checkpoint(t, 4)); code != http.StatusOK {
		t.Fatalf("first checkpoint: %d %q", code, body)
	}

	w.Stop()
	if w.Running() {
		t.Fatal("running after Stop")
	}
	if _, err := http.Post(w.URL+"/add-checkpoint", "text/plain", strings.NewReader("")); err == nil {
		t.Fatal("a stopped witness answered")
	}
	w.Restart(t)

	// The witness remembers size 4: a first-use submission is stale now.
	l.grow(t, 9, "a")
	code, _, body := addCheckpoint(t, w, 0, nil, l.checkpoint(t, 9))
	if code != http.StatusConflict || strings.TrimSpace(string(body)) != strconv.Itoa(4) {
		t.Errorf("after restart, old 0: %d %q, want 409 \"4\"", code, body)
	}
	cp9 := l.checkpoint(t, 9)
	code, _, body = addCheckpoint(t, w, 4, l.consistency(t, 4, 9), cp9)
	if code != http.StatusOK {
		t.Fatalf("after restart, checkpoint 9: %d %q", code, body)
	}
	// Same key across the restart.
	checkCosigned(t, w, l, cp9, body)
}
