package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
)

// Errors of certificates and packages.
var (
	// ErrNoCertificates: this node cannot make certificates now; the
	// wrapped error says why (ErrNoFont: no CJK font installed).
	ErrNoCertificates = errors.New("certificates cannot be made on this node")
	// ErrNoFont: no CJK TrueType font is installed (pdf.ErrNoFont).
	ErrNoFont = pdf.ErrNoFont
	// ErrNotOriginal: the file given as the original evidence does not
	// have the recorded digests.
	ErrNotOriginal = errors.New("this file is not the recorded evidence")
)

// DefaultPDFDir is where certificates are rendered from when
// Config.PDFDir is empty: pdfcpu's configuration and the installed CJK
// font (about 12 MB, installed once, reused by later processes).
func DefaultPDFDir() string {
	return filepath.Join(os.TempDir(), "evidence-node-pdf-"+strconv.Itoa(os.Getuid()))
}

// Document is a rendered evidence package.
type Document struct {
	PDF []byte
	// Fingerprint is the package's fingerprint (证据数字指纹): the hex
	// SHA-256 of the whole file (evpkg.Digest).
	Fingerprint string
}

// renderer makes the PDF renderer on first use (installing the font takes
// about half a second) and again after a failure (e.g. the font was
// installed since, or a cleaned temporary directory lost it).
type renderer struct {
	dir string

	mu  sync.Mutex
	pdf *pdf.Renderer
}

func (r *renderer) get() (*pdf.Renderer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pdf != nil {
		return r.pdf, nil
	}
	p, err := pdf.New(pdf.Config{Dir: r.dir})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCertificates, err)
	}
	r.pdf = p
	return p, nil
}

// failed forgets the renderer after a rendering error.
func (r *renderer) failed() {
	r.mu.Lock()
	r.pdf = nil
	r.mu.Unlock()
}

// certify renders the certificate of rc.
func (r *renderer) certify(ctx context.Context, rc Receipt, o pdf.CertOptions) ([]byte, error) {
	p, err := r.get()
	if err != nil {
		return nil, err
	}
	o.Inspection = inspection(rc)
	doc, err := p.Certificate(ctx, rc.Receipt, o)
	if err != nil {
		r.failed()
		return nil, fmt.Errorf("certificate of %s: %w", rc.ID, err)
	}
	return doc, nil
}

// inspection decodes the node's inspection of the record's content, if
// it has one.
func inspection(rc Receipt) *pdf.Info {
	if len(rc.PDF) == 0 {
		return nil
	}
	var in pdf.Info
	if err := json.Unmarshal(rc.PDF, &in); err != nil {
		return nil
	}
	return &in
}

// Certificate renders the evidence certificate (存证证书) of id, its QR
// code and link pointing at base (the node's public URL). A record still
// queued fails with a *PendingError.
func (s *Service) Certificate(ctx context.Context, id evidence.ID, base string) ([]byte, error) {
	rc, err := s.Receipt(ctx, id)
	if err != nil {
		return nil, err
	}
	doc, err := s.renderer.certify(ctx, rc, pdf.CertOptions{BaseURL: base})
	if err != nil {
		return nil, err
	}
	return s.sign(doc)
}

// sign signs a document the node issues, binding every byte.
func (s *Service) sign(doc []byte) ([]byte, error) {
	out, err := pdf.Sign(doc, s.signer)
	if err != nil {
		return nil, fmt.Errorf("%w: signing: %w", ErrNoCertificates, err)
	}
	return out, nil
}

// Package builds the evidence package (电子证据包) of id: the certificate,
// with the manifest's digest printed on it, carrying the attachments
// evpkg.Build lists (receipt, block, trust roots, manifest) and, if given,
// the original evidence unchanged — which must have every digest the
// record holds (else ErrNotOriginal).
func (s *Service) Package(ctx context.Context, id evidence.ID, base string, original *evpkg.File) (Document, error) {
	rc, err := s.Receipt(ctx, id)
	if err != nil {
		return Document{}, err
	}
	var originals []evpkg.File
	if original != nil {
		if err := isOriginal(rc.Receipt, original.Data); err != nil {
			return Document{}, err
		}
		originals = append(originals, *original)
	}
	b, err := s.ledger.Block(ctx, rc.BlockNumber)
	if err != nil {
		return Document{}, fmt.Errorf("block %d of %s: %w", rc.BlockNumber, rc.ID, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return Document{}, err
	}
	files, err := evpkg.Build(rc.Receipt, []evpkg.Block{{Kind: b.Kind, Number: b.Header.Number, Raw: b.Raw}}, info.TrustRoots, originals...)
	if err != nil {
		return Document{}, fmt.Errorf("package of %s: %w", rc.ID, err)
	}
	var manifest string
	for _, f := range files {
		if f.Name == evpkg.ManifestName {
			manifest = evpkg.Digest(f.Data)
		}
	}
	cert, err := s.renderer.certify(ctx, rc, pdf.CertOptions{BaseURL: base, ManifestDigest: manifest})
	if err != nil {
		return Document{}, err
	}
	modTime, _ := time.Parse(time.RFC3339Nano, rc.LedgerTime)
	att := make([]pdf.File, len(files))
	for i, f := range files {
		att[i] = pdf.File{Name: f.Name, Description: f.Description, Data: f.Data, ModTime: modTime}
	}
	doc, err := pdf.AttachFiles(cert, att)
	if err != nil {
		return Document{}, fmt.Errorf("package of %s: %w", rc.ID, err)
	}
	if doc, err = s.sign(doc); err != nil {
		return Document{}, err
	}
	return Document{PDF: doc, Fingerprint: evpkg.Digest(doc)}, nil
}

// isOriginal checks data against every digest the record holds.
func isOriginal(rc verifier.Receipt, data []byte) error {
	for _, d := range rc.Digests {
		if got := evidence.Sum(d.Algorithm, data); got.Hex() != d.Hex {
			return fmt.Errorf("%w: its %s digest %s differs from the recorded %s", ErrNotOriginal, d.Algorithm, got.Hex(), d.Hex)
		}
	}
	return nil
}

// setSigner sets the key and certificate chain that sign documents.
func (s *Service) setSigner(key *ecdsa.PrivateKey, chain []*x509.Certificate) error {
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		key, chain = k, nil
	}
	if len(chain) == 0 {
		id, err := block.KeyID(&key.PublicKey)
		if err != nil {
			return err
		}
		c, err := pdf.SelfSigned(key, "evidence node "+id, s.now())
		if err != nil {
			return err
		}
		chain = []*x509.Certificate{c}
	}
	k, err := block.NewKey(&key.PublicKey)
	if err != nil {
		return fmt.Errorf("node: signing key: %w", err)
	}
	s.signer = pdf.Signer{Key: key, Chain: chain, Name: chain[0].Subject.CommonName,
		Reason: "存证证书与电子证据包由本节点签署 / certificate or evidence package issued by this node", Clock: s.now}
	if err := s.signer.Validate(); err != nil {
		return fmt.Errorf("node: signing certificate: %w", err)
	}
	s.signerKey = k
	return nil
}
