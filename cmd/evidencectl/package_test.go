package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
)

// TestVerifyPackage runs the real binaries: a node on 127.0.0.1, evidence
// submitted, its package downloaded with "evidencectl package", and
// "evidencectl verify-package" on the fresh package and on packages
// tampered with as a forger would (manifest recomputed where that gets
// further). Each failure must name its cause.
func TestVerifyPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := t.TempDir()
	for _, cmd := range []string{"evidenced", "evidencectl"} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "github.com/evidence-node/evidence-node/cmd/"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("building %s: %v\n%s", cmd, err, out)
		}
	}
	ctl := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "evidencectl"), args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return out.String(), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}

	data, work := t.TempDir(), t.TempDir()
	out, code := ctl("platform", "add", "acme", "--data", data)
	if code != 0 {
		t.Fatalf("platform add: %s", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	nodeURL := startNode(t, filepath.Join(bin, "evidenced"), data)
	node := []string{"--node", nodeURL, "--key", key}

	contract := filepath.Join(work, "contract.pdf")
	os.WriteFile(contract, []byte("%PDF-1.7\n% 采购合同 HT-2026-001, signed\n%%EOF\n"), 0o600)
	submit := func(args ...string) verifier.Receipt {
		t.Helper()
		out, code := ctl(append(append([]string{"submit"}, args...), node...)...)
		if code != 0 {
			t.Fatalf("submit: %d %s", code, out)
		}
		var rc verifier.Receipt
		if err := json.Unmarshal([]byte(out), &rc); err != nil {
			t.Fatalf("submit: %v\n%s", err, out)
		}
		return rc
	}
	rc := submit(contract)
	other := submit("--text", "another contract")
	if other.BlockNumber == rc.BlockNumber {
		t.Fatalf("both records in block %d", rc.BlockNumber)
	}

	// Download the package, the certificate alone, and another record's package.
	pkg := filepath.Join(work, "package.pdf")
	out, code = ctl(append([]string{"package", rc.ID, "-o", pkg}, node...)...)
	if code != 0 || !strings.Contains(out, "fingerprint") {
		t.Fatalf("package: %d %s", code, out)
	}
	pkgBytes, _ := os.ReadFile(pkg)
	sum := sha256.Sum256(pkgBytes)
	if !strings.Contains(out, hex.EncodeToString(sum[:])) {
		t.Errorf("package prints a fingerprint other than the file's SHA-256: %s", out)
	}
	certPath := filepath.Join(work, "certificate.pdf")
	if out, code := ctl(append([]string{"package", rc.ID, "--certificate", "-o", certPath}, node...)...); code != 0 {
		t.Fatalf("package --certificate: %d %s", code, out)
	}
	otherPkg := filepath.Join(work, "other.pdf")
	if out, code := ctl(append([]string{"package", other.ID, "-o", otherPkg}, node...)...); code != 0 {
		t.Fatalf("package of the other record: %d %s", code, out)
	}
	// One character changed to another (an ID whose sixth is already X
	// would stay itself: one run in 32 failed so).
	typo := "X"
	if rc.ID[5] == 'X' {
		typo = "Y"
	}
	if out, code := ctl(append([]string{"package", rc.ID[:5] + typo + rc.ID[6:], "-o", filepath.Join(work, "x.pdf")}, node...)...); code != 3 || !strings.Contains(out, "id_") {
		t.Errorf("package of a mistyped ID: %d %s", code, out)
	}
	roots := filepath.Join(work, "ledger.json")
	resp, err := http.Get(nodeURL + "/api/v1/ledger")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	os.WriteFile(roots, b, 0o600)

	// Tampered packages: the certificate with edited attachments.
	cert, _ := os.ReadFile(certPath)
	files := attachments(t, pkg)
	blockName := evpkg.BlockName(block.KindEmbedded, rc.BlockNumber)
	repack := func(name string, edit func(map[string][]byte), relist bool) string {
		t.Helper()
		m := map[string][]byte{}
		for k, v := range files {
			m[k] = bytes.Clone(v)
		}
		edit(m)
		if relist {
			manifest(t, m)
		}
		var att []pdf.File
		for k, v := range m {
			att = append(att, pdf.File{Name: k, Data: v})
		}
		doc, err := pdf.AttachFiles(cert, att)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(work, name)
		os.WriteFile(path, doc, 0o600)
		return path
	}
	changedByte := repack("changed-byte.pdf", func(m map[string][]byte) { m[blockName][30] ^= 1 }, false)
	otherBlock := attachments(t, otherPkg)[evpkg.BlockName(block.KindEmbedded, other.BlockNumber)]
	movedBlock := repack("other-block.pdf", func(m map[string][]byte) { m[blockName] = otherBlock }, true)
	sk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, _ := block.NewKey(&sk.PublicKey)
	swapped, _ := json.Marshal(block.TrustRoots{Ledger: rc.Ledger, Kind: "embedded", Keys: []block.Key{k}})
	swappedRoots := repack("swapped-roots.pdf", func(m map[string][]byte) { m[evpkg.TrustRootsName] = swapped }, true)
	swappedFile := filepath.Join(work, "swapped-roots.json")
	os.WriteFile(swappedFile, swapped, 0o600)
	wrong := filepath.Join(work, "wrong.pdf")
	os.WriteFile(wrong, []byte("%PDF-1.7\n% 采购合同 HT-2026-002, signed\n%%EOF\n"), 0o600)
	notPDF := filepath.Join(work, "not.pdf")
	os.WriteFile(notPDF, []byte("hello"), 0o600)

	for _, tc := range []struct {
		desc string
		args []string
		code int
		want []string
	}{
		{"fresh package, the original, pinned roots", []string{"verify-package", pkg, "--file", contract, "--trust", roots}, 0,
			[]string{"PASS", "[pass] digest_match", "[pass] on_ledger", "[pass] proof_intact", "pinned", hex.EncodeToString(sum[:])}},
		{"fresh package, no original", []string{"verify-package", pkg}, 0, []string{"PASS", "[skip] digest_match", "the package's own"}},
		{"fresh package, the digest", []string{"verify-package", pkg, "--digest", rc.DigestBase64}, 0, []string{"[pass] digest_match"}},
		{"wrong original", []string{"verify-package", pkg, "--file", wrong, "--trust", roots}, 1,
			[]string{"FAIL", "[FAIL] digest_match", "differs from the recorded", "[pass] on_ledger", "[pass] proof_intact"}},
		{"a changed attachment byte", []string{"verify-package", changedByte, "--file", contract}, 1,
			[]string{"[FAIL] proof_intact", blockName + ": differs from the manifest"}},
		{"a block from another position", []string{"verify-package", movedBlock, "--file", contract}, 1,
			[]string{"[FAIL] on_ledger", "block is number", "the receipt names"}},
		{"a swapped trust root", []string{"verify-package", swappedRoots, "--file", contract}, 1,
			[]string{"[FAIL] proof_intact", "signing key is not among the trust roots"}},
		{"pinned roots that do not hold the ledger's key", []string{"verify-package", pkg, "--trust", swappedFile}, 1,
			[]string{"[FAIL] proof_intact", "signing key is not among the trust roots", "differ"}},
		{"not a package", []string{"verify-package", notPDF}, 1, []string{"[FAIL] proof_intact", "not a readable evidence package"}},
		{"no package", []string{"verify-package"}, 2, []string{"want one PACKAGE.pdf"}},
		{"two originals", []string{"verify-package", pkg, "--file", contract, "--text", "x"}, 2, []string{"at most one"}},
		{"missing package file", []string{"verify-package", filepath.Join(work, "none.pdf")}, 2, []string{"no such file"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			out, code := ctl(tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}

	// --json: the checks as the API gives them, with the fingerprint.
	out, code = ctl("verify-package", pkg, "--file", contract, "--json")
	var r evpkg.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("--json: %d %v\n%s", code, err, out)
	}
	if r.Fingerprint != hex.EncodeToString(sum[:]) || len(r.Checks) != 3 || r.Checks[0].Name != verifier.CheckDigestMatch || r.ID != rc.ID {
		t.Errorf("--json: %+v", r)
	}
	if r.Document == nil || !r.Document.Pass || r.Document.Name != evpkg.CheckDocumentSigned || r.Signer == "" {
		t.Errorf("--json: the fresh package's signature check: %+v", r.Document)
	}

	bitFlips(t, pkg, certPath, roots)
}

// bitFlips: every byte of a package and of a certificate is bound. poppler
// reports the fresh files signed and unmodified; 200 random single-bit
// flips over each make verify-package (the command's own code, in this
// process) fail, the certificate's on its document signature.
func bitFlips(t *testing.T, pkg, cert, roots string) {
	for _, f := range []string{pkg, cert} {
		out, _ := exec.Command("pdfsig", f).CombinedOutput()
		if !strings.Contains(string(out), "Signature is Valid") || !strings.Contains(string(out), "Total document signed") {
			t.Fatalf("pdfsig %s:\n%s", filepath.Base(f), out)
		}
	}
	seed := time.Now().UnixNano()
	if s := os.Getenv("EVIDENCE_FLIP_SEED"); s != "" {
		fmt.Sscan(s, &seed)
	}
	rng := mrand.New(mrand.NewPCG(uint64(seed), 0))
	t.Logf("bit flips: seed %d (EVIDENCE_FLIP_SEED reproduces)", seed)
	dir := t.TempDir()
	for _, f := range []string{pkg, cert} {
		orig, _ := os.ReadFile(f)
		verify := func(doc []byte) (evpkg.Result, bool) {
			p := filepath.Join(dir, "flipped.pdf")
			os.WriteFile(p, doc, 0o600)
			var out, errb bytes.Buffer
			pass, err := cmdVerifyPackage([]string{p, "--trust", roots, "--json"}, &out, &errb)
			var r evpkg.Result
			json.Unmarshal(out.Bytes(), &r)
			return r, err == nil && pass
		}
		fresh, pass := verify(orig)
		if fresh.Document == nil || !fresh.Document.Pass {
			t.Fatalf("%s fresh: the document signature does not verify: %+v", filepath.Base(f), fresh.Document)
		}
		if f == pkg && !pass {
			t.Fatalf("the fresh package does not verify: %+v", fresh)
		}
		caught := 0
		for i := 0; i < 200; i++ {
			doc := append([]byte(nil), orig...)
			off := rng.IntN(len(doc))
			doc[off] ^= 1 << rng.IntN(8)
			r, pass := verify(doc)
			if pass || (r.Document != nil && r.Document.Pass) {
				t.Errorf("%s: a flip at byte %d of %d passed (document check %+v)", filepath.Base(f), off, len(doc), r.Document)
				continue
			}
			caught++
		}
		t.Logf("%s: %d of 200 single-bit flips caught", filepath.Base(f), caught)
	}
}

// startNode starts evidenced on 127.0.0.1:0 and returns its URL.
func startNode(t *testing.T, bin, data string, extra ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--data", data, "--listen", "127.0.0.1:0"}, extra...)...)
	stdout, _ := cmd.StdoutPipe()
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening on "); ok {
				found <- u
			}
		}
	}()
	select {
	case u := <-found:
		return u
	case <-time.After(30 * time.Second):
		t.Fatalf("evidenced did not start: %s", logs.String())
	}
	return ""
}

func attachments(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files, err := pdf.ExtractAttachments(f)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, a := range files {
		m[a.Name] = a.Data
	}
	return m
}

// manifest recomputes the manifest's digests, as a forger would.
func manifest(t *testing.T, m map[string][]byte) {
	t.Helper()
	man, err := evpkg.ParseManifest(m[evpkg.ManifestName])
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range man.Files {
		man.Files[i].SHA256, man.Files[i].Size = evpkg.Digest(m[e.Name]), int64(len(m[e.Name]))
	}
	m[evpkg.ManifestName], _ = json.MarshalIndent(man, "", "  ")
}
