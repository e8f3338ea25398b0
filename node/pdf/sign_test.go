package pdf

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/evidence-node/evidence-node/node/pdf/pdftest"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/pdfsig"
)

var updatePdfsig = flag.Bool("update-pdfsig", false, "rewrite verifier/pdfsig/testdata")

// testSigningTime is the clock of the tests' signers.
var testSigningTime = time.Date(2026, 11, 23, 9, 54, 20, 0, time.UTC)

// testSigner returns a signer with a fresh P-256 key and a self-signed
// certificate, with Chinese texts.
func testSigner(t testing.TB) Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := SelfSigned(key, "evidence-local 存证节点", testSigningTime.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return Signer{
		Key: key, Chain: []*x509.Certificate{cert},
		Name: "存证节点 evidence-local", Reason: "电子证据包 (evidence package)", Location: "北京 Beijing",
		ContactInfo: "ops@example.cn", Clock: func() time.Time { return testSigningTime },
	}
}

func keyID(t testing.TB, s Signer) string {
	t.Helper()
	id, err := block.KeyID(s.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// testPackage renders a certificate and a package (receipt, block,
// trust roots, manifest and an original of originalSize bytes) with the real renderer.
func testPackage(t testing.TB, originalSize int) (cert, pkg []byte, files []File) {
	t.Helper()
	r := renderer(t)
	cert, err := r.Certificate(context.Background(), sampleReceipt(t), CertOptions{BaseURL: "http://127.0.0.1:8080", ManifestDigest: strings.Repeat("9f", 32)})
	if err != nil {
		t.Fatal(err)
	}
	orig := make([]byte, originalSize)
	mrand.NewChaCha8([32]byte{1}).Read(orig)
	mod := time.Date(2026, 11, 23, 9, 54, 19, 0, time.UTC)
	files = []File{
		{Name: "manifest.json", Data: []byte(`{"format":"evidence-package","v":1}`), ModTime: mod},
		{Name: "receipt.json", Data: []byte(`{"id":"01M83X7VSK89V4F2ZGF28CEZDZ2"}`), ModTime: mod},
		{Name: "block-12.json", Data: []byte(`{"header":{"number":12}}`), ModTime: mod},
		{Name: "trust-roots.json", Data: []byte(`{"ledger":"evidence-local","kind":"embedded","keys":[]}`), ModTime: mod},
		{Name: "original.bin", Description: "the original evidence file", Data: orig, ModTime: mod},
	}
	pkg, err = AttachFiles(cert, files)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pkg, files
}

// poppler runs poppler's pdfsig on doc and returns, per signature, its
// "  - Key: Value" lines (a line without a colon is a key with value "").
func poppler(t testing.TB, doc []byte) []map[string]string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(path, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool(t, "pdfsig"), path).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfsig: %v\n%s", err, out)
	}
	var sigs []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Signature #") {
			sigs = append(sigs, map[string]string{})
			continue
		}
		item, ok := strings.CutPrefix(line, "  - ")
		if !ok || len(sigs) == 0 {
			continue
		}
		k, v, _ := strings.Cut(item, ": ")
		sigs[len(sigs)-1][k] = v
	}
	return sigs
}

// checkPoppler asserts that poppler's pdfsig finds one signature, valid
// and covering the whole document.
func checkPoppler(t *testing.T, doc []byte, s Signer) {
	t.Helper()
	sigs := poppler(t, doc)
	if len(sigs) != 1 {
		t.Fatalf("pdfsig found %d signatures, want 1: %v", len(sigs), sigs)
	}
	for k, want := range map[string]string{
		"Signature Validation":           "Signature is Valid.",
		"Signature Type":                 "ETSI.CAdES.detached",
		"Signing Hash Algorithm":         "SHA-256",
		"Signer Certificate Common Name": s.Chain[0].Subject.CommonName,
		"Signing Time":                   testSigningTime.Format("Jan 02 2006 15:04:05"),
		"Total document signed":          "",
	} {
		if got, ok := sigs[0][k]; !ok || got != want {
			t.Errorf("pdfsig %q = %q (present %v), want %q\n%v", k, got, ok, want, sigs[0])
		}
	}
	t.Logf("pdfsig: %v", sigs[0])
}

