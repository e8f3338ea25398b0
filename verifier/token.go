package verifier

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
	smpkcs7 "github.com/emmansun/gmsm/pkcs7"
	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/smx509"

	"github.com/evidence-node/evidence-node/verifier/block"
)

// Token is an RFC 3161 time-stamp token whose CMS signature verified with
// the signing certificate it carries (ParseToken). Whether that
// certificate is a trusted TSA is CheckToken's question.
//
// Tokens signed with RSA or ECDSA are read by github.com/digitorus/timestamp
// and crypto/x509; tokens of GB/T 20520 authorities, signed with SM2 over
// SM3, by github.com/emmansun/gmsm (SM2 is true).
type Token struct {
	GenTime time.Time
	// Hash is the imprint's hash algorithm (SHA-256, SHA-384, SHA-512);
	// 0 when it is SM3 (IsSM3).
	Hash    crypto.Hash
	IsSM3   bool
	Imprint []byte
	Nonce   *big.Int
	Serial  *big.Int
	// Subject is the signing certificate's subject.
	Subject pkix.Name
	// SM2: the token is signed with SM2 (read with gmsm).
	SM2 bool

	// Signer and Certificates (all those the token carries, Signer among
	// them): crypto/x509's for RSA and ECDSA tokens, gmsm's for SM2.
	signer  *x509.Certificate
	certs   []*x509.Certificate
	smLeaf  *smx509.Certificate
	smCerts []*smx509.Certificate
}

// TSA returns the authority's name as receipts give it: the signing
// certificate's common name, or its whole subject when it has none.
func (t *Token) TSA() string {
	if t.Subject.CommonName != "" {
		return t.Subject.CommonName
	}
	return t.Subject.String()
}

// TSARoots are TSA root certificates ready to check tokens against.
type TSARoots struct {
	std []*x509.Certificate   // those crypto/x509 reads (RSA, ECDSA)
	sm  []*smx509.Certificate // all, as gmsm reads them (SM2 too)
}

// ParseTSARoots reads TSA roots in the form of block.TrustRoots.TSARoots.
func ParseTSARoots(pems []string) (TSARoots, error) {
	ders, err := block.TrustRoots{TSARoots: pems}.TSARootsDER()
	if err != nil {
		return TSARoots{}, err
	}
	var r TSARoots
	for _, der := range ders {
		if c, err := x509.ParseCertificate(der); err == nil {
			r.std = append(r.std, c)
		}
		if c, err := smx509.ParseCertificate(der); err == nil {
			r.sm = append(r.sm, c)
		}
	}
	return r, nil
}

// Len is the number of roots.
func (r TSARoots) Len() int { return len(r.sm) }

var (
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidTSTInfo       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidSigningCert   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidSigningCertV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidExtKeyUsage   = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidSM3           = asn1.ObjectIdentifier{1, 2, 156, 10197, 1, 401}
)

// ParseToken reads a DER TimeStampToken (at most MaxTokenSize bytes) and
// checks what a token holds by itself: exactly one signer, whose
// certificate the token carries; the signed content-type attribute is
// id-ct-TSTInfo; the ESS signing-certificate attribute (v2 or v1, RFC
// 5816/2634) names that certificate by its hash; the message-digest
// attribute is the digest of the TSTInfo and the CMS signature verifies
// with the certificate's key. RSA and ECDSA tokens are read with
// github.com/digitorus/timestamp; a token whose signing key is SM2 with
// gmsm (its TSTInfo as RFC 3161 §2.4.2 defines it). Errors wrap
// ErrTimestampToken. It does not check who the signer is (CheckToken).
func ParseToken(der []byte) (t *Token, err error) {
	fail := func(format string, args ...any) (*Token, error) {
		return nil, fmt.Errorf("%w: %s", ErrTimestampToken, fmt.Sprintf(format, args...))
	}
	if len(der) == 0 || len(der) > MaxTokenSize {
		return fail("%d bytes (want 1 to %d)", len(der), MaxTokenSize)
	}
	var outer asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) > 0 || outer.Class != asn1.ClassUniversal || outer.Tag != asn1.TagSequence {
		return fail("not one DER SEQUENCE")
	}
	// The CMS parsers read hostile input: a panic in one is a refusal.
	defer func() {
		if r := recover(); r != nil {
			t, err = fail("the token's CMS does not parse (%v)", r)
		}
	}()
	p7, err := pkcs7.Parse(der)
	if err != nil {
		// crypto/x509 reads no SM2 certificate: an SM2 token, perhaps.
		if t, smErr := parseSM2Token(der); smErr == nil {
			return t, nil
		} else if !errors.Is(smErr, errNotSM2) {
			return nil, smErr
		}
		return fail("%v", err)
	}
	if len(p7.Certificates) == 0 {
		return fail("the token carries no certificate (requests must set certReq)")
	}
	if len(p7.Signers) != 1 {
		return fail("%d signers, want one", len(p7.Signers))
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return fail("the token does not carry its signer's certificate")
	}
	var ct asn1.ObjectIdentifier
	if err := p7.UnmarshalSignedAttribute(oidContentType, &ct); err != nil || !ct.Equal(oidTSTInfo) {
		return fail("the signed content type is %v, not id-ct-TSTInfo", ct)
	}
	if err := checkESSCert(p7.UnmarshalSignedAttribute, signer.Raw); err != nil {
		return fail("%v", err)
	}
	// timestamp.Parse verifies the CMS signature with the carried
	// certificate (and the message digest) and decodes the TSTInfo.
	ts, perr := timestamp.Parse(der)
	if perr != nil {
		return fail("%v", perr)
	}
	return &Token{GenTime: ts.Time, Hash: ts.HashAlgorithm, Imprint: ts.HashedMessage, Nonce: ts.Nonce, Serial: ts.SerialNumber,
		Subject: signer.Subject, signer: signer, certs: p7.Certificates}, nil
}

