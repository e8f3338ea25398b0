package pdf

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/pkcs7"
)

// signedPDF builds a one-page PDF carrying one approval signature
// (adbe.pkcs7.detached, ECDSA P-256, self-signed certificate) over the
// whole file but the signature itself, as signing tools do.
func signedPDF(t testing.TB) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(20261123),
		Subject:      pkix.Name{CommonName: "Test Signer", Organization: []string{"Acme Contracts"}},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}

	const sigLen = 8192 // bytes reserved for the PKCS#7 blob
	placeholder := "/ByteRange [0 0000000000 0000000000 0000000000]"
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj("<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]/SigFlags 3>>>>")
	obj("<</Type/Pages/Kids[3 0 R]/Count 1>>")
	obj("<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 200]/Annots[4 0 R]/Contents 6 0 R/Resources<<>>>>")
	obj("<</Type/Annot/Subtype/Widget/FT/Sig/T(Signature1)/Rect[0 0 0 0]/F 132/P 3 0 R/V 5 0 R>>")
	obj("<</Type/Sig/Filter/Adobe.PPKLite/SubFilter/adbe.pkcs7.detached/Name(Test Signer)/M(D:20261123095419Z)" +
		placeholder + "/Contents <" + strings.Repeat("0", 2*sigLen) + ">>>")
	obj("<</Length 0>>\nstream\n\nendstream")
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	doc := b.Bytes()

	// The signature covers everything but the <…> of /Contents.
	start := bytes.Index(doc, []byte("/Contents <"+strings.Repeat("0", 16))) + len("/Contents ")
	end := start + 2*sigLen + 2
	br := fmt.Sprintf("/ByteRange [0 %010d %010d %010d]", start, end, len(doc)-end)
	if len(br) != len(placeholder) {
		t.Fatalf("byte range %q does not fit its placeholder", br)
	}
	i := bytes.Index(doc, []byte(placeholder))
	copy(doc[i:], br)
	h := sha256.New()
	h.Write(doc[:start])
	h.Write(doc[end:])
	sd, err := pkcs7.NewSignedData()
	if err != nil {
		t.Fatal(err)
	}
	if err := sd.AddSigner(cert, key, h.Sum(nil), pkcs7.OIDDigestAlgorithmSHA256, pkcs7.SignerInfoConfig{}); err != nil {
		t.Fatal(err)
	}
	sig, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(sig) > sigLen {
		t.Fatalf("signature of %d bytes does not fit", len(sig))
	}
	copy(doc[start+1:], strings.ToUpper(hex.EncodeToString(sig)))
	return doc
}

func TestInspect(t *testing.T) {
	signed := signedPDF(t)
	os.WriteFile(filepath.Join(outDir(t), "signed.pdf"), signed, 0o644)
	tampered := bytes.Clone(signed)
	i := bytes.Index(tampered, []byte("MediaBox[0 0 300 200]"))
	copy(tampered[i:], "MediaBox[0 0 301 200]")
	cert, err := renderer(t).Certificate(context.Background(), sampleReceipt(t), CertOptions{BaseURL: "http://x"})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		desc      string
		data      []byte
		pdf       bool
		pages     int
		signed    bool
		integrity string
		whole     bool
	}{
		{desc: "certificate", data: cert, pdf: true, pages: 1},
		{desc: "signed", data: signed, pdf: true, pages: 1, signed: true, integrity: Intact, whole: true},
		{desc: "signed, then a signed byte changed", data: tampered, pdf: true, pages: 1, signed: true, integrity: Modified, whole: true},
		{desc: "signed, then bytes appended", data: append(bytes.Clone(signed), "% appended after signing\n"...), pdf: true, pages: 1, signed: true, integrity: Intact},
		{desc: "text", data: []byte("contract no. 2026-001\n")},
		{desc: "empty", data: nil},
		{desc: "header only", data: []byte("%PDF-1.4\n% contract no. 2026-001\n%%EOF\n")},
		{desc: "truncated", data: cert[:len(cert)/2]},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			info, err := Inspect(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", info)
			if info.PDF != tc.pdf || info.Pages != tc.pages || info.Signed() != tc.signed {
				t.Fatalf("got pdf %v, %d pages, signed %v; want %v, %d, %v", info.PDF, info.Pages, info.Signed(), tc.pdf, tc.pages, tc.signed)
			}
			if !tc.pdf && info.Error == "" {
				t.Error("not a PDF, but no reason given")
			}
			if tc.signed {
				s := info.Signatures[0]
				if s.Integrity != tc.integrity {
					t.Errorf("integrity = %q, want %q (%s)", s.Integrity, tc.integrity, s.Reason)
				}
				if s.Trust != Unknown {
					t.Errorf("trust of a self-signed certificate checked offline = %q, want %q", s.Trust, Unknown)
				}
				if s.WholeDocument != tc.whole {
					t.Errorf("whole document = %v, want %v", s.WholeDocument, tc.whole)
				}
				if !strings.Contains(s.Signer, "Test Signer") {
					t.Errorf("signer = %q", s.Signer)
				}
				if got := info.SignaturesIntact(); got != (tc.integrity == Intact) {
					t.Errorf("SignaturesIntact = %v", got)
				}
			}
		})
	}
}

func FuzzInspect(f *testing.F) {
	// Small seeds: the fuzzer minimizes every new input it finds, and
	// minimizing a large one takes it most of a short run.
	f.Add([]byte("%PDF-1.4\n%%EOF\n"))
	f.Add([]byte("%PDF-1.7\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n" +
		"3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 200]/Annots[4 0 R]>>\nendobj\n" +
		"4 0 obj\n<</Type/Annot/Subtype/Widget/FT/Sig/T(S)/Rect[0 0 0 0]/V<</Type/Sig/SubFilter/adbe.pkcs7.detached/ByteRange[0 10 20 5]/Contents<3080>>>>>\nendobj\n" +
		"trailer\n<</Size 5/Root 1 0 R>>\n%%EOF\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := Inspect(bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzExtractAttachments(f *testing.F) {
	f.Add([]byte("%PDF-1.4\n%%EOF\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ExtractAttachments(bytes.NewReader(b))
	})
}