// checkSigned runs every check of a fresh signature of doc.
func checkSigned(t *testing.T, doc, signed []byte, s Signer) pdfsig.Result {
	t.Helper()
	renderer(t) // pdfcpu's configuration, for Inspect
	if !bytes.HasPrefix(signed, doc) {
		t.Fatal("the signed document does not start with the original bytes")
	}
	res, err := pdfsig.Verify(signed)
	if err != nil {
		t.Fatalf("pdfsig.Verify: %v", err)
	}
	if got, want := res.KeyID, keyID(t, s); got != want || !res.PublicKey.Equal(s.Key.Public()) {
		t.Errorf("key ID = %s, want %s", got, want)
	}
	if !res.Certificate.Equal(s.Chain[0]) {
		t.Error("Verify returned another certificate")
	}
	if res.ByteRange[0] != 0 || res.ByteRange[2]+res.ByteRange[3] != int64(len(signed)) {
		t.Errorf("ByteRange %v does not cover the %d bytes", res.ByteRange, len(signed))
	}
	if res.SubFilter != "ETSI.CAdES.detached" || res.Filter != "Adobe.PPKLite" {
		t.Errorf("SubFilter %q, Filter %q", res.SubFilter, res.Filter)
	}
	if !res.Time.Equal(testSigningTime) || res.Name != s.Name || res.Reason != s.Reason || res.Location != s.Location || res.ContactInfo != s.ContactInfo {
		t.Errorf("dictionary texts: time %v name %q reason %q location %q contact %q", res.Time, res.Name, res.Reason, res.Location, res.ContactInfo)
	}
	checkPoppler(t, signed, s)
	checkCMS(t, signed, res)

	// pdfcpu reads it and, with the node's own integrity check, finds the
	// signature intact and covering the whole file.
	if err := api.Validate(bytes.NewReader(signed), config()); err != nil {
		t.Errorf("pdfcpu validate: %v", err)
	}
	info, err := Inspect(bytes.NewReader(signed))
	if err != nil || len(info.Signatures) != 1 {
		t.Fatalf("inspect: %+v, %v", info, err)
	}
	if sig := info.Signatures[0]; !sig.Signed || sig.Integrity != Intact || !sig.WholeDocument || sig.SubFilter != "ETSI.CAdES.detached" {
		t.Errorf("inspect: %+v", sig)
	}
	return res
}

// checkCMS reads the signature with github.com/digitorus/pkcs7, a CMS
// implementation apart from pdfsig's, and checks the PAdES attributes.
func checkCMS(t *testing.T, signed []byte, res pdfsig.Result) {
	t.Helper()
	a, b := res.ByteRange[1], res.ByteRange[2]
	der, err := hex.DecodeString(string(signed[a+1 : b-1]))
	if err != nil {
		t.Fatal(err)
	}
	der = trimZeros(der)
	p7, err := pkcs7.Parse(der)
	if err != nil {
		t.Fatalf("pkcs7.Parse: %v", err)
	}
	p7.Content = append(append([]byte{}, signed[:a]...), signed[b:]...)
	if err := p7.Verify(); err != nil {
		t.Errorf("pkcs7 Verify: %v", err)
	}
	if len(p7.Signers) != 1 {
		t.Fatalf("%d signers", len(p7.Signers))
	}
	var types []string
	for _, at := range p7.Signers[0].AuthenticatedAttributes {
		types = append(types, at.Type.String())
	}
	if got, want := strings.Join(types, " "), "1.2.840.113549.1.9.3 1.2.840.113549.1.9.4 1.2.840.113549.1.9.16.2.47"; got != want {
		t.Errorf("signed attributes %s, want content-type, message-digest, signing-certificate-v2 (and no signing-time)", got)
	}
	if got := p7.Signers[0].DigestEncryptionAlgorithm.Algorithm.String(); got != "1.2.840.10045.4.3.2" {
		t.Errorf("signature algorithm %s, want ecdsa-with-SHA256", got)
	}
	if len(p7.Signers[0].UnauthenticatedAttributes) != 0 {
		t.Error("unsigned attributes")
	}
}