// errNotSM2 means a token is not one signed with an SM2 key.
var errNotSM2 = errors.New("not an SM2 token")

// tstInfo is RFC 3161 §2.4.2's TSTInfo, for SM2 tokens.
type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	SerialNumber *big.Int
	GenTime      time.Time `asn1:"generalized"`
	Accuracy     struct {
		Seconds int `asn1:"optional"`
		Millis  int `asn1:"optional,tag:0"`
		Micros  int `asn1:"optional,tag:1"`
	} `asn1:"optional"`
	Ordering   bool             `asn1:"optional,default:false"`
	Nonce      *big.Int         `asn1:"optional"`
	TSA        asn1.RawValue    `asn1:"optional,explicit,tag:0"`
	Extensions []pkix.Extension `asn1:"optional,tag:1"`
}

// parseSM2Token reads a token signed with SM2 over SM3 (GB/T 20520) with
// gmsm: the same checks as ParseToken; the imprint may be SM3 or SHA-2.
// errNotSM2 when the token is not signed with an SM2 key.
func parseSM2Token(der []byte) (*Token, error) {
	fail := func(format string, args ...any) (*Token, error) {
		return nil, fmt.Errorf("%w: SM2: %s", ErrTimestampToken, fmt.Sprintf(format, args...))
	}
	p7, err := smpkcs7.Parse(der)
	if err != nil || len(p7.Signers) != 1 {
		return nil, errNotSM2
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, errNotSM2
	}
	if !sm2.IsSM2PublicKey(signer.PublicKey) {
		return nil, errNotSM2
	}
	var ct asn1.ObjectIdentifier
	if err := p7.UnmarshalSignedAttribute(oidContentType, &ct); err != nil || !ct.Equal(oidTSTInfo) {
		return fail("the signed content type is %v, not id-ct-TSTInfo", ct)
	}
	if err := checkESSCert(p7.UnmarshalSignedAttribute, signer.Raw); err != nil {
		return fail("%v", err)
	}
	if err := p7.Verify(); err != nil {
		return fail("%v", err)
	}
	var info tstInfo
	if rest, err := asn1.Unmarshal(p7.Content, &info); err != nil || len(rest) > 0 {
		return fail("TSTInfo: %v", err)
	}
	t := &Token{GenTime: info.GenTime, Imprint: info.MessageImprint.HashedMessage, Nonce: info.Nonce, Serial: info.SerialNumber,
		Subject: signer.Subject, SM2: true, smLeaf: signer, smCerts: p7.Certificates}
	switch alg := info.MessageImprint.HashAlgorithm.Algorithm; {
	case alg.Equal(oidSM3):
		t.IsSM3 = true
	case alg.Equal(pkcs7.OIDDigestAlgorithmSHA256):
		t.Hash = crypto.SHA256
	case alg.Equal(pkcs7.OIDDigestAlgorithmSHA384):
		t.Hash = crypto.SHA384
	case alg.Equal(pkcs7.OIDDigestAlgorithmSHA512):
		t.Hash = crypto.SHA512
	default:
		return fail("imprint hash %v not supported", alg)
	}
	return t, nil
}

