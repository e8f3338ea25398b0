package pdf

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/pkcs7"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Info is what inspection tells about submitted bytes.
type Info struct {
	// PDF says whether the bytes parse as a PDF (pdfcpu, relaxed
	// validation). Evidence that does not is still evidence: Error says
	// why it is not a PDF.
	PDF       bool   `json:"pdf"`
	Error     string `json:"error,omitempty"`
	Version   string `json:"version,omitempty"`
	Pages     int    `json:"pages,omitempty"`
	Encrypted bool   `json:"encrypted,omitempty"`
	// Signatures lists the digital signatures, each with its integrity
	// and its trust reported apart.
	Signatures []Signature `json:"signatures,omitempty"`
	// SignatureError says why signatures could not be checked.
	SignatureError string `json:"signature_error,omitempty"`
}

// Integrity of a signature: does it verify over the bytes it covers?
const (
	Intact   = "intact"   // the signature verifies and the signed bytes are unchanged
	Modified = "modified" // the signed bytes were changed after signing
	Invalid  = "invalid"  // the signature itself does not verify or is malformed
	Unknown  = "unknown"  // not established (unsupported profile, unsigned field, …)
)

// Trust of a signer's certificate, checked offline against pdfcpu's local
// certificate store only (no CRL or OCSP look-ups): usually unknown.
const (
	Trusted   = "trusted"
	Untrusted = "untrusted"
	// Unknown (as above): no path to a trusted root could be established offline.
)

// Signature is one digital signature of a PDF.
type Signature struct {
	// Kind is form, page, usage_rights or doc_timestamp.
	Kind        string `json:"kind"`
	Signed      bool   `json:"signed"` // false: an empty signature field
	Certified   bool   `json:"certified,omitempty"`
	Integrity   string `json:"integrity"`
	Trust       string `json:"trust"`
	Signer      string `json:"signer,omitempty"`
	SigningTime string `json:"signing_time,omitempty"` // as claimed in the signature
	SubFilter   string `json:"sub_filter,omitempty"`
	// WholeDocument: the signature covers the whole file (nothing was
	// appended after signing); set when integrity was checked.
	WholeDocument bool   `json:"whole_document,omitempty"`
	Reason        string `json:"reason,omitempty"` // pdfcpu's assessment, in English
}

// Signed reports whether the PDF carries at least one signed signature.
func (i Info) Signed() bool {
	for _, s := range i.Signatures {
		if s.Signed {
			return true
		}
	}
	return false
}

// SignaturesIntact reports whether every signed signature is intact (true
// when there are none).
func (i Info) SignaturesIntact() bool {
	for _, s := range i.Signatures {
		if s.Signed && s.Integrity != Intact {
			return false
		}
	}
	return true
}

// Inspect reads a document in this process and reports whether it is a
// PDF, its page count, and its digital signatures with their integrity and
// trust, without any network access. Bytes that are not a PDF, or a PDF
// that is damaged or cut short, are not an error: Info.PDF is false and
// Info.Error says why. The error is for reading rs. Memory and time are
// bounded only by pdfcpu's own limits: the node inspects uploads through
// an Inspector, whose sandbox bounds both.
func Inspect(rs io.ReadSeeker) (info Info, err error) {
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("pdf: inspect: %w", err)
	}
	// pdfcpu panics on some malformed input; that is "not a PDF".
	defer func() {
		if r := recover(); r != nil {
			info = Info{Error: fmt.Sprintf("pdfcpu failed on this input: %v", r)}
			err = nil
		}
	}()
	if reason := damaged(rs); reason != "" {
		return Info{Error: reason}, nil
	}
	state.RLock()
	defer state.RUnlock()
	conf := config()
	conf.Cmd = model.VALIDATESIGNATURES
	conf.Limits = inspectLimits()
	ctx, rerr := api.ReadValidateAndOptimize(rs, conf)
	if rerr != nil {
		return Info{Error: rerr.Error()}, nil
	}
	info = Info{PDF: true, Version: ctx.HeaderVersion.String(), Pages: ctx.PageCount, Encrypted: ctx.Encrypt != nil}
	if ctx.HeaderVersion == nil {
		info.Version = ""
	}
	if len(ctx.Signatures) == 0 && !ctx.SignatureExist && ctx.URSignature == nil {
		return info, nil
	}
	if err := pdfcpu.LoadCertificates(); err != nil {
		info.SignatureError = "loading the local certificate store: " + err.Error()
		return info, nil
	}
	ra, ok := rs.(io.ReaderAt)
	if !ok {
		ra = &seekReaderAt{rs: rs}
	}
	results, verr := pdfcpu.ValidateSignatures(ra, ctx, true)
	if verr != nil {
		info.SignatureError = verr.Error()
		return info, nil
	}
	size, _ := rs.Seek(0, io.SeekEnd)
	for _, r := range results {
		sig := signatureOf(r)
		if sd := sigDict(ctx, r.ObjNr); sd != nil && r.Signed {
			// pdfcpu leaves integrity unknown whenever it cannot build a
			// trusted certificate path (always, offline), so check the
			// signature over its byte range here.
			if integrity, whole, detail, signer := checkIntegrity(ra, size, sd); integrity != Unknown {
				sig.Integrity, sig.WholeDocument = integrity, whole
				if detail != "" {
					sig.Reason = detail
				}
				if signer != "" {
					sig.Signer = signer
				}
			}
		}
		info.Signatures = append(info.Signatures, sig)
	}
	return info, nil
}

