package web

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"path/filepath"
	"strings"

	"github.com/gofiber/fiber/v3"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
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

// MaxOriginal is the largest original embedded in a package.
const MaxOriginal = 32 << 20

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

func (s *server) certificate(c fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	base, err := baseURL(c)
	if err != nil {
		return err
	}
	doc, err := s.svc.Certificate(c.Context(), id, base)
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
	var orig *evpkg.File
	if withOriginal {
		f, err := readOriginal(c)
		if err != nil {
			return err
		}
		orig = &f
	}
	base, err := baseURL(c)
	if err != nil {
		return err
	}
	doc, err := s.svc.Package(c.Context(), id, base, orig)
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