// signingCertificate is the ESS signing-certificate attribute, v1 or v2
// (RFC 2634 §5.4, RFC 5035 §3): its first ESSCertID names the signer.
type signingCertificate struct {
	Certs    []asn1.RawValue
	Policies asn1.RawValue `asn1:"optional"`
}

// checkESSCert checks that the signed ESS signing-certificate attribute
// (read with unmarshal) names the certificate raw by its hash: v2 with
// SHA-256 (the default), SHA-384, SHA-512 or SM3, or v1 with SHA-1.
func checkESSCert(unmarshal func(asn1.ObjectIdentifier, any) error, raw []byte) error {
	var sc signingCertificate
	hash := crypto.SHA256
	if err := unmarshal(oidSigningCertV2, &sc); err != nil {
		hash = crypto.SHA1
		if err := unmarshal(oidSigningCert, &sc); err != nil {
			return errors.New("no ESS signing-certificate attribute")
		}
	}
	if len(sc.Certs) == 0 {
		return errors.New("the ESS signing-certificate attribute names no certificate")
	}
	// ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT
	// sha256, certHash OCTET STRING, issuerSerial OPTIONAL };
	// ESSCertID ::= SEQUENCE { certHash OCTET STRING, issuerSerial OPTIONAL }.
	rest := sc.Certs[0].Bytes
	var first asn1.RawValue
	var err error
	if rest, err = asn1.Unmarshal(rest, &first); err != nil {
		return fmt.Errorf("ESS signing-certificate: %v", err)
	}
	certHash := first
	sum := func(b []byte) []byte { h := hash.New(); h.Write(b); return h.Sum(nil) }
	if hash != crypto.SHA1 && first.Class == asn1.ClassUniversal && first.Tag == asn1.TagSequence {
		var alg pkix.AlgorithmIdentifier
		if _, err := asn1.Unmarshal(first.FullBytes, &alg); err != nil {
			return fmt.Errorf("ESS signing-certificate v2: %v", err)
		}
		switch {
		case alg.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA256):
		case alg.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA384):
			hash = crypto.SHA384
		case alg.Algorithm.Equal(pkcs7.OIDDigestAlgorithmSHA512):
			hash = crypto.SHA512
		case alg.Algorithm.Equal(oidSM3):
			sum = func(b []byte) []byte { s := sm3.Sum(b); return s[:] }
		default:
			return fmt.Errorf("ESS signing-certificate v2 hash %v not supported", alg.Algorithm)
		}
		if _, err = asn1.Unmarshal(rest, &certHash); err != nil {
			return fmt.Errorf("ESS signing-certificate v2: %v", err)
		}
	}
	if certHash.Class != asn1.ClassUniversal || certHash.Tag != asn1.TagOctetString {
		return errors.New("ESS signing-certificate: no certificate hash")
	}
	if !bytes.Equal(sum(raw), certHash.Bytes) {
		return errors.New("the ESS signing-certificate attribute names another certificate than the signer's")
	}
	return nil
}

// CheckToken checks a parsed token for message, against the TSA roots:
// the imprint is the hash of message with the token's hash algorithm
// (SHA-256, SHA-384, SHA-512; SM3 on SM2 tokens) (ErrTimestampImprint);
// the signing certificate has the extended key usage id-kp-timeStamping
// alone, marked critical (ErrTimestampEKU); and it chains, through the
// certificates the token carries, to one of roots, valid at gen_time,
// every certificate of the chain allowing time stamping
// (ErrTimestampUntrusted when no root is named on the way,
// ErrTimestampChain when one is but the chain does not verify).
func CheckToken(t *Token, message []byte, roots TSARoots) error {
	var want []byte
	switch {
	case t.IsSM3:
		s := sm3.Sum(message)
		want = s[:]
	case t.Hash == crypto.SHA256 || t.Hash == crypto.SHA384 || t.Hash == crypto.SHA512:
		h := t.Hash.New()
		h.Write(message)
		want = h.Sum(nil)
	default:
		return fmt.Errorf("%w: imprint hash %v not accepted (SHA-256, SHA-384, SHA-512, SM3)", ErrTimestampImprint, t.Hash)
	}
	if !bytes.Equal(t.Imprint, want) {
		return fmt.Errorf("%w: the token stamps %x, this receipt's is %x", ErrTimestampImprint, t.Imprint, want)
	}
	if t.SM2 {
		return checkSM2Chain(t, roots)
	}
	if err := checkTSAUsage(t.signer.Extensions, t.Subject.CommonName); err != nil {
		return err
	}
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	var rootNames, carried []certName
	for _, r := range roots.std {
		pool.AddCert(r)
		rootNames = append(rootNames, certName{r.RawIssuer, r.RawSubject})
	}
	for _, c := range t.certs {
		if c != t.signer {
			inter.AddCert(c)
			carried = append(carried, certName{c.RawIssuer, c.RawSubject})
		}
	}
	return checkChain(certName{t.signer.RawIssuer, t.signer.RawSubject}, carried, rootNames, t.GenTime, func() error {
		if len(roots.std) == 0 {
			return errors.New("the trust roots hold no TSA roots")
		}
		_, err := t.signer.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: t.GenTime,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
		return err
	})
}

