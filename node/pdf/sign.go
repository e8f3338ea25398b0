package pdf

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	encasn1 "encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/evidence-node/evidence-node/verifier/pdfsig"
)

// Signer is what Sign signs with.
type Signer struct {
	// Key makes the signature: the node's ECDSA P-256 key (the only kind
	// supported).
	Key crypto.Signer
	// Chain is Key's certificate, then its issuers if any, each signed by
	// the next. All go into the signature. SelfSigned makes a certificate
	// when the operator gives none.
	Chain []*x509.Certificate
	// Name, Reason, Location and ContactInfo are written in the signature
	// dictionary (PDF readers show them); empty ones are left out.
	Name, Reason, Location, ContactInfo string
	// Clock gives the signing time written in the signature dictionary
	// (/M, to the second, UTC); nil means time.Now. It is the node's
	// claim, not a trusted time.
	Clock func() time.Time
}

// Limits of Sign. Signing holds about seven times the document at its
// peak (pdfsign copies it into its output buffer, concatenates the
// signed ranges and encodes them into a CMS it makes, all in memory).
const (
	// MaxSignSize is the largest document Sign takes.
	MaxSignSize = 64 << 20
	// SignBudget bounds the total size of the documents being signed at
	// once in the process; a Sign that would exceed it waits. A document
	// of MaxSignSize is signed alone.
	SignBudget = 64 << 20
	// MaxSignText bounds each of Signer's texts, in bytes.
	MaxSignText = 256
)

// ErrTooLarge means a document is over MaxSignSize.
var ErrTooLarge = errors.New("pdf: sign: document too large")

// budget counts the bytes of the documents being signed.
type budget struct {
	mu       sync.Mutex
	cond     sync.Cond
	inFlight int
}

var signing = func() *budget {
	b := &budget{}
	b.cond.L = &b.mu
	return b
}()

// acquire waits until n more bytes fit SignBudget (or nothing else is
// being signed) and returns the release.
func (b *budget) acquire(n int) func() {
	b.mu.Lock()
	for b.inFlight > 0 && b.inFlight+n > SignBudget {
		b.cond.Wait()
	}
	b.inFlight += n
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		b.inFlight -= n
		b.mu.Unlock()
		b.cond.Broadcast()
	}
}

// Validate checks the key, the chain and the texts.
func (s Signer) Validate() error {
	if s.Key == nil {
		return errors.New("pdf: signer: no key")
	}
	pub, ok := s.Key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return fmt.Errorf("pdf: signer: the key is %T, want ECDSA P-256", s.Key.Public())
	}
	if len(s.Chain) == 0 {
		return errors.New("pdf: signer: no certificate (SelfSigned makes one)")
	}
	if len(s.Chain) > pdfsig.MaxCertificates {
		return fmt.Errorf("pdf: signer: %d certificates, at most %d", len(s.Chain), pdfsig.MaxCertificates)
	}
	if !pub.Equal(s.Chain[0].PublicKey) {
		return errors.New("pdf: signer: the first certificate is not the key's")
	}
	for i := 0; i+1 < len(s.Chain); i++ {
		if err := s.Chain[i].CheckSignatureFrom(s.Chain[i+1]); err != nil {
			return fmt.Errorf("pdf: signer: certificate %d is not signed by certificate %d: %w", i+1, i+2, err)
		}
	}
	for name, t := range map[string]string{"name": s.Name, "reason": s.Reason, "location": s.Location, "contact info": s.ContactInfo} {
		if len(t) > MaxSignText || !utf8.ValidString(t) || strings.ContainsRune(t, 0) {
			return fmt.Errorf("pdf: signer: the %s is not valid UTF-8 text of at most %d bytes", name, MaxSignText)
		}
	}
	return nil
}