// trimZeros drops the zero padding after one DER element.
func trimZeros(b []byte) []byte {
	if len(b) < 2 {
		return b
	}
	n := int(b[1])
	hdr := 2
	if n&0x80 != 0 {
		l := n & 0x7f
		n = 0
		for i := 0; i < l; i++ {
			n = n<<8 | int(b[2+i])
		}
		hdr += l
	}
	return b[:hdr+n]
}

func TestSignCertificate(t *testing.T) {
	r := renderer(t)
	doc, err := r.Certificate(context.Background(), sampleReceipt(t), CertOptions{BaseURL: "http://127.0.0.1:8080"})
	if err != nil {
		t.Fatal(err)
	}
	s := testSigner(t)
	start := time.Now()
	signed, err := Sign(doc, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("signed a %d-byte certificate in %v (+%d bytes)", len(doc), time.Since(start), len(signed)-len(doc))
	os.WriteFile(filepath.Join(outDir(t), "certificate-signed.pdf"), signed, 0o644)
	checkSigned(t, doc, signed, s)

	// The page still shows the certificate.
	path := filepath.Join(t.TempDir(), "c.pdf")
	os.WriteFile(path, signed, 0o644)
	out, err := exec.Command(tool(t, "pdftotext"), path, "-").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "存证证书") {
		t.Errorf("pdftotext of the signed certificate: %v\n%s", err, out)
	}
}

