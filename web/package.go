package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v3"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
)

// HeaderFingerprint carries the evidence package's fingerprint (证据数字指纹):
// the lower-case hex SHA-256 of the whole package file as sent.
const HeaderFingerprint = "X-Evidence-Fingerprint"

// PDFDir is where certificates are rendered from: pdfcpu's configuration
// and the installed CJK font (about 12 MB, installed once, reused by later
// processes).
var PDFDir = filepath.Join(os.TempDir(), "evidence-node-pdf-"+strconv.Itoa(os.Getuid()))

// packager serves certificates and packages; the PDF renderer is made on
// first use (installing the font takes about half a second) and again
// after a failure (e.g. the font was installed since).
type packager struct {
	svc *node.Service

	mu  sync.Mutex
	pdf *pdf.Renderer
}

// registerPackage serves GET /evidence/{id}/certificate.pdf (the
// certificate alone) and GET /evidence/{id}/package.pdf (the certificate
// carrying the receipt, the block, the trust roots and the manifest), both
// public.
func (s *server) registerPackage(api fiber.Router) {
	p := &packager{svc: s.svc}
	api.Get("/evidence/:id/certificate.pdf", p.certificate)
	api.Get("/evidence/:id/package.pdf", p.pkg)
	api.Post("/evidence/:id/package.pdf", p.pkgWithOriginal)
}

// MaxOriginal is the largest original embedded in a package.
const MaxOriginal = 32 << 20

// pkgWithOriginal is pkg with the original evidence embedded unchanged:
// the holder uploads it (multipart field "file"); it must have the
// recorded digest. A signed PDF keeps its signature: the package is a new
// PDF that carries it as an attachment.
func (p *packager) pkgWithOriginal(c fiber.Ctx) error { return p.sendPackage(c, true) }

// checkedOriginal reads the uploaded original and refuses it unless it has
// every digest the record holds.
func checkedOriginal(c fiber.Ctx, rc verifier.Receipt) (*evpkg.File, error) {
	orig, err := readOriginal(c)
	if err != nil {
		return nil, err
	}
	for _, d := range rc.Digests {
		if got := evidence.Sum(d.Algorithm, orig.Data); got.Hex() != d.Hex {
			return nil, &Error{Status: 400, Code: CodeBadRequest,
				Message:   fmt.Sprintf("this file is not the recorded evidence: its %s digest %s differs from the recorded %s", d.Algorithm, got.Hex(), d.Hex),
				MessageZH: "该文件与存证记录不一致，不能作为原件放入电子证据包"}
		}
	}
	return &orig, nil
}

// readOriginal reads the multipart part "file", at most MaxOriginal bytes,
// and names it original.<ext> after the uploaded file name (or %PDF).
func readOriginal(c fiber.Ctx) (evpkg.File, error) {
	_, params, err := mime.ParseMediaType(string(c.Request().Header.ContentType()))
	if err != nil || params["boundary"] == "" {
		return evpkg.File{}, apiErr(415, CodeUnsupportedMedia, "send the original as multipart/form-data, field \"file\"", "请以 multipart/form-data 上传原件（字段 file）")
	}
	if cl := c.Request().Header.ContentLength(); cl > MaxOriginal+1<<20 {
		return evpkg.File{}, apiErr(413, CodeTooLarge, fmt.Sprintf("originals larger than %d MiB are not embedded", MaxOriginal>>20), "原件过大，无法放入电子证据包")
	}
	var r io.Reader = c.Request().BodyStream()
	if r == nil {
		r = bytes.NewReader(c.Body())
	}
	mr := multipart.NewReader(io.LimitReader(r, MaxOriginal+1<<20), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return evpkg.File{}, badRequest(`multipart body without a "file" part (%v)`, err)
		}
		if part.FormName() != "file" {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, MaxOriginal+1))
		if err != nil {
			return evpkg.File{}, badRequest("reading the file: %v", err)
		}
		if len(data) > MaxOriginal {
			return evpkg.File{}, apiErr(413, CodeTooLarge, fmt.Sprintf("originals larger than %d MiB are not embedded", MaxOriginal>>20), "原件过大，无法放入电子证据包")
		}
		io.Copy(io.Discard, r) // the rest of the body, so the connection can be reused
		return evpkg.File{Name: originalName(part.FileName(), data), Data: data}, nil
	}
}

func originalName(upload string, data []byte) string {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(upload), "."))
	ok := len(ext) > 0 && len(ext) <= 8
	for _, ch := range ext {
		ok = ok && (ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9')
	}
	switch {
	case ok:
		return "original." + ext
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return "original.pdf"
	}
	return "original"
}

// errNoRenderer says certificates cannot be made on this node.
var errNoRenderer = errors.New("certificate renderer unavailable")

func (p *packager) renderer() (*pdf.Renderer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pdf != nil {
		return p.pdf, nil
	}
	r, err := pdf.New(pdf.Config{Dir: PDFDir})
	if err != nil {
		msg, zh := "certificates cannot be made on this node: "+err.Error(), "本节点暂无法生成存证证书"
		if errors.Is(err, pdf.ErrNoFont) {
			msg, zh = "certificates cannot be made on this node: the CJK font is not installed (operator: apt-get install fonts-wqy-zenhei)",
				"本节点缺少中文字体，暂无法生成存证证书（运维：安装 fonts-wqy-zenhei）"
		}
		return nil, &Error{Status: 503, Code: CodeInternal, Message: msg, MessageZH: zh, Err: fmt.Errorf("%w: %v", errNoRenderer, err)}
	}
	p.pdf = r
	return r, nil
}

