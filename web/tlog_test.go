package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	flog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/web"
	"github.com/evidence-node/evidence-node/web/webtest"
)

// httpTiles is a tlog.TileReader of a C2SP tlog-tiles server: x/mod's
// tile paths ("tile/8/0/x001/234") without the height
// ("tile/0/x001/234").
type httpTiles struct {
	t    *testing.T
	base string
}

func (h httpTiles) Height() int { return 8 }

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tl := range tiles {
		p := strings.Replace(tl.Path(), "tile/8/", "tile/", 1)
		b, err := get(h.base + "/" + p)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (h httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func get(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b, nil
}

func submit(t *testing.T, n *webtest.Node, text string) verifier.Receipt {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"type": "text", "text": text})
	req, _ := http.NewRequest("POST", n.URL+"/api/v1/evidence", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+n.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		t.Fatalf("submit: %d %s", resp.StatusCode, b)
	}
	var rc verifier.Receipt
	if err := json.Unmarshal(b, &rc); err != nil {
		t.Fatal(err)
	}
	return rc
}

// TestTlogClientVerifiesReceipt (issue 12, acceptance 1): a tlog client
// that knows nothing of this code base but the C2SP formats —
// golang.org/x/mod/sumdb/tlog reading our tiles over HTTP, checked against
// our checkpoint (parsed by transparency-dev/formats, its signature by
// x/mod's note) — finds a receipt's record in the entry bundles and
// verifies its inclusion.
func TestTlogClientVerifiesReceipt(t *testing.T) {
	n := webtest.Start(t, webtest.Options{})
	var rcs []verifier.Receipt
	for i := 0; i < 300; i++ { // more than one full tile: 300 = 256 + 44
		rcs = append(rcs, submit(t, n, fmt.Sprintf("合同第 %d 号", i)))
	}
	if err := n.Log.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}

	cpNote, err := get(n.URL + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	lv, err := note.NewVerifier(n.LogKey)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, _, err := flog.ParseCheckpoint(cpNote, n.Origin, lv)
	if err != nil {
		t.Fatalf("checkpoint %q: %v", cpNote, err)
	}
	if cp.Size != uint64(len(rcs)) {
		t.Fatalf("checkpoint size %d, want %d", cp.Size, len(rcs))
	}
	var root tlog.Hash
	copy(root[:], cp.Hash)
	tree := tlog.Tree{N: int64(cp.Size), Hash: root}
	hr := tlog.TileHashReader(tree, httpTiles{t, n.URL})

	for _, rc := range []verifier.Receipt{rcs[0], rcs[255], rcs[256], rcs[299]} {
		// Find the record in the entry bundles, as a mirror would.
		idx := int64(-1)
		for b := int64(0); b*256 < tree.N && idx < 0; b++ {
			w := min(256, tree.N-b*256)
			tl := tlog.Tile{H: 8, L: -1, N: b, W: int(w)}
			p := strings.Replace(tl.Path(), "tile/8/data/", "tile/entries/", 1)
			bundle, err := get(n.URL + "/" + p)
			if err != nil {
				t.Fatal(err)
			}
			for i := int64(0); len(bundle) > 0; i++ {
				l := int(binary.BigEndian.Uint16(bundle))
				if bytes.Equal(bundle[2:2+l], rc.Proof.Record) {
					idx = b*256 + i
				}
				bundle = bundle[2+l:]
			}
		}
		if idx < 0 {
			t.Fatalf("record %s not in the entry bundles", rc.ID)
		}
		p, err := tlog.ProveRecord(tree.N, idx, hr)
		if err != nil {
			t.Fatalf("prove %d from the tiles: %v", idx, err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, idx, tlog.RecordHash(rc.Proof.Record)); err != nil {
			t.Fatalf("record %d: %v", idx, err)
		}
		// The same proof is the RFC 6962 one.
		prf := make([][]byte, len(p))
		for i := range p {
			prf[i] = p[i][:]
		}
		if err := proof.VerifyInclusion(rfc6962.DefaultHasher, uint64(idx), cp.Size, rfc6962.DefaultHasher.HashLeaf(rc.Proof.Record), prf, cp.Hash); err != nil {
			t.Fatal(err)
		}
	}
	// A tampered tile is caught by the client.
	bad := tlog.TileHashReader(tree, tamper{httpTiles{t, n.URL}})
	if _, err := tlog.ProveRecord(tree.N, 3, bad); err == nil {
		t.Error("a tampered tile verified")
	}

	// Consistency: from an old checkpoint to the new one.
	old := tlog.Tree{N: 100}
	if old.Hash, err = tlog.TreeHash(100, hr); err != nil {
		t.Fatal(err)
	}
	b, err := get(fmt.Sprintf("%s/api/v1/proof/consistency?old=100&new=%d", n.URL, cp.Size))
	if err != nil {
		t.Fatal(err)
	}
	var cv web.ConsistencyView
	if err := json.Unmarshal(b, &cv); err != nil {
		t.Fatal(err)
	}
	tp := make(tlog.TreeProof, len(cv.Proof))
	for i, s := range cv.Proof {
		h, _ := base64.StdEncoding.DecodeString(s)
		copy(tp[i][:], h)
	}
	if err := tlog.CheckTree(tp, tree.N, tree.Hash, old.N, old.Hash); err != nil {
		t.Fatalf("consistency 100→%d: %v", tree.N, err)
	}
}

type tamper struct{ httpTiles }

func (h tamper) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out, err := h.httpTiles.ReadTiles(tiles)
	if err == nil && len(out) > 0 && len(out[0]) > 0 {
		out[0][0] ^= 1
	}
	return out, err
}

// TestTlogBadInput: clear errors, nothing served for bad paths and sizes.
func TestTlogBadInput(t *testing.T) {
	n := webtest.Start(t, webtest.Options{})
	// Before any record: no checkpoint.
	code, b := status(t, n.URL+"/checkpoint")
	if code != 404 || !strings.Contains(b, `"not_found"`) {
		t.Errorf("empty log checkpoint: %d %s", code, b)
	}
	for i := 0; i < 3; i++ {
		submit(t, n, fmt.Sprint("x", i))
	}
	if err := n.Log.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		code int
		err  string
	}{
		{"/checkpoint", 200, ""},
		{"/tile/0/000.p/3", 200, ""},
		{"/tile/entries/000.p/3", 200, ""},
		{"/tile/0/000.p/4", 404, "not_found"},
		{"/tile/0/000", 404, "not_found"},
		{"/tile/0/0", 400, "bad_request"},
		{"/tile/0/000.p/999", 400, "bad_request"},
		{"/tile/entries/abc", 400, "bad_request"},
		{"/tile/", 400, "bad_request"},
		{"/api/v1/proof/consistency?old=1&new=3", 200, ""},
		{"/api/v1/proof/consistency?old=2&new=2", 200, ""},
		{"/api/v1/proof/consistency?old=0&new=3", 400, "bad_request"},
		{"/api/v1/proof/consistency?old=1&new=4", 400, "bad_request"},
		{"/api/v1/proof/consistency?old=01&new=3", 400, "bad_request"},
		{"/api/v1/proof/consistency?old=1", 400, "bad_request"},
		{"/api/v1/proof/consistency?old=-1&new=3", 400, "bad_request"},
	} {
		code, b := status(t, n.URL+c.path)
		if code != c.code || (c.err != "" && !strings.Contains(b, `"code":"`+c.err+`"`)) {
			t.Errorf("%s: %d %.200s, want %d %s", c.path, code, b, c.code, c.err)
		}
	}
}

func status(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
