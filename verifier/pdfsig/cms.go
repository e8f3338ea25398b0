package pdfsig

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers of the profile (the signer in node/pdf writes the
// same ones).
var (
	OIDSignedData      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	OIDData            = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	OIDSHA256          = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	OIDECDSAWithSHA256 = encasn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	OIDContentType     = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	OIDMessageDigest   = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	OIDSigningCertV2   = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
)

var (
	tagContext0         = asn1.Tag(0).ContextSpecific().Constructed()
	tagContext1         = asn1.Tag(1).ContextSpecific().Constructed()
	maxSignedAttributes = 32
	maxCertIDs          = 2 * MaxCertificates
)

// cmsSignature is a parsed CMS SignedData of the profile.
type cmsSignature struct {
	signer        *x509.Certificate
	others        []*x509.Certificate
	messageDigest []byte
	signedAttrs   []byte // DER, as signed (SET OF tag)
	signature     []byte
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: CMS: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// parseCMS reads der: one DER ContentInfo followed by zero bytes only.
func parseCMS(der []byte) (*cmsSignature, error) {
	in := cryptobyte.String(der)
	var ci, sdWrap, sd cryptobyte.String
	if !in.ReadASN1(&ci, asn1.SEQUENCE) {
		return nil, malformed("not a DER ContentInfo")
	}
	for _, c := range in {
		if c != 0 {
			return nil, malformed("non-zero bytes after the SignedData")
		}
	}
	var oid encasn1.ObjectIdentifier
	if !ci.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(OIDSignedData) {
		return nil, fmt.Errorf("%w: CMS content type is not signed-data", ErrUnsupported)
	}
	if !ci.ReadASN1(&sdWrap, tagContext0) || !ci.Empty() || !sdWrap.ReadASN1(&sd, asn1.SEQUENCE) || !sdWrap.Empty() {
		return nil, malformed("bad ContentInfo")
	}

	var version int
	if !sd.ReadASN1Integer(&version) || version != 1 {
		return nil, malformed("SignedData version is not 1")
	}
	var algs cryptobyte.String
	if !sd.ReadASN1(&algs, asn1.SET) {
		return nil, malformed("bad digestAlgorithms")
	}
	if err := readSHA256(&algs); err != nil {
		return nil, err
	}
	if !algs.Empty() {
		return nil, fmt.Errorf("%w: more than one digest algorithm", ErrUnsupported)
	}
	var eci cryptobyte.String
	if !sd.ReadASN1(&eci, asn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&oid) {
		return nil, malformed("bad encapContentInfo")
	}
	if !oid.Equal(OIDData) || !eci.Empty() {
		return nil, fmt.Errorf("%w: the signed content is not detached id-data", ErrUnsupported)
	}
	var certSet cryptobyte.String
	if !sd.ReadASN1(&certSet, tagContext0) {
		return nil, fmt.Errorf("%w: the CMS carries no certificates", ErrSignerCertificate)
	}
	var certs []*x509.Certificate
	for !certSet.Empty() {
		var c cryptobyte.String
		if !certSet.ReadASN1Element(&c, asn1.SEQUENCE) {
			return nil, malformed("bad certificate")
		}
		if len(certs) == MaxCertificates {
			return nil, fmt.Errorf("%w: more than %d certificates", ErrUnsupported, MaxCertificates)
		}
		cert, err := x509.ParseCertificate(c)
		if err != nil {
			return nil, malformed("certificate %d: %v", len(certs)+1, err)
		}
		for _, o := range certs {
			if bytes.Equal(o.Raw, cert.Raw) {
				return nil, malformed("a certificate is there twice")
			}
		}
		certs = append(certs, cert)
	}
	if sd.PeekASN1Tag(tagContext1) {
		return nil, fmt.Errorf("%w: the CMS carries revocation data", ErrUnsupported)
	}
	var infos, si cryptobyte.String
	if !sd.ReadASN1(&infos, asn1.SET) || !sd.Empty() {
		return nil, malformed("bad signerInfos")
	}
	if !infos.ReadASN1(&si, asn1.SEQUENCE) || !infos.Empty() {
		return nil, fmt.Errorf("%w: not exactly one signer", ErrUnsupported)
	}

	// SignerInfo.
	if !si.ReadASN1Integer(&version) || version != 1 {
		return nil, fmt.Errorf("%w: SignerInfo version is not 1 (issuerAndSerialNumber)", ErrUnsupported)
	}
	var sid, issuer cryptobyte.String
	serial := new(big.Int)
	if !si.ReadASN1(&sid, asn1.SEQUENCE) || !sid.ReadASN1Element(&issuer, asn1.SEQUENCE) || !sid.ReadASN1Integer(serial) || !sid.Empty() {
		return nil, malformed("bad issuerAndSerialNumber")
	}
	if err := readSHA256(&si); err != nil {
		return nil, err
	}
	var attrsElem, attrs cryptobyte.String
	if !si.ReadASN1Element(&attrsElem, tagContext0) {
		return nil, malformed("no signed attributes")
	}
	whole := attrsElem
	if !whole.ReadASN1(&attrs, tagContext0) {
		return nil, malformed("bad signed attributes")
	}
	var sigAlg cryptobyte.String
	if !si.ReadASN1(&sigAlg, asn1.SEQUENCE) || !sigAlg.ReadASN1ObjectIdentifier(&oid) {
		return nil, malformed("bad signatureAlgorithm")
	}
	if !oid.Equal(OIDECDSAWithSHA256) || !sigAlg.Empty() {
		return nil, fmt.Errorf("%w: signature algorithm %v, want ecdsa-with-SHA256", ErrUnsupported, oid)
	}
	var signature []byte
	if !si.ReadASN1Bytes(&signature, asn1.OCTET_STRING) {
		return nil, malformed("bad signature")
	}
	if !si.Empty() {
		return nil, fmt.Errorf("%w: unsigned attributes", ErrUnsupported)
	}

	s := &cmsSignature{signature: signature}
	// As signed, the attributes are a SET OF (RFC 5652 section 5.4).
	s.signedAttrs = append([]byte{byte(asn1.SET)}, attrsElem[1:]...)
	certIDs, err := s.readAttributes(attrs)
	if err != nil {
		return nil, err
	}

	// The signer's certificate, bound by signing-certificate-v2, and every
	// other certificate named there too.
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, issuer) && c.SerialNumber.Cmp(serial) == 0 {
			s.signer = c
		} else {
			s.others = append(s.others, c)
		}
	}
	if s.signer == nil {
		return nil, fmt.Errorf("%w: the CMS does not carry the certificate its signer names", ErrSignerCertificate)
	}
	if h := sha256.Sum256(s.signer.Raw); !bytes.Equal(certIDs[0], h[:]) {
		return nil, fmt.Errorf("%w: signing-certificate-v2 does not name the signer's certificate first", ErrSignerCertificate)
	}
	for _, c := range s.others {
		h := sha256.Sum256(c.Raw)
		named := false
		for _, id := range certIDs[1:] {
			named = named || bytes.Equal(id, h[:])
		}
		if !named {
			return nil, fmt.Errorf("%w: the CMS carries a certificate (%s) that signing-certificate-v2 does not name", ErrSignerCertificate, c.Subject)
		}
	}
	return s, nil
}