func TestSignPackage(t *testing.T) {
	_, pkg, files := testPackage(t, 1<<20)
	s := testSigner(t)
	start := time.Now()
	signed, err := Sign(pkg, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("signed a %d-byte package in %v", len(pkg), time.Since(start))
	os.WriteFile(filepath.Join(outDir(t), "package-signed.pdf"), signed, 0o644)
	checkSigned(t, pkg, signed, s)

	// The attachments come out byte-identical, with pdfcpu and poppler.
	got, err := ExtractAttachments(bytes.NewReader(signed))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(files) {
		t.Fatalf("extracted %d attachments, want %d", len(got), len(files))
	}
	byName := map[string][]byte{}
	for _, f := range got {
		byName[f.Name] = f.Data
	}
	for _, f := range files {
		if !bytes.Equal(byName[f.Name], f.Data) {
			t.Errorf("%s: extracted %d bytes differ from the %d attached", f.Name, len(byName[f.Name]), len(f.Data))
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "package.pdf")
	os.WriteFile(path, signed, 0o644)
	if out, err := exec.Command(tool(t, "pdfdetach"), "-saveall", "-o", dir, path).CombinedOutput(); err != nil {
		t.Fatalf("pdfdetach: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "original.bin")); !bytes.Equal(b, files[4].Data) {
		t.Error("pdfdetach extracted another original")
	}
}

// flipSeed is the seed of the bit-flip tests: EVIDENCE_FLIP_SEED, else
// random (logged, to reproduce a failure).
func flipSeed(t *testing.T) uint64 {
	if s := os.Getenv("EVIDENCE_FLIP_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return mrand.Uint64()
}

// flips flips n random single bits of doc, one at a time, and requires
// every flipped document to fail pdfsig.Verify. It returns the count of
// each error.
func flips(t *testing.T, doc []byte, n int, seed uint64) map[string]int {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	counts := map[string]int{}
	sentinels := []error{pdfsig.ErrNotSigned, pdfsig.ErrNotWholeFile, pdfsig.ErrMalformed, pdfsig.ErrUnsupported,
		pdfsig.ErrSignerCertificate, pdfsig.ErrDigestMismatch, pdfsig.ErrBadSignature}
	for range n {
		i, bit := rng.IntN(len(doc)), byte(1)<<rng.IntN(8)
		doc[i] ^= bit
		_, err := pdfsig.Verify(doc)
		doc[i] ^= bit
		if err == nil {
			t.Errorf("seed %d: flipping bit %#02x of byte %d (of %d) went unnoticed", seed, bit, i, len(doc))
			continue
		}
		name := "other"
		for _, s := range sentinels {
			if errors.Is(err, s) {
				name = strings.TrimPrefix(s.Error(), "pdfsig: ")
				break
			}
		}
		counts[name]++
	}
	return counts
}

func TestSignBitFlips(t *testing.T) {
	cert, pkg, _ := testPackage(t, 1<<20)
	s := testSigner(t)
	seed := flipSeed(t)
	t.Logf("seed %d (EVIDENCE_FLIP_SEED=%d reproduces)", seed, seed)
	for _, c := range []struct {
		name string
		doc  []byte
	}{{"certificate", cert}, {"package", pkg}} {
		signed, err := Sign(c.doc, s)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		counts := flips(t, signed, 200, seed)
		t.Logf("%s (%d bytes): 200 single-bit flips, all noticed in %v: %v", c.name, len(signed), time.Since(start), counts)
	}
}

// Every single-bit flip inside the signature's /Contents (the bytes the
// digest does not cover) fails, including the zero padding.
func TestSignContentsFlips(t *testing.T) {
	s := testSigner(t)
	signed, err := Sign(pdftest.OnePage("contents"), s)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pdfsig.Verify(signed)
	if err != nil {
		t.Fatal(err)
	}
	a, b := int(res.ByteRange[1]), int(res.ByteRange[2])
	for i := a; i < b; i++ {
		for bit := range 8 {
			signed[i] ^= 1 << bit
			if _, err := pdfsig.Verify(signed); err == nil {
				t.Errorf("flipping bit %d of byte %d (/Contents is [%d, %d)) went unnoticed", bit, i, a, b)
			}
			signed[i] ^= 1 << bit
		}
	}
	t.Logf("%d flips in /Contents, all noticed", 8*(b-a))
}

func TestSignAppended(t *testing.T) {
	s := testSigner(t)
	signed, err := Sign(pdftest.OnePage("appended"), s)
	if err != nil {
		t.Fatal(err)
	}
	for _, tail := range []string{"\n", "%%EOF\n", "x"} {
		if _, err := pdfsig.Verify(append(bytes.Clone(signed), tail...)); !errors.Is(err, pdfsig.ErrNotWholeFile) {
			t.Errorf("appending %q: %v, want ErrNotWholeFile", tail, err)
		}
	}
	if _, err := pdfsig.Verify(signed[:len(signed)-1]); !errors.Is(err, pdfsig.ErrNotWholeFile) {
		t.Errorf("cutting the last byte: %v, want ErrNotWholeFile", err)
	}

	// An incremental update after the signature: a new page content
	// object, its cross-reference section and trailer.
	upd := incrementalUpdate(t, signed)
	if _, err := pdfsig.Verify(upd); !errors.Is(err, pdfsig.ErrNotWholeFile) {
		t.Errorf("incremental update: %v, want ErrNotWholeFile", err)
	}
	if sigs := poppler(t, upd); len(sigs) != 1 {
		t.Errorf("pdfsig after an update: %v", sigs)
	} else if _, whole := sigs[0]["Total document signed"]; whole {
		t.Errorf("pdfsig says the updated document is totally signed: %v", sigs[0])
	}

	// Rewriting it (pdfcpu adding an attachment) breaks it too.
	re, err := AttachFiles(signed, []File{{Name: "extra.txt", Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pdfsig.Verify(re); err == nil {
		t.Error("a rewritten signed document verifies")
	} else {
		t.Logf("rewritten by pdfcpu: %v", err)
	}
}

// incrementalUpdate appends to doc an update that replaces object 4
// (the page content of pdftest.OnePage) with other text.
func incrementalUpdate(t *testing.T, doc []byte) []byte {
	t.Helper()
	m := regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("no startxref")
	}
	prev, _ := strconv.Atoi(string(m[1]))
	size := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(doc, -1)
	n, _ := strconv.Atoi(string(size[len(size)-1][1]))
	var b bytes.Buffer
	b.Write(doc)
	off := b.Len()
	stream := "BT /F1 18 Tf 72 720 Td (changed) Tj ET"
	fmt.Fprintf(&b, "4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", len(stream), stream)
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n4 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root 1 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", off, n, prev, xref)
	// The root is the signed revision's: find it.
	root := regexp.MustCompile(`/Root (\d+) 0 R`).FindAllSubmatch(doc, -1)
	return bytes.Replace(b.Bytes(), []byte("/Root 1 0 R /Prev"), []byte("/Root "+string(root[len(root)-1][1])+" 0 R /Prev"), 1)
}

// A document signed again by another key verifies, with that key: the
// caller's comparison of key IDs with the trust roots reports it.
func TestSignOtherKey(t *testing.T) {
	node, other := testSigner(t), testSigner(t)
	roots := block.TrustRoots{Ledger: "evidence-local", Kind: "embedded"}
	k, err := block.NewKey(node.Key.Public().(*ecdsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	roots.Keys = append(roots.Keys, k)

	signed, err := Sign(pdftest.OnePage("node"), node)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pdfsig.Verify(signed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roots.Find(res.KeyID); err != nil {
		t.Errorf("the node's signature: %v", err)
	}

	// Signed by another key only.
	forged, err := Sign(pdftest.OnePage("node"), other)
	if err != nil {
		t.Fatal(err)
	}
	res, err = pdfsig.Verify(forged)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := roots.Find(res.KeyID); !errors.Is(err, block.ErrUntrustedKey) {
		t.Errorf("a document signed by another key: %v, want ErrUntrustedKey", err)
	}

	// Signed by the node, then again by another key (an incremental
	// update with a second signature): the last signature is the other's.
	twice, err := Sign(signed, other)
	if err != nil {
		t.Fatal(err)
	}
	res, err = pdfsig.Verify(twice)
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyID != keyID(t, other) {
		t.Errorf("the last signature's key is %s, want the other key %s", res.KeyID, keyID(t, other))
	}
	if _, err := roots.Find(res.KeyID); !errors.Is(err, block.ErrUntrustedKey) {
		t.Errorf("re-signed by another key: %v, want ErrUntrustedKey", err)
	}
	if sigs := poppler(t, twice); len(sigs) != 2 {
		t.Errorf("pdfsig finds %d signatures in the twice-signed document, want 2", len(sigs))
	}
}

func TestSignerValidate(t *testing.T) {
	good := testSigner(t)
	other := testSigner(t)
	for _, c := range []struct {
		desc string
		s    func() Signer
	}{
		{"no key", func() Signer { s := good; s.Key = nil; return s }},
		{"no certificate", func() Signer { s := good; s.Chain = nil; return s }},
		{"another key's certificate", func() Signer { s := good; s.Chain = other.Chain; return s }},
		{"a chain that does not link", func() Signer { s := good; s.Chain = append(s.Chain, other.Chain[0]); return s }},
		{"P-384 key", func() Signer {
			k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			c, _ := SelfSigned(k, "p384", testSigningTime)
			return Signer{Key: k, Chain: []*x509.Certificate{c}}
		}},
		{"long name", func() Signer { s := good; s.Name = strings.Repeat("名", 100); return s }},
		{"invalid UTF-8", func() Signer { s := good; s.Reason = "\xff"; return s }},
	} {
		if _, err := Sign(pdftest.OnePage("x"), c.s()); err == nil {
			t.Errorf("%s: Sign succeeded", c.desc)
		}
	}
	if _, err := Sign([]byte("not a pdf"), good); err == nil {
		t.Error("signing garbage succeeded")
	}
	// An ASCII text with the characters a literal string escapes.
	s := good
	s.Name, s.Reason, s.Location, s.ContactInfo = `a (b) \c`, ")", "", ""
	signed, err := Sign(pdftest.OnePage("escapes"), s)
	if err != nil {
		t.Fatal(err)
	}
	res, err := pdfsig.Verify(signed)
	if err != nil || res.Name != s.Name || res.Reason != ")" || res.Location != "" {
		t.Errorf("escaped texts: %+v, %v", res, err)
	}
}

func TestSelfSigned(t *testing.T) {
	s := testSigner(t)
	c := s.Chain[0]
	if c.Subject.CommonName != "evidence-local 存证节点" || !c.NotBefore.Equal(testSigningTime.Add(-time.Hour)) || !c.NotAfter.Equal(c.NotBefore.Add(SelfSignedValidity)) {
		t.Errorf("subject %v, validity %v to %v", c.Subject, c.NotBefore, c.NotAfter)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment || c.IsCA {
		t.Errorf("key usage %v, CA %v", c.KeyUsage, c.IsCA)
	}
	if got, want := hex.EncodeToString(c.SubjectKeyId), keyID(t, s); got != want {
		t.Errorf("subject key ID %s, want the key ID %s", got, want)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Error(err)
	}
	if _, err := SelfSigned(s.Key, "", testSigningTime); err == nil {
		t.Error("no common name accepted")
	}
}

// TestPdfsigVectors writes (with -update-pdfsig) or checks the signed
// document verifier/pdfsig's tests read.
func TestPdfsigVectors(t *testing.T) {
	dir := filepath.Join("..", "..", "verifier", "pdfsig", "testdata")
	if *updatePdfsig {
		s := testSigner(t)
		signed, err := Sign(pdftest.OnePage("signed for verifier/pdfsig tests"), s)
		if err != nil {
			t.Fatal(err)
		}
		res, err := pdfsig.Verify(signed)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.MarshalIndent(map[string]any{
			"desc":   "pdftest.OnePage signed by Sign with a throwaway key (go test ./node/pdf -run TestPdfsigVectors -update-pdfsig)",
			"key_id": res.KeyID, "name": s.Name, "reason": s.Reason, "location": s.Location,
			"contact_info": s.ContactInfo, "time": testSigningTime, "byte_range": res.ByteRange,
			"digest": hex.EncodeToString(res.Digest[:]), "sha256": fmt.Sprintf("%x", sha256.Sum256(signed)),
		}, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "signed.pdf"), signed, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "signed.json"), append(want, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := os.ReadFile(filepath.Join(dir, "signed.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pdfsig.Verify(signed); err != nil {
		t.Fatalf("%s/signed.pdf: %v", dir, err)
	}
	if sigs := poppler(t, signed); len(sigs) != 1 || sigs[0]["Signature Validation"] != "Signature is Valid." {
		t.Errorf("pdfsig on the vector: %v", sigs)
	}
}

func BenchmarkSign(b *testing.B) {
	for _, size := range []int{1 << 20, 30 << 20} {
		b.Run(fmt.Sprintf("%dMB", size>>20), func(b *testing.B) {
			_, pkg, _ := testPackage(b, size)
			s := testSigner(b)
			b.SetBytes(int64(len(pkg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Sign(pkg, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{1 << 20, 30 << 20} {
		b.Run(fmt.Sprintf("%dMB", size>>20), func(b *testing.B) {
			_, pkg, _ := testPackage(b, size)
			signed, err := Sign(pkg, testSigner(b))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(signed)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pdfsig.Verify(signed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A chain root → intermediate → node: all three go into the signature,
// named by signing-certificate-v2, and Verify returns the two issuers.
func TestSignChain(t *testing.T) {
	s := testSigner(t)
	ca := func(name string, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
			NotBefore: testSigningTime.Add(-24 * time.Hour), NotAfter: testSigningTime.AddDate(10, 0, 0),
			KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
		}
		if parent == nil {
			parent, parentKey = tmpl, k
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, k.Public(), parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, k
	}
	root, rootKey := ca("Test Root", nil, nil)
	inter, interKey := ca("Test Intermediate", root, rootKey)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "evidence node"},
		NotBefore: testSigningTime.Add(-time.Hour), NotAfter: testSigningTime.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, leafTmpl, inter, s.Key.Public(), interKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	s.Chain = []*x509.Certificate{leaf, inter, root}

	doc := pdftest.OnePage("chain")
	signed, err := Sign(doc, s)
	if err != nil {
		t.Fatal(err)
	}
	res := checkSigned(t, doc, signed, s)
	if len(res.Chain) != 2 || !res.Chain[0].Equal(inter) || !res.Chain[1].Equal(root) {
		t.Errorf("chain: %v", res.Chain)
	}
}

// Signing from many goroutines at once is safe (run with -race).
func TestSignConcurrent(t *testing.T) {
	s := testSigner(t)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			signed, err := Sign(pdftest.OnePage(fmt.Sprint("page ", i)), s)
			if err == nil {
				_, err = pdfsig.Verify(signed)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if _, err := Sign(make([]byte, MaxSignSize+1), s); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a document over MaxSignSize: %v", err)
	}
}
