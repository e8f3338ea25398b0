package node

import (
	"container/list"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/prometheus/client_golang/prometheus"

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
	d, err := s.documents.get(ctx, "certificate", rc, base, func(ctx context.Context) (Document, error) {
		doc, err := s.renderer.certify(ctx, rc, pdf.CertOptions{BaseURL: base})
		if err != nil {
			return Document{}, err
		}
		if doc, err = s.sign(doc); err != nil {
			return Document{}, err
		}
		return Document{PDF: doc, Fingerprint: evpkg.Digest(doc)}, nil
	})
	return d.PDF, err
}

// sign signs a document the node issues, binding every byte.
func (s *Service) sign(doc []byte) ([]byte, error) {
	out, err := pdf.Sign(doc, s.signer)
	if err != nil {
		return nil, fmt.Errorf("%w: signing: %w", ErrNoCertificates, err)
	}
	return out, nil
}

// Original is an original evidence file to embed in a package: its name
// in the package (original.<ext>) and its content as read, with a kept
// copy (ReadOptions.Keep).
type Original struct {
	Name    string
	Content Content
}

// MaxOriginal is the largest original embedded in a package.
const MaxOriginal = 32 << 20

// Package builds the evidence package (电子证据包) of id: the certificate,
// with the manifest's digest printed on it, carrying the attachments
// evpkg.Build lists (receipt, block, trust roots, manifest) and, if given,
// the original evidence unchanged — which must have every digest the
// record holds (else ErrNotOriginal; checked before its copy is read into
// memory). Packages with an original are built one at a time.
func (s *Service) Package(ctx context.Context, id evidence.ID, base string, original *Original) (Document, error) {
	rc, err := s.Receipt(ctx, id)
	if err != nil {
		return Document{}, err
	}
	if original == nil {
		return s.documents.get(ctx, "package", rc, base, func(ctx context.Context) (Document, error) {
			return s.buildPackage(ctx, rc, base, nil)
		})
	}
	return s.buildPackage(ctx, rc, base, original)
}

func (s *Service) buildPackage(ctx context.Context, rc Receipt, base string, original *Original) (Document, error) {
	var originals []evpkg.File
	if original != nil {
		if err := isOriginal(rc.Receipt, original.Content.Digests); err != nil {
			return Document{}, err
		}
		if original.Content.Kept == nil {
			return Document{}, errors.New("node: package: the original's content was not kept")
		}
		select {
		case s.originals <- struct{}{}:
			defer func() { <-s.originals }()
		case <-ctx.Done():
			return Document{}, ctx.Err()
		}
		data, err := original.Content.Kept.Bytes()
		if err != nil {
			return Document{}, fmt.Errorf("%w: reading the original: %v", ErrUnavailable, err)
		}
		originals = append(originals, evpkg.File{Name: original.Name, Data: data})
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
	if err := ctx.Err(); err != nil {
		return Document{}, err
	}
	cert, err := s.renderer.certify(ctx, rc, pdf.CertOptions{BaseURL: base, ManifestDigest: manifest})
	if err != nil {
		return Document{}, err
	}
	if err := ctx.Err(); err != nil { // the client went away while it rendered
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

// isOriginal checks the digests of a file against every digest the
// record holds.
func isOriginal(rc verifier.Receipt, ds []evidence.Digest) error {
	for _, want := range rc.Digests {
		var got *evidence.Digest
		for i := range ds {
			if ds[i].Algorithm == want.Algorithm {
				got = &ds[i]
			}
		}
		if got == nil {
			return fmt.Errorf("%w: it was not hashed with %s", ErrNotOriginal, want.Algorithm)
		}
		if got.Hex() != want.Hex {
			return fmt.Errorf("%w: its %s digest %s differs from the recorded %s", ErrNotOriginal, want.Algorithm, got.Hex(), want.Hex)
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

// documentCache keeps the certificates and packages (without an
// original) the node made, by kind, record and public URL, until the
// record's receipt changes (its version is the receipt's digest: trusted
// time arriving later makes a new one), within a byte budget; concurrent
// requests for the same document share one rendering.
type documentCache struct {
	budget   int
	rendered *prometheus.CounterVec

	mu     sync.Mutex
	size   int
	lru    list.List // of *cachedDoc, most recent first
	byKey  map[string]*list.Element
	flight singleflight.Group
}

type cachedDoc struct {
	key string
	doc Document
}

func newDocumentCache(budget int, rendered *prometheus.CounterVec) *documentCache {
	return &documentCache{budget: budget, rendered: rendered, byKey: map[string]*list.Element{}}
}

// get returns the cached document, or makes it with build. build runs
// under the first requester's context: if that client goes away while the
// document is queued or rendered, the others try again.
func (c *documentCache) get(ctx context.Context, kind string, rc Receipt, base string, build func(context.Context) (Document, error)) (Document, error) {
	version := sha256.Sum256(rc.AppendJSON(nil))
	key := kind + "\x00" + rc.ID + "\x00" + base + "\x00" + hex.EncodeToString(version[:])
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		if e, ok := c.byKey[key]; ok {
			c.lru.MoveToFront(e)
			d := e.Value.(*cachedDoc).doc
			c.mu.Unlock()
			return d, nil
		}
		c.mu.Unlock()
		ch := c.flight.DoChan(key, func() (any, error) {
			d, err := build(ctx)
			result := "ok"
			switch {
			case errors.Is(err, context.Canceled):
				result = "abandoned"
			case err != nil:
				result = "error"
			default:
				c.put(key, d)
			}
			c.rendered.WithLabelValues(kind, result).Inc()
			return d, err
		})
		select {
		case r := <-ch:
			if r.Err != nil && errors.Is(r.Err, context.Canceled) && ctx.Err() == nil && attempt == 0 {
				continue // another requester's client went away: ours has not
			}
			d, _ := r.Val.(Document)
			return d, r.Err
		case <-ctx.Done():
			return Document{}, ctx.Err()
		}
	}
}

func (c *documentCache) put(key string, d Document) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(d.PDF) > c.budget/4 {
		return
	}
	if _, ok := c.byKey[key]; ok {
		return
	}
	c.byKey[key] = c.lru.PushFront(&cachedDoc{key: key, doc: d})
	c.size += len(d.PDF)
	for c.size > c.budget {
		old := c.lru.Back()
		od := old.Value.(*cachedDoc)
		c.lru.Remove(old)
		delete(c.byKey, od.key)
		c.size -= len(od.doc.PDF)
	}
}