// readSHA256 reads an AlgorithmIdentifier that must be SHA-256, with
// parameters absent or NULL (RFC 5754).
func readSHA256(s *cryptobyte.String) error {
	var alg cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !s.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return malformed("bad digest AlgorithmIdentifier")
	}
	if !oid.Equal(OIDSHA256) {
		return fmt.Errorf("%w: digest algorithm %v, want SHA-256", ErrUnsupported, oid)
	}
	if alg.PeekASN1Tag(asn1.NULL) {
		var null cryptobyte.String
		if !alg.ReadASN1(&null, asn1.NULL) || !null.Empty() {
			return malformed("bad digest algorithm parameters")
		}
	}
	if !alg.Empty() {
		return malformed("bad digest algorithm parameters")
	}
	return nil
}

// readAttributes reads the signed attributes, keeping the message digest
// and returning the certificate hashes of signing-certificate-v2. Other
// attributes are allowed (they are signed) but not read.
func (s *cmsSignature) readAttributes(attrs cryptobyte.String) ([][]byte, error) {
	seen := map[string]bool{}
	var certIDs [][]byte
	contentType := false
	for !attrs.Empty() {
		var attr, vals cryptobyte.String
		var oid encasn1.ObjectIdentifier
		if !attrs.ReadASN1(&attr, asn1.SEQUENCE) || !attr.ReadASN1ObjectIdentifier(&oid) || !attr.ReadASN1(&vals, asn1.SET) || !attr.Empty() {
			return nil, malformed("bad signed attribute")
		}
		if len(seen) == maxSignedAttributes {
			return nil, malformed("more than %d signed attributes", maxSignedAttributes)
		}
		if seen[oid.String()] {
			return nil, malformed("signed attribute %v twice", oid)
		}
		seen[oid.String()] = true
		switch {
		case oid.Equal(OIDContentType):
			var ct encasn1.ObjectIdentifier
			if !vals.ReadASN1ObjectIdentifier(&ct) || !vals.Empty() || !ct.Equal(OIDData) {
				return nil, malformed("content-type attribute is not one id-data")
			}
			contentType = true
		case oid.Equal(OIDMessageDigest):
			var md []byte
			if !vals.ReadASN1Bytes(&md, asn1.OCTET_STRING) || !vals.Empty() || len(md) != sha256.Size {
				return nil, malformed("message-digest attribute is not one SHA-256 digest")
			}
			s.messageDigest = md
		case oid.Equal(OIDSigningCertV2):
			var v, ids cryptobyte.String
			if !vals.ReadASN1(&v, asn1.SEQUENCE) || !vals.Empty() || !v.ReadASN1(&ids, asn1.SEQUENCE) {
				return nil, malformed("bad signing-certificate-v2 attribute")
			}
			// Policies may follow in v; they are signed and not read.
			for !ids.Empty() {
				var id cryptobyte.String
				if !ids.ReadASN1(&id, asn1.SEQUENCE) {
					return nil, malformed("bad ESSCertIDv2")
				}
				if id.PeekASN1Tag(asn1.SEQUENCE) { // hashAlgorithm, DEFAULT sha-256
					if err := readSHA256(&id); err != nil {
						return nil, err
					}
				}
				var h []byte
				if !id.ReadASN1Bytes(&h, asn1.OCTET_STRING) || len(h) != sha256.Size {
					return nil, malformed("bad ESSCertIDv2 certHash")
				}
				if !id.Empty() { // issuerSerial, a hint
					var is cryptobyte.String
					if !id.ReadASN1(&is, asn1.SEQUENCE) || !id.Empty() {
						return nil, malformed("bad ESSCertIDv2")
					}
				}
				if len(certIDs) == maxCertIDs {
					return nil, malformed("more than %d ESSCertIDv2", maxCertIDs)
				}
				certIDs = append(certIDs, h)
			}
		}
	}
	switch {
	case !contentType:
		return nil, malformed("no content-type attribute")
	case s.messageDigest == nil:
		return nil, malformed("no message-digest attribute")
	case len(certIDs) == 0:
		return nil, fmt.Errorf("%w: no signing-certificate-v2 attribute", ErrSignerCertificate)
	}
	return certIDs, nil
}

// verify checks the signature over the signed attributes.
func (s *cmsSignature) verify() error {
	pub, ok := s.signer.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: the signer's key is %T, want ECDSA P-256", ErrUnsupported, s.signer.PublicKey)
	}
	h := sha256.Sum256(s.signedAttrs)
	if !ecdsa.VerifyASN1(pub, h[:], s.signature) {
		return fmt.Errorf("%w with the key of the certificate of %s", ErrBadSignature, s.signer.Subject)
	}
	return nil
}