// failed forgets the renderer after a rendering error, so that the next
// request sets it up again (pdf.New reinstalls a font that went missing,
// e.g. from a cleaned temporary directory).
func (p *packager) failed() {
	p.mu.Lock()
	p.pdf = nil
	p.mu.Unlock()
}

// errPendingAnswered means the 202 answer for a record not yet on the
// ledger was sent.
var errPendingAnswered = errors.New("pending answered")

// receipt reads the path's ID (400 id_checksum when mistyped) and its
// receipt (404 not_found when unknown). A record queued but not yet on
// the ledger has no block to certify: it is answered 202 pending, as
// GET /evidence/{id} does, and errPendingAnswered returned.
func (p *packager) receipt(c fiber.Ctx) (verifier.Receipt, error) {
	id, err := pathID(c)
	if err != nil {
		return verifier.Receipt{}, err
	}
	rc, err := p.svc.Receipt(c.Context(), id)
	if errors.Is(err, node.ErrPending) {
		c.Set(fiber.HeaderRetryAfter, "1")
		if jerr := c.Status(202).JSON(Pending{ID: id.String(), Status: "pending"}); jerr != nil {
			return rc, jerr
		}
		return rc, errPendingAnswered
	}
	return rc, err
}

// baseURL is the public base URL of this node as the client reached it:
// the verification link on the certificate points back here.
func baseURL(c fiber.Ctx) (string, error) {
	host := c.Host()
	if host == "" || len(host) > 255 {
		return "", badRequest("the request has no usable Host header")
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':' || r == '[' || r == ']') {
			return "", badRequest("invalid Host header %q", host)
		}
	}
	return c.Scheme() + "://" + host, nil
}

func (p *packager) certificate(c fiber.Ctx) error {
	rc, err := p.receipt(c)
	if errors.Is(err, errPendingAnswered) {
		return nil
	}
	if err != nil {
		return err
	}
	base, err := baseURL(c)
	if err != nil {
		return err
	}
	r, err := p.renderer()
	if err != nil {
		return err
	}
	doc, err := r.Certificate(c.Context(), rc, pdf.CertOptions{BaseURL: base})
	if err != nil {
		p.failed()
		return fmt.Errorf("certificate of %s: %w", rc.ID, err)
	}
	return sendPDF(c, doc, "inline", "certificate-"+rc.ID+".pdf")
}

// pkg builds the evidence package: the certificate with the manifest's
// digest printed on it, carrying the attachments evpkg.Build lists.
func (p *packager) pkg(c fiber.Ctx) error { return p.sendPackage(c, false) }

// sendPackage answers with the package, with the uploaded original
// embedded when withOriginal.
func (p *packager) sendPackage(c fiber.Ctx, withOriginal bool) error {
	rc, err := p.receipt(c)
	if errors.Is(err, errPendingAnswered) {
		return nil
	}
	if err != nil {
		return err
	}
	var orig *evpkg.File
	if withOriginal {
		if orig, err = checkedOriginal(c, rc); err != nil {
			return err
		}
	}
	base, err := baseURL(c)
	if err != nil {
		return err
	}
	doc, err := p.build(c.Context(), rc, base, orig)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(doc)
	c.Set(HeaderFingerprint, hex.EncodeToString(sum[:]))
	c.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	return sendPDF(c, doc, "attachment", "evidence-package-"+rc.ID+".pdf")
}

func (p *packager) build(ctx context.Context, rc verifier.Receipt, base string, original *evpkg.File) ([]byte, error) {
	b, err := p.svc.Ledger().Block(ctx, rc.BlockNumber)
	if err != nil {
		return nil, fmt.Errorf("block %d of %s: %w", rc.BlockNumber, rc.ID, err)
	}
	info, err := p.svc.Ledger().Info(ctx)
	if err != nil {
		return nil, err
	}
	var originals []evpkg.File
	if original != nil {
		originals = append(originals, *original)
	}
	files, err := evpkg.Build(rc, []evpkg.Block{{Kind: b.Kind, Number: b.Header.Number, Raw: b.Raw}}, info.TrustRoots, originals...)
	if err != nil {
		return nil, fmt.Errorf("package of %s: %w", rc.ID, err)
	}
	var manifest string
	for _, f := range files {
		if f.Name == evpkg.ManifestName {
			manifest = evpkg.Digest(f.Data)
		}
	}
	r, err := p.renderer()
	if err != nil {
		return nil, err
	}
	cert, err := r.Certificate(ctx, rc, pdf.CertOptions{BaseURL: base, ManifestDigest: manifest})
	if err != nil {
		p.failed()
		return nil, fmt.Errorf("certificate of %s: %w", rc.ID, err)
	}
	modTime, _ := time.Parse(time.RFC3339Nano, rc.LedgerTime)
	att := make([]pdf.File, len(files))
	for i, f := range files {
		att[i] = pdf.File{Name: f.Name, Description: f.Description, Data: f.Data, ModTime: modTime}
	}
	doc, err := pdf.AttachFiles(cert, att)
	if err != nil {
		return nil, fmt.Errorf("package of %s: %w", rc.ID, err)
	}
	return doc, nil
}

func sendPDF(c fiber.Ctx, doc []byte, disposition, name string) error {
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, disposition+`; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(doc)
}
