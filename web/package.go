package web

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gofiber/fiber/v3"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// HeaderFingerprint carries the evidence package's fingerprint (证据数字指纹):
// the lower-case hex SHA-256 of the whole package file as sent.
const HeaderFingerprint = "X-Evidence-Fingerprint"

// registerPackage serves GET /evidence/{id}/certificate.pdf (the
// certificate alone) and GET /evidence/{id}/package.pdf (the certificate
// carrying the receipt, the block, the trust roots and the manifest), both
// public; POST …/package.pdf embeds the original the holder uploads.
func (s *server) registerPackage(api fiber.Router) {
	api.Get("/evidence/:id/certificate.pdf", s.certificate)
	api.Get("/evidence/:id/package.pdf", func(c fiber.Ctx) error { return s.sendPackage(c, false) })
	api.Post("/evidence/:id/package.pdf", func(c fiber.Ctx) error { return s.sendPackage(c, true) })
}

// readOriginal reads the original a holder uploads (multipart part
// "file", at most node.MaxOriginal bytes): hashed as it streams, kept in a
// temporary file (never whole in memory before its digests are checked),
// named original.<ext> after the uploaded file name (or %PDF).
func (s *server) readOriginal(c fiber.Ctx) (*node.Original, error) {
	if !isMultipart(c) {
		return nil, apiErr(415, CodeUnsupportedMedia, "send the original as multipart/form-data, field \"file\"", "请以 multipart/form-data 上传原件（字段 file）")
	}
	max := min(int64(node.MaxOriginal), s.maxPublicUpload)
	var name string
	up, err := s.readMultipart(c, multipartOptions{max: max, keep: max, beforeFile: func(map[string]string) (evidence.Algorithm, error) {
		return evidence.SHA256, nil
	}, named: func(n string) { name = n }})
	if ae := (*Error)(nil); errors.As(err, &ae) && ae.Status == 413 {
		return nil, apiErr(413, CodeTooLarge, fmt.Sprintf("originals larger than %d MiB are not embedded", max>>20), "原件过大，无法放入电子证据包")
	}
	if err != nil {
		return nil, err
	}
	for k := range up.fields {
		return nil, badRequest("unknown form field %q (want file)", quote(k))
	}
	head, _ := up.Kept.Head(8)
	return &node.Original{Name: originalName(name, head), Content: up.Content}, nil
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

// pending answers 202 for a record queued but not yet on the ledger (it
// has no block to certify yet), as GET /evidence/{id} does.
func pending(c fiber.Ctx, err error) (bool, error) {
	var pe *node.PendingError
	if !errors.As(err, &pe) {
		return false, nil
	}
	c.Set(fiber.HeaderRetryAfter, "1")
	return true, c.Status(202).JSON(Pending{ID: pe.IDs[0].String(), Status: "pending"})
}

// baseURL is the node's public URL (--public-url), the only source of the
// links and QR codes it prints: never the request's Host or forwarding
// headers, which anyone can set.
func (s *server) baseURL() (string, error) {
	if s.publicURL == "" {
		return "", &Error{Status: 503, Code: CodeCertificatesUnavailable,
			Message:   "this node has no public URL, so its certificates could carry no verification link (operator: start evidenced with --public-url)",
			MessageZH: "本节点未配置公开地址，暂无法生成存证证书（运维：启动时设置 --public-url）"}
	}
	return s.publicURL, nil
}

func (s *server) certificate(c fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if _, err := s.svc.Receipt(c.Context(), id); err != nil {
		if ok, perr := pending(c, err); ok {
			return perr
		}
		return err
	}
	base, err := s.baseURL()
	if err != nil {
		return err
	}
	ctx, done := clientContext(c)
	defer done()
	doc, err := s.svc.Certificate(ctx, id, base)
	if ok, perr := pending(c, err); ok {
		return perr
	}
	if err != nil {
		return err
	}
	return sendPDF(c, doc, "inline", "certificate-"+id.String()+".pdf")
}

// sendPackage answers with the package, with the uploaded original
// embedded when withOriginal.
func (s *server) sendPackage(c fiber.Ctx, withOriginal bool) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	// The record first: an unknown or queued ID is answered before any
	// upload is read.
	if _, err := s.svc.Receipt(c.Context(), id); err != nil {
		if ok, perr := pending(c, err); ok {
			return perr
		}
		return err
	}
	base, err := s.baseURL()
	if err != nil {
		return err
	}
	var orig *node.Original
	if withOriginal {
		if orig, err = s.readOriginal(c); err != nil {
			return err
		}
		defer orig.Content.Close()
	}
	ctx, done := clientContext(c)
	defer done()
	doc, err := s.svc.Package(ctx, id, base, orig)
	if ok, perr := pending(c, err); ok {
		return perr
	}
	if err != nil {
		return err
	}
	sum, _ := hex.DecodeString(doc.Fingerprint)
	c.Set(HeaderFingerprint, doc.Fingerprint)
	c.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
	return sendPDF(c, doc.PDF, "attachment", "evidence-package-"+id.String()+".pdf")
}

func sendPDF(c fiber.Ctx, doc []byte, disposition, name string) error {
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, disposition+`; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(doc)
}
