package verifier

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"testing"
	"time"

	smpkcs7 "github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"
)

// sm2Authority is a GB/T 20520 TSA for tests: an SM2 CA and an SM2 TSA
// certificate under it. No SM2 TSA server runs here (Sigstore's signs with
// RSA and ECDSA only): its tokens are made with gmsm's pkcs7, as such a
// TSA would make them.
type sm2Authority struct {
	caCert, cert *smx509.Certificate
	caPEM        string
	key          *sm2.PrivateKey
}

func newSM2Authority(t *testing.T, name string) *sm2Authority {
	t.Helper()
	caKey, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &smx509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " Root"}, NotBefore: validFrom, NotAfter: validTo,
		KeyUsage: smx509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := smx509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := sm2.GenerateKey(rand.Reader)
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	tmpl := &smx509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, NotBefore: validFrom, NotAfter: validTo,
		KeyUsage: smx509.KeyUsageDigitalSignature, ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}}}
	der, err = smx509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &sm2Authority{caCert: ca, cert: cert, caPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})), key: key}
}

// stamp makes an SM2-over-SM3 token over message with an SM3 imprint.
func (a *sm2Authority) stamp(t *testing.T, message []byte, genTime time.Time) Timestamp {
	t.Helper()
	imprint := sm3.Sum(message)
	var info tstInfo
	info.Version, info.Policy, info.SerialNumber, info.GenTime, info.Nonce = 1, asn1.ObjectIdentifier{1, 2, 156, 1}, big.NewInt(7), genTime.UTC().Truncate(time.Second), big.NewInt(9)
	info.MessageImprint.HashAlgorithm = pkix.AlgorithmIdentifier{Algorithm: oidSM3}
	info.MessageImprint.HashedMessage = imprint[:]
	infoDER, err := asn1.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	sd, err := smpkcs7.NewSignedData(infoDER)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(smpkcs7.OIDDigestAlgorithmSM3)
	sd.GetSignedData().ContentInfo.ContentType = oidTSTInfo
	certHash := sm3.Sum(a.cert.Raw)
	ess, _ := asn1.Marshal(struct {
		Certs []struct {
			Alg      pkix.AlgorithmIdentifier
			CertHash []byte
		}
	}{Certs: []struct {
		Alg      pkix.AlgorithmIdentifier
		CertHash []byte
	}{{Alg: pkix.AlgorithmIdentifier{Algorithm: oidSM3}, CertHash: certHash[:]}}})
	if err := sd.AddSigner(a.cert, a.key, smpkcs7.SignerInfoConfig{ExtraSignedAttributes: []smpkcs7.Attribute{{Type: oidSigningCertV2, Value: asn1.RawValue{FullBytes: ess}}}}); err != nil {
		t.Fatal(err)
	}
	tok, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return Timestamp{Kind: TimestampRFC3161, TSA: a.cert.Subject.CommonName, GenTime: FormatTime(info.GenTime), Token: tok}
}

// TestSM2Timestamps: a token signed with SM2 over SM3 (GB/T 20520) with an
// SM3 imprint verifies against an SM2 TSA root, next to an ECDSA one; the
// same checks refuse it from another root or over another block.
func TestSM2Timestamps(t *testing.T) {
	rc, _, roots, _ := sealedBlock(t, 2, 0)
	ledger, _ := time.Parse(time.RFC3339Nano, rc.LedgerTime)
	gen := ledger.Add(2 * time.Second)
	msg, _ := StampMessage(rc)
	sm := newSM2Authority(t, "SM2 TSA")
	ecCA := newTestCA(t, "EC Root")
	ec := ecCA.issue(t, "EC TSA", tsaOpts{})
	roots.TSARoots = []string{sm.caPEM, ecCA.pem()}

	tok, err := ParseToken(sm.stamp(t, msg, gen).Token)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.SM2 || !tok.IsSM3 || tok.TSA() != "SM2 TSA" {
		t.Fatalf("token: SM2 %v, SM3 %v, TSA %q", tok.SM2, tok.IsSM3, tok.TSA())
	}
	good := stamped(rc, sm.stamp(t, msg, gen), ec.entry(t, msg, gen))
	if _, err := VerifyReceipt(good, roots); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc  string
		rc    Receipt
		roots []string
		want  error
	}{
		{"another SM2 root", stamped(rc, sm.stamp(t, msg, gen)), []string{newSM2Authority(t, "Other").caPEM}, ErrTimestampUntrusted},
		{"over another block", stamped(rc, sm.stamp(t, EmbeddedStampMessage(make([]byte, 32)), gen)), roots.TSARoots, ErrTimestampImprint},
		{"a flipped signature byte", func() Receipt {
			ts := sm.stamp(t, msg, gen)
			ts.Token[len(ts.Token)-3] ^= 1
			return stamped(rc, ts)
		}(), roots.TSARoots, ErrTimestampToken},
	} {
		r := roots
		r.TSARoots = tc.roots
		if _, err := VerifyReceipt(tc.rc, r); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.desc, err, tc.want)
		}
	}
}