// checkSM2Chain is CheckToken's check of an SM2 token's certificate, with
// gmsm's smx509.
func checkSM2Chain(t *Token, roots TSARoots) error {
	if err := checkTSAUsage(t.smLeaf.Extensions, t.Subject.CommonName); err != nil {
		return err
	}
	pool, inter := smx509.NewCertPool(), smx509.NewCertPool()
	var rootNames, carried []certName
	for _, r := range roots.sm {
		pool.AddCert(r)
		rootNames = append(rootNames, certName{r.RawIssuer, r.RawSubject})
	}
	for _, c := range t.smCerts {
		if c != t.smLeaf {
			inter.AddCert(c)
			carried = append(carried, certName{c.RawIssuer, c.RawSubject})
		}
	}
	return checkChain(certName{t.smLeaf.RawIssuer, t.smLeaf.RawSubject}, carried, rootNames, t.GenTime, func() error {
		if len(roots.sm) == 0 {
			return errors.New("the trust roots hold no TSA roots")
		}
		_, err := t.smLeaf.Verify(smx509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: t.GenTime,
			KeyUsages: []smx509.ExtKeyUsage{smx509.ExtKeyUsageTimeStamping}})
		return err
	})
}

// checkTSAUsage is RFC 3161 §2.3: the TSA's certificate has exactly one
// extended key usage, id-kp-timeStamping, in a critical extension.
func checkTSAUsage(exts []pkix.Extension, name string) error {
	for _, ext := range exts {
		if !ext.Id.Equal(oidExtKeyUsage) {
			continue
		}
		var oids []asn1.ObjectIdentifier
		if _, err := asn1.Unmarshal(ext.Value, &oids); err != nil {
			return fmt.Errorf("%w: %v", ErrTimestampEKU, err)
		}
		if !ext.Critical || len(oids) != 1 || !oids[0].Equal(oidTimeStamping) {
			return fmt.Errorf("%w: %q has extended key usage %v (critical %v)", ErrTimestampEKU, name, oids, ext.Critical)
		}
		return nil
	}
	return fmt.Errorf("%w: %q has no extended key usage", ErrTimestampEKU, name)
}

// certName is a certificate's issuer and subject, DER.
type certName struct{ issuer, subject []byte }

// checkChain runs verify (the chain of the signing certificate to the TSA
// roots); on failure it tells an unknown TSA (ErrTimestampUntrusted:
// following issuer names from the leaf through the carried certificates
// reaches no root) from a broken chain to a known one
// (ErrTimestampChain).
func checkChain(leaf certName, carried, roots []certName, at time.Time, verify func() error) error {
	err := verify()
	if err == nil {
		return nil
	}
	if namesRoot(leaf, carried, roots) {
		return fmt.Errorf("%w at gen_time %s: %v", ErrTimestampChain, FormatTime(at), err)
	}
	return fmt.Errorf("%w: %v", ErrTimestampUntrusted, err)
}

// namesRoot reports whether following issuer names from leaf through the
// carried certificates reaches the subject of a root (or the leaf is a
// root).
func namesRoot(leaf certName, carried, roots []certName) bool {
	cur := leaf
	used := make([]bool, len(carried))
	for range len(carried) + 1 {
		for _, r := range roots {
			if bytes.Equal(cur.issuer, r.subject) || (bytes.Equal(cur.subject, r.subject) && bytes.Equal(cur.issuer, r.issuer)) {
				return true
			}
		}
		found := false
		for i, c := range carried {
			if !used[i] && bytes.Equal(cur.issuer, c.subject) {
				cur, used[i], found = c, true, true
				break
			}
		}
		if !found {
			return false
		}
	}
	return false
}

// VerifyToken parses a token and checks it for message against roots
// (ParseToken, then CheckToken).
func VerifyToken(der, message []byte, roots TSARoots) (*Token, error) {
	t, err := ParseToken(der)
	if err != nil {
		return nil, err
	}
	if err := CheckToken(t, message, roots); err != nil {
		return t, err
	}
	return t, nil
}
