package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"slices"
	"time"

	"github.com/evidence-node/evidence-node/verifier"
)

// Deterministic RFC 3161 tokens for the vectors. A TSA's answer has a
// random serial number and (digitorus/pkcs7) a signing time of the
// moment, so the generator builds its tokens itself: a TSTInfo and a CMS
// SignedData (RFC 5652) over it with the signed attributes content-type,
// message-digest and ESS signing-certificate-v2 (no signing time), and
// ECDSA P-256 signatures made deterministically (RFC 6979), as are the
// certificates.

// detSigner signs deterministically whatever random source it is given.
type detSigner struct{ k *ecdsa.PrivateKey }

func (s detSigner) Public() crypto.PublicKey { return &s.k.PublicKey }
func (s detSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(nil, digest, opts)
}

// vecCA is a certificate authority of the vectors; vecTSA a TSA.
type vecCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

type vecTSA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// clock, when set, is the gen_time the TSA writes (a TSA whose clock
	// is wrong); else the time asked.
	clock time.Time
}

var (
	certFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	certTo   = time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)
)

func mustCert(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	der, err := x509.CreateCertificate(&stream{label: "certificates"}, tmpl, parent, pub, detSigner{signer})
	if err != nil {
		panic(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return c
}

// newVecCA makes a self-signed root named name with the key of label.
func newVecCA(name, label string) *vecCA {
	k := fixedKey(label)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"evidence-node test vectors"}, CommonName: name},
		NotBefore: certFrom, NotAfter: certTo, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true}
	return &vecCA{cert: mustCert(tmpl, tmpl, &k.PublicKey, k), key: k}
}

func (ca *vecCA) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
}

var (
	oidEKU          = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidSHA256       = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSASHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidSignedData   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMsgDigest    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningCert2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidPolicy       = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}
)

type tsaCertOpts struct {
	noEKU     bool
	notBefore time.Time
}

// issue makes a TSA certificate for the key of label: digitalSignature
// and the one extended key usage id-kp-timeStamping, critical (RFC 3161
// §2.3), unless o says otherwise.
func (ca *vecCA) issue(name, label string, serial int64, o tsaCertOpts) *vecTSA {
	k := fixedKey(label)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{Organization: []string{"evidence-node test vectors"}, CommonName: name},
		NotBefore: certFrom, NotAfter: certTo, KeyUsage: x509.KeyUsageDigitalSignature}
	if !o.notBefore.IsZero() {
		tmpl.NotBefore = o.notBefore
	}
	if !o.noEKU {
		eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidEKU, Critical: true, Value: eku}}
	}
	return &vecTSA{cert: mustCert(tmpl, ca.cert, &k.PublicKey, ca.key), key: k}
}

type (
	algID struct {
		Algorithm  asn1.ObjectIdentifier
		Parameters asn1.RawValue `asn1:"optional"`
	}
	messageImprint struct {
		HashAlgorithm algID
		HashedMessage []byte
	}
	tstInfo struct {
		Version        int
		Policy         asn1.ObjectIdentifier
		MessageImprint messageImprint
		SerialNumber   *big.Int
		GenTime        time.Time `asn1:"generalized"`
		Nonce          *big.Int
	}
	attribute struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue // a SET
	}
	issuerAndSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	signerInfo struct {
		Version            int
		SID                issuerAndSerial
		DigestAlgorithm    algID
		SignedAttrs        asn1.RawValue // [0] IMPLICIT SET OF Attribute
		SignatureAlgorithm algID
		Signature          []byte
	}
	encapContent struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue // [0] EXPLICIT OCTET STRING
	}
	signedData struct {
		Version          int
		DigestAlgorithms []algID `asn1:"set"`
		EncapContent     encapContent
		Certificates     asn1.RawValue // [0] IMPLICIT CertificateSet
		SignerInfos      []signerInfo  `asn1:"set"`
	}
	contentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue // [0] EXPLICIT SignedData
	}
)

// explicit0 wraps DER in a [0] EXPLICIT tag.
func explicit0(der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: der}
}

func mustMarshal(v any) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// stamp returns the entry of a receipt for a token over message at
// genTime (the TSA's clock if it has one), serial serial.
func (s *vecTSA) stamp(message []byte, genTime time.Time, serial int64) verifier.Timestamp {
	if !s.clock.IsZero() {
		genTime = s.clock
	}
	genTime = genTime.UTC().Truncate(time.Second)
	h := sha256.Sum256(message)
	info := mustMarshal(tstInfo{Version: 1, Policy: oidPolicy, MessageImprint: messageImprint{HashAlgorithm: algID{Algorithm: oidSHA256}, HashedMessage: h[:]},
		SerialNumber: big.NewInt(serial), GenTime: genTime, Nonce: big.NewInt(serial * 7919)})
	contentDigest := sha256.Sum256(info)
	certHash := sha256.Sum256(s.cert.Raw)
	essV2 := mustMarshal(struct{ Certs []struct{ CertHash []byte } }{Certs: []struct{ CertHash []byte }{{CertHash: certHash[:]}}})
	attr := func(oid asn1.ObjectIdentifier, value []byte) []byte {
		return mustMarshal(attribute{Type: oid, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: value}})
	}
	attrs := [][]byte{
		attr(oidContentType, mustMarshal(oidTSTInfo)),
		attr(oidMsgDigest, mustMarshal(contentDigest[:])),
		attr(oidSigningCert2, essV2),
	}
	slices.SortFunc(attrs, bytes.Compare) // DER: a SET OF in the order of its encodings
	body := bytes.Join(attrs, nil)
	signedSet := mustMarshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: body})
	d := sha256.Sum256(signedSet)
	sig, err := s.key.Sign(nil, d[:], crypto.SHA256)
	if err != nil {
		panic(err)
	}
	sd := signedData{
		Version:          3,
		DigestAlgorithms: []algID{{Algorithm: oidSHA256}},
		EncapContent:     encapContent{ContentType: oidTSTInfo, Content: explicit0(mustMarshal(info))},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: s.cert.Raw},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerial{Issuer: asn1.RawValue{FullBytes: s.cert.RawIssuer}, Serial: s.cert.SerialNumber},
			DigestAlgorithm:    algID{Algorithm: oidSHA256},
			SignedAttrs:        asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: body},
			SignatureAlgorithm: algID{Algorithm: oidECDSASHA256},
			Signature:          sig,
		}},
	}
	token := mustMarshal(contentInfo{ContentType: oidSignedData, Content: explicit0(mustMarshal(sd))})
	return verifier.Timestamp{Kind: verifier.TimestampRFC3161, TSA: s.cert.Subject.CommonName, GenTime: verifier.FormatTime(genTime), Token: token}
}