// sigDict returns the signature dictionary of the signature field objNr.
func sigDict(ctx *model.Context, objNr int) types.Dict {
	if objNr <= 0 {
		return nil
	}
	d, err := ctx.DereferenceDict(*types.NewIndirectRef(objNr, 0))
	if err != nil || d == nil {
		return nil
	}
	if t := d.Type(); t != nil && (*t == "Sig" || *t == "DocTimeStamp") {
		return d
	}
	v, ok := d.Find("V")
	if !ok {
		return nil
	}
	sd, err := ctx.DereferenceDict(v)
	if err != nil {
		return nil
	}
	return sd
}

// checkIntegrity verifies a PKCS#7/CAdES detached signature over its byte
// range: the message digest of the signed bytes and the signer's
// signature over the signed attributes. whole says whether the byte range
// covers the whole file (nothing was appended after signing). Other
// signature profiles give Unknown (pdfcpu's answer stands).
func checkIntegrity(ra io.ReaderAt, size int64, sd types.Dict) (integrity string, whole bool, detail, signer string) {
	sub := sd.NameEntry("SubFilter")
	if sub == nil || (*sub != "adbe.pkcs7.detached" && *sub != "ETSI.CAdES.detached") {
		return Unknown, false, "", signer
	}
	arr := sd.ArrayEntry("ByteRange")
	hl := sd.HexLiteralEntry("Contents")
	if len(arr) != 4 || hl == nil {
		return Invalid, false, "signature dictionary without ByteRange or Contents", signer
	}
	var br [4]int64
	for i, o := range arr {
		n, ok := o.(types.Integer)
		if !ok || n < 0 {
			return Invalid, false, "malformed ByteRange", signer
		}
		br[i] = int64(n)
	}
	if br[0] != 0 || br[1] <= 0 || br[2] <= br[1] || br[2]+br[3] > size {
		return Invalid, false, fmt.Sprintf("ByteRange %v does not fit a file of %d bytes", br, size), signer
	}
	data := make([]byte, br[1]+br[3])
	if _, err := ra.ReadAt(data[:br[1]], br[0]); err != nil {
		return Invalid, false, "reading the signed bytes: " + err.Error(), signer
	}
	if _, err := ra.ReadAt(data[br[1]:], br[2]); err != nil {
		return Invalid, false, "reading the signed bytes: " + err.Error(), signer
	}
	whole = br[2]+br[3] == size
	raw, err := hl.Bytes()
	if err != nil {
		return Invalid, whole, "signature Contents: " + err.Error(), signer
	}
	p7, err := pkcs7.Parse(raw)
	if err != nil {
		return Invalid, whole, "parsing the PKCS#7 signature: " + err.Error(), signer
	}
	if len(p7.Signers) == 0 {
		return Invalid, whole, "the PKCS#7 signature has no signer", signer
	}
	ct := p7.ContentType
	if len(ct) == 0 {
		ct = pkcs7.OIDData
	}
	for _, si := range p7.Signers {
		cert, err := pkcs7.GetCertFromCertsByIssuerAndSerial(p7.Certificates, si.IssuerAndSerialNumber)
		if err != nil || cert == nil {
			return Unknown, whole, "", signer
		}
		if signer == "" {
			signer = cert.Subject.String()
		}
		if err := pkcs7.VerifyMessageDigestDetached(si, data); err != nil {
			var mm *pkcs7.MessageDigestMismatchError
			if errors.As(err, &mm) {
				return Modified, whole, "the signed bytes were changed after signing (message digest mismatch)", signer
			}
			return Invalid, whole, "message digest: " + err.Error(), signer
		}
		if err := pkcs7.CheckSignatureWithContentType(cert, si, data, ct); err != nil {
			return Invalid, whole, "the signature does not verify: " + err.Error(), signer
		}
	}
	if !whole {
		return Intact, false, "the signed revision is intact; the file was extended after signing (incremental update)", signer
	}
	return Intact, true, "", signer
}

func signatureOf(r *model.SignatureValidationResult) Signature {
	s := Signature{
		Kind:      [...]string{"form", "page", "usage_rights", "doc_timestamp"}[min(max(r.Type, 0), 3)],
		Signed:    r.Signed,
		Certified: r.Certified(),
		SubFilter: r.Details.SubFilter,
		Signer:    r.Details.SignerIdentity,
		Integrity: Unknown,
		Trust:     Unknown,
	}
	if s.Signer == "" || s.Signer == "Unknown" {
		s.Signer = r.Details.SignerName
	}
	if !r.Details.SigningTime.IsZero() {
		s.SigningTime = r.Details.SigningTime.UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	switch {
	case r.Reason == model.SignatureReasonSignatureForged || r.Reason == model.SignatureReasonMalformed:
		s.Integrity = Invalid
	case r.DocModified == model.True || r.Reason == model.SignatureReasonDocModified:
		s.Integrity = Modified
	case r.DocModified == model.False || r.Status == model.SignatureStatusValid:
		s.Integrity = Intact
	}
	// Trust: a certificate path to a root in pdfcpu's local store
	// (trusted), a certificate found bad (untrusted), or nothing
	// established offline (unknown: the usual answer for a self-signed or
	// unknown issuer, since no network look-up is made).
	switch {
	case r.Status == model.SignatureStatusValid:
		s.Trust = Trusted
	case r.Reason == model.SignatureReasonCertExpired || r.Reason == model.SignatureReasonCertRevoked || r.Reason == model.SignatureReasonCertInvalid:
		s.Trust = Untrusted
	default:
		for _, sg := range r.Details.Signers {
			if sg.CertificatePathStatus == model.True {
				s.Trust = Trusted
			}
		}
	}
	s.Reason = r.Reason.String()
	if s.Reason == "" {
		s.Reason = r.Status.String()
	}
	return s
}

// seekReaderAt serves ReadAt from a ReadSeeker.
type seekReaderAt struct {
	mu sync.Mutex
	rs io.ReadSeeker
}

func (s *seekReaderAt) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.rs.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(s.rs, p)
}