// Sign returns doc signed with a PDF signature that binds every byte of
// it: a PAdES baseline B-B signature (ETSI EN 319 142-1) — a signature
// dictionary with /SubFilter /ETSI.CAdES.detached whose ByteRange covers
// the whole file but the signature itself, and a detached CMS SignedData
// with the content-type, message-digest (SHA-256) and signing-certificate-v2
// signed attributes, signed ECDSA with SHA-256. pdfsig.Verify checks it.
//
// The signature is added as an incremental update: doc is a prefix of
// the result, byte for byte (attachments, an embedded original included).
// The signature field is invisible. Nothing may be appended later: any
// change, even an incremental update, fails pdfsig.Verify.
//
// Sign refuses a document with an interactive form (its fields would be
// lost) and one over MaxSignSize; documents of at most SignBudget bytes
// in all are signed at once, others wait. It takes a few milliseconds a
// megabyte.
//
// github.com/digitorus/pdfsign writes the incremental update (signature
// field, catalog, cross-reference section, trailer). At the version used
// its signature dictionary is adbe.pkcs7.detached and its CMS carries a
// signing-time attribute (which PAdES forbids) and writes non-ASCII text
// unescaped, so Sign writes its own dictionary and CMS into the room
// pdfsign leaves for its signature dictionary: every offset stays as
// pdfsign computed it.
func Sign(doc []byte, s Signer) (out []byte, err error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(doc) > MaxSignSize {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(doc), MaxSignSize)
	}
	defer signing.acquire(len(doc))()
	// The PDF reader pdfsign uses panics on malformed input.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("pdf: sign: pdfsign failed on this PDF: %v", r)
		}
	}()

	now := time.Now
	if s.Clock != nil {
		now = s.Clock
	}
	d := signatureDict{
		date: signingTime(now()),
		texts: [][2]string{
			{"Name", textString(s.Name)}, {"Reason", textString(s.Reason)},
			{"Location", textString(s.Location)}, {"ContactInfo", textString(s.ContactInfo)},
		},
	}

	rdr, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		return nil, fmt.Errorf("pdf: sign: %w", err)
	}
	if err := checkCatalog(rdr); err != nil {
		return nil, err
	}

	// pdfsign's dictionary: texts of the lengths of ours, so that it
	// leaves room for them, and a throwaway CMS (signed by a placeholder
	// key: it never reaches the output).
	placeholder := func(enc string) string {
		if enc == "" {
			return ""
		}
		return strings.Repeat("x", len(enc)-2) // pdfsign adds ( )
	}
	var buf bytes.Buffer
	buf.Grow(len(doc) + 64<<10)
	err = sign.Sign(bytes.NewReader(doc), &buf, rdr, int64(len(doc)), sign.SignData{
		Signature: sign.SignDataSignature{
			CertType: sign.ApprovalSignature,
			Info: sign.SignDataSignatureInfo{
				Name: placeholder(d.texts[0][1]), Reason: placeholder(d.texts[1][1]),
				Location: placeholder(d.texts[2][1]), ContactInfo: placeholder(d.texts[3][1]),
				Date: d.date,
			},
		},
		Signer:            placeholderKey{s.Key.Public()},
		DigestAlgorithm:   crypto.SHA256,
		Certificate:       s.Chain[0],
		CertificateChains: [][]*x509.Certificate{s.Chain},
	})
	if err != nil {
		return nil, fmt.Errorf("pdf: sign: %w", err)
	}
	out = buf.Bytes()
	if len(out) < len(doc) || !bytes.Equal(out[:len(doc)], doc) {
		return nil, errors.New("pdf: sign: pdfsign changed the document instead of appending to it")
	}
	start, end, err := signatureSlot(out, len(doc))
	if err != nil {
		return nil, err
	}
	if err := d.write(out, start, end, s); err != nil {
		return nil, err
	}

	// Read it back as a verifier would.
	res, err := pdfsig.Verify(out)
	if err != nil {
		return nil, fmt.Errorf("pdf: sign: the signed document does not verify: %w", err)
	}
	if !res.Certificate.Equal(s.Chain[0]) {
		return nil, errors.New("pdf: sign: the signed document names another signer")
	}
	return out, nil
}

// placeholderKey stands in for the key in the CMS pdfsign makes and Sign
// replaces, so that the real key signs once.
type placeholderKey struct{ pub crypto.PublicKey }

func (k placeholderKey) Public() crypto.PublicKey { return k.pub }

func (k placeholderKey) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	return make([]byte, maxECDSASignature), nil
}

// maxECDSASignature is the longest DER ECDSA P-256 signature.
const maxECDSASignature = 72

