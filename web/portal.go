package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v3"
)

// The public verification portal: a few static pages and assets embedded
// in the binary (web/portal/), served with a strict Content-Security-Policy.
// Files are hashed in the visitor's browser (assets/hash-worker.js); the
// pages only call the public JSON API (GET /api/v1/evidence/{id},
// POST /api/v1/verify). Nothing is loaded from another origin.
//
// Assets are served under content-hashed names (/assets/portal.1a2b3c4d5e6f.js)
// with a one-year immutable cache; pages and the plain asset names are
// revalidated by ETag. Everything is gzip-compressed once, at start.

//go:embed portal
var portalFiles embed.FS

// PortalCSP is the Content-Security-Policy of every portal response: only
// this origin's scripts, styles, images, workers and API; no inline script
// or style, no plugins, no framing.
const PortalCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " +
	"connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// WorkerCSP is the Content-Security-Policy of the hash worker's script, the
// policy the worker runs under: PortalCSP relaxed by 'wasm-unsafe-eval'
// alone, so that it can compile the vendored WebAssembly hashes (no eval
// of JavaScript). The pages keep PortalCSP.
const WorkerCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; font-src 'self'; " +
	"connect-src 'self'; worker-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// portalWorker is the plain URL of the hash worker's script.
const portalWorker = "/assets/hash-worker.js"

// portalPages maps routes to the page each one serves.
var portalPages = map[string]string{
	"/":       "verify.html",
	"/verify": "verify.html",
	"/how":    "how.html",
	"/about":  "how.html",
}

// portalAsset is one file, ready to send.
type portalAsset struct {
	body, gz     []byte
	ctype        string
	etag, etagGz string
	immutable    bool
	csp          string // the Content-Security-Policy it is sent with
}

// portalSite holds every portal response, by URL path.
type portalSite struct {
	files map[string]*portalAsset
}

var loadPortal = sync.OnceValues(func() (*portalSite, error) { return buildPortal(portalFiles) })

// buildPortal reads the embedded tree: assets under portal/assets/ (and
// portal/vendor/) get content-hashed URLs, and the pages (portal/*.html)
// refer to them by those URLs.
func buildPortal(fsys fs.FS) (*portalSite, error) {
	site := &portalSite{files: map[string]*portalAsset{}}
	rename := map[string]string{} // plain URL → hashed URL
	for _, dir := range []string{"portal/assets", "portal/vendor"} {
		err := fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			plain := strings.TrimPrefix(p, "portal")
			sum := sha256.Sum256(b)
			ext := path.Ext(plain)
			hashed := strings.TrimSuffix(plain, ext) + "." + hex.EncodeToString(sum[:6]) + ext
			rename[plain] = hashed
			site.files[plain] = newPortalAsset(b, ext, false)
			site.files[hashed] = newPortalAsset(b, ext, true)
			if plain == portalWorker {
				site.files[plain].csp, site.files[hashed].csp = WorkerCSP, WorkerCSP
			}
			return nil
		})
		if err != nil && !(dir == "portal/vendor" && errors.Is(err, fs.ErrNotExist)) {
			return nil, fmt.Errorf("portal assets: %w", err)
		}
	}
	// Longest first, so that no plain name is replaced inside a longer one.
	plains := make([]string, 0, len(rename))
	for p := range rename {
		plains = append(plains, p)
	}
	sort.Slice(plains, func(i, j int) bool { return len(plains[i]) > len(plains[j]) })
	pairs := make([]string, 0, 2*len(plains))
	for _, p := range plains {
		pairs = append(pairs, `"`+p+`"`, `"`+rename[p]+`"`)
	}
	refs := strings.NewReplacer(pairs...)
	for route, name := range portalPages {
		b, err := fs.ReadFile(fsys, "portal/"+name)
		if err != nil {
			return nil, fmt.Errorf("portal page %s: %w", name, err)
		}
		site.files[route] = newPortalAsset([]byte(refs.Replace(string(b))), ".html", false)
	}
	return site, nil
}

func newPortalAsset(b []byte, ext string, immutable bool) *portalAsset {
	ctype := mime.TypeByExtension(ext)
	switch ext {
	case ".html":
		ctype = "text/html; charset=utf-8"
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	case ".txt", "":
		ctype = "text/plain; charset=utf-8"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	sum := sha256.Sum256(b)
	tag := hex.EncodeToString(sum[:12])
	a := &portalAsset{body: b, ctype: ctype, immutable: immutable, etag: `"` + tag + `"`, csp: PortalCSP}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	if buf.Len() < len(b) {
		a.gz, a.etagGz = buf.Bytes(), `"`+tag+`-gz"`
	}
	return a
}

// registerPortal serves the public verification portal.
func (s *server) registerPortal(app *fiber.App) {
	site, err := loadPortal()
	if err != nil {
		// The files are compiled in: this is a build defect, not a runtime condition.
		s.log.Error("portal disabled", "component", "web", "err", err)
		return
	}
	for route := range portalPages {
		a := site.files[route]
		app.Add([]string{fiber.MethodGet, fiber.MethodHead}, route, func(c fiber.Ctx) error { return site.send(c, a) })
	}
	app.Add([]string{fiber.MethodGet, fiber.MethodHead}, "/assets/*", func(c fiber.Ctx) error {
		a, ok := site.files[c.Path()]
		if !ok {
			return apiErr(404, CodeNotFound, "no such file: "+c.Path(), "文件不存在")
		}
		return site.send(c, a)
	})
}

// setPortalHeaders sets the security headers of every portal response,
// with its Content-Security-Policy csp.
func setPortalHeaders(c fiber.Ctx, csp string) {
	c.Set("Content-Security-Policy", csp)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
	// The camera, for scanning a certificate's QR code, on this origin only.
	c.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=(), payment=(), usb=(), serial=()")
}

func (p *portalSite) send(c fiber.Ctx, a *portalAsset) error {
	setPortalHeaders(c, a.csp)
	c.Set("Vary", "Accept-Encoding")
	if a.immutable {
		c.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, a.etag
	gz := a.gz != nil && acceptsGzip(c.Get("Accept-Encoding"))
	if gz {
		body, etag = a.gz, a.etagGz
	}
	c.Set("ETag", etag)
	c.Set("Content-Type", a.ctype)
	if etagMatch(c.Get("If-None-Match"), etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	if gz {
		c.Set("Content-Encoding", "gzip")
	}
	return c.Send(body)
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				return false
			}
		}
		return true
	}
	return false
}

// etagMatch reports whether an If-None-Match header names etag (weak
// comparison, as RFC 9110 asks for If-None-Match).
func etagMatch(h, etag string) bool {
	if h == "" {
		return false
	}
	for _, t := range strings.Split(h, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