// checkCatalog refuses what pdfsign would lose or write wrong when it
// copies the catalog: an interactive form's fields other than signatures,
// and strings in the catalog that need escaping.
func checkCatalog(r *pdf.Reader) error {
	root := r.Trailer().Key("Root")
	if root.Kind() != pdf.Dict {
		return errors.New("pdf: sign: the document has no catalog")
	}
	if af := root.Key("AcroForm"); !af.IsNull() {
		fields := af.Key("Fields")
		for i := range fields.Len() {
			if fields.Index(i).Key("FT").Name() != "Sig" {
				return errors.New("pdf: sign: the document has an interactive form; signing would drop its fields")
			}
		}
	}
	rootPtr := root.GetPtr()
	id := rootPtr.GetID()
	var walk func(v pdf.Value, depth int) error
	walk = func(v pdf.Value, depth int) error {
		if ptr := v.GetPtr(); ptr.GetID() != id || depth > 16 { // indirect: pdfsign writes a reference
			return nil
		}
		switch v.Kind() {
		case pdf.String:
			for _, c := range []byte(v.RawString()) {
				if c < 0x20 || c > 0x7e || c == '(' || c == ')' || c == '\\' {
					return errors.New("pdf: sign: the catalog has a string pdfsign would not escape")
				}
			}
		case pdf.Dict:
			for _, k := range v.Keys() {
				if err := walk(v.Key(k), depth+1); err != nil {
					return err
				}
			}
		case pdf.Array:
			for i := range v.Len() {
				if err := walk(v.Index(i), depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, k := range root.Keys() {
		if k != "AcroForm" {
			if err := walk(root.Key(k), 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// signatureSlot finds the signature dictionary pdfsign appended: the
// first object after the original document, "N 0 obj\n<< … >>\nendobj".
// It returns the offsets of its "<<" and just after its ">>".
func signatureSlot(out []byte, from int) (int, int, error) {
	bad := errors.New("pdf: sign: pdfsign's signature object is not where expected")
	i := from
	for i < len(out) && (out[i] == '\n' || out[i] == '\r' || out[i] == ' ') {
		i++
	}
	j := i
	for j < len(out) && out[j] >= '0' && out[j] <= '9' {
		j++
	}
	if j == i || !bytes.HasPrefix(out[j:], []byte(" 0 obj\n<<")) {
		return 0, 0, bad
	}
	start := j + len(" 0 obj\n")
	n := bytes.Index(out[start:], []byte("\nendobj\n"))
	if n < 0 {
		return 0, 0, bad
	}
	end := start + n
	slot := out[start:end]
	if !bytes.HasSuffix(slot, []byte(">>")) || !bytes.Contains(slot, []byte("/Type /Sig")) || !bytes.Contains(slot, []byte("/ByteRange [0 ")) || !bytes.Contains(slot, []byte("/Contents<")) {
		return 0, 0, bad
	}
	return start, end, nil
}

// signatureDict is the signature dictionary Sign writes.
type signatureDict struct {
	date  time.Time
	texts [][2]string // key, encoded value ("" to leave out)
}

// byteRangeWidth is the room for "/ByteRange [0 a b c]": three numbers
// of up to 10 digits.
const byteRangeWidth = len("/ByteRange [0 ") + 3*10 + 2 + len("]")

// write writes the dictionary into out[start:end], padding /Contents with
// zeros to fill it, then signs.
func (d signatureDict) write(out []byte, start, end int, s Signer) error {
	if len(out) >= 1e10 {
		return ErrTooLarge
	}
	var head strings.Builder
	head.WriteString("<<\n/Type /Sig\n/Filter /Adobe.PPKLite\n/SubFilter /" + pdfsig.SubFilter + "\n")
	head.WriteString("/M " + textString(formatDate(d.date)) + "\n")
	for _, t := range d.texts {
		if t[1] != "" {
			head.WriteString("/" + t[0] + " " + t[1] + "\n")
		}
	}
	brAt := head.Len()
	head.WriteString(strings.Repeat(" ", byteRangeWidth) + "\n")
	tail := ">\n>>"
	contents := end - start - head.Len() - len("/Contents <") - len(tail)
	if contents%2 != 0 {
		head.WriteString(" ")
		contents--
	}
	head.WriteString("/Contents <")
	maxCMS, err := buildCMS(make([]byte, sha256.Size), s.Chain, func([]byte) ([]byte, error) {
		return make([]byte, maxECDSASignature), nil
	})
	if err != nil {
		return err
	}
	if contents < 2*len(maxCMS) {
		return fmt.Errorf("pdf: sign: room for %d bytes of signature, need %d", contents/2, len(maxCMS))
	}
	a := start + head.Len() - 1 // the '<'
	b := a + 1 + contents + 1   // after the '>'
	br := fmt.Sprintf("/ByteRange [0 %d %d %d]", a, b, len(out)-b)
	h := []byte(head.String())
	copy(h[brAt:], br)
	p := out[start:end]
	n := copy(p, h)
	for i := range contents {
		p[n+i] = '0'
	}
	copy(p[n+contents:], tail)

	sum := sha256.New()
	sum.Write(out[:a])
	sum.Write(out[b:])
	cms, err := buildCMS(sum.Sum(nil), s.Chain, func(digest []byte) ([]byte, error) {
		return s.Key.Sign(rand.Reader, digest, crypto.SHA256)
	})
	if err != nil {
		return err
	}
	if len(cms) > len(maxCMS) {
		return errors.New("pdf: sign: the signature is longer than its room")
	}
	hex.Encode(out[a+1:], cms)
	return nil
}

// buildCMS encodes the detached CMS SignedData (RFC 5652) of a PAdES
// B-B signature over content whose SHA-256 is digest: signed attributes
// content-type, message-digest and signing-certificate-v2 naming every
// certificate of chain; no signing-time (PAdES puts the time in /M). sign
// signs the SHA-256 of the DER signed attributes.
func buildCMS(digest []byte, chain []*x509.Certificate, sign func(digest []byte) ([]byte, error)) ([]byte, error) {
	attr := func(oid encasn1.ObjectIdentifier, value cryptobyte.BuilderContinuation) []byte {
		var b cryptobyte.Builder
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(asn1.SET, value)
		})
		return b.BytesOrPanic()
	}
	attrs := [][]byte{
		attr(pdfsig.OIDContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(pdfsig.OIDData) }),
		attr(pdfsig.OIDMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) }),
		attr(pdfsig.OIDSigningCertV2, func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
					for _, c := range chain {
						h := sha256.Sum256(c.Raw)
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2, hashAlgorithm DEFAULT sha-256
							b.AddASN1OctetString(h[:])
						})
					}
				})
			})
		}),
	}
	slices.SortFunc(attrs, bytes.Compare) // DER orders a SET OF
	addAttrs := func(b *cryptobyte.Builder) {
		for _, a := range attrs {
			b.AddBytes(a)
		}
	}
	var sa cryptobyte.Builder
	sa.AddASN1(asn1.SET, addAttrs)
	signed, err := sa.Bytes()
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(signed)
	sig, err := sign(h[:])
	if err != nil {
		return nil, fmt.Errorf("pdf: sign: %w", err)
	}
	signer := chain[0]
	sha256Alg := func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(pdfsig.OIDSHA256) })
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(pdfsig.OIDSignedData)
		b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(1)
				b.AddASN1(asn1.SET, sha256Alg)
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(pdfsig.OIDData) })
				b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
					for _, c := range chain {
						b.AddBytes(c.Raw)
					}
				})
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignerInfo
						b.AddASN1Int64(1)
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
							b.AddBytes(signer.RawIssuer)
							b.AddASN1BigInt(signer.SerialNumber)
						})
						sha256Alg(b)
						b.AddASN1(asn1.Tag(0).ContextSpecific().Constructed(), addAttrs)
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(pdfsig.OIDECDSAWithSHA256) })
						b.AddASN1OctetString(sig)
					})
				})
			})
		})
	})
	return b.Bytes()
}

// signingTime is t to the second, in UTC, as the signature records it.
func signingTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// formatDate writes a PDF date in UTC: D:YYYYMMDDHHmmSS+00'00'.
func formatDate(t time.Time) string {
	return "D:" + t.UTC().Format("20060102150405") + "+00'00'"
}

// textString encodes a text string: printable ASCII as a literal string,
// anything else as UTF-16BE hex with a byte order mark; "" for "".
func textString(s string) string {
	if s == "" {
		return ""
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		ascii = ascii && s[i] >= 0x20 && s[i] <= 0x7e
	}
	if ascii {
		r := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`)
		return "(" + r.Replace(s) + ")"
	}
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2, 2+2*len(u))
	b[0], b[1] = 0xfe, 0xff
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return "<" + hex.EncodeToString(b) + ">"
}

// SelfSignedValidity is how long a SelfSigned certificate is valid.
// Trust in the node's signature comes from its key ID in the trust
// roots, not from the certificate; a long validity keeps PDF readers
// from calling old packages' signatures expired.
const SelfSignedValidity = 10 * 365 * 24 * time.Hour

// SelfSigned makes a self-signed certificate for key, for when the
// operator gives none: subject CN=commonName, valid from notBefore (to
// the second) for SelfSignedValidity, key usage digitalSignature and
// nonRepudiation (contentCommitment), not a CA, with the key's ID
// (block.KeyID, the first 16 bytes of the SHA-256 of its PKIX DER) as
// its subject key identifier and a random serial number.
func SelfSigned(key crypto.Signer, commonName string, notBefore time.Time) (*x509.Certificate, error) {
	if key == nil {
		return nil, errors.New("pdf: self-signed certificate: no key")
	}
	if commonName == "" || len(commonName) > 64 || !utf8.ValidString(commonName) {
		return nil, errors.New("pdf: self-signed certificate: the common name must be 1 to 64 bytes of UTF-8")
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("pdf: self-signed certificate: %w", err)
	}
	keyID := sha256.Sum256(der)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	nb := notBefore.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial.Add(serial, big.NewInt(1)),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             nb,
		NotAfter:              nb.Add(SelfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID[:16],
	}
	raw, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("pdf: self-signed certificate: %w", err)
	}
	return x509.ParseCertificate(raw)
}
