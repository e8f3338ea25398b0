// Package web is the node's HTTP surface: the JSON API under /api/v1,
// health and metrics endpoints, and the public verification portal. It is
// the only package that imports fiber; it declares the Service it needs of
// the node and maps the node's errors to HTTP answers in one table.
package web

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/adaptor"
	"github.com/gofiber/fiber/v3/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"golang.org/x/time/rate"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/logging"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/node/view"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Service is what the HTTP surface needs of the node; *node.Service is
// it.
type Service interface {
	Submit(ctx context.Context, p platform.Platform, idemKey string, fingerprint []byte, subs []node.Submission) ([]node.Receipt, error)
	Receipt(ctx context.Context, id evidence.ID) (node.Receipt, error)
	ReceiptFor(ctx context.Context, id evidence.ID, p platform.Platform) (node.Receipt, error)
	Verify(ctx context.Context, id evidence.ID, ds ...evidence.Digest) (verifier.Verification, error)
	VerifyRecord(ctx context.Context, id evidence.ID) (verifier.Verification, error)
	Lookup(ctx context.Context, d evidence.Digest, limit int, cursor string) (node.Found, error)
	Report(ctx context.Context, req node.ReportRequest, base string) (node.Document, error)
	ReadContent(ctx context.Context, r io.Reader, o node.ReadOptions) (node.Content, error)
	Certificate(ctx context.Context, id evidence.ID, base string) ([]byte, error)
	Package(ctx context.Context, id evidence.ID, base string, original *node.Original) (node.Document, error)
	Info(ctx context.Context) (node.Info, error)
	Block(ctx context.Context, n uint64) (node.Block, error)
	Authenticate(key string) (platform.Platform, error)
	Usage(p platform.Platform) (view.Usage, error)
	Deliveries(p platform.Platform, limit int) ([]node.Delivery, error)
	Redeliver(p platform.Platform, webhookID string) error
}

var _ Service = (*node.Service)(nil)

// Config configures the HTTP server.
type Config struct {
	Service Service
	// MaxUpload is the largest file a platform may upload (multipart).
	MaxUpload int64
	// MaxPublicUpload is the largest file an anonymous caller may upload
	// to verify or to embed in a package (default DefaultMaxPublicUpload).
	MaxPublicUpload int64
	// PublicURL is the node's public base URL: the only source of the
	// links and QR codes on certificates and packages. Empty: certificates
	// and packages are refused (503), as no link could be trusted.
	PublicURL string
	// Log is the node's transparency log (nil: its endpoints answer 404).
	Log TransparencyLog
	// Limits are the rate limits; a zero field means no limit of that
	// class (evidenced's flags default to DefaultLimits).
	Limits Limits
	// TrustedProxies may set X-Forwarded-For: the client address of a
	// request from one of them is the last address before them.
	TrustedProxies []netip.Prefix
	// Registry receives the HTTP metrics and, unless NoMetrics, is served
	// at /metrics.
	Registry  *prometheus.Registry
	NoMetrics bool
	// Logger gets a line for every failed request (5xx, at most
	// errorLinesPerSecond a second) and, at debug level, for every
	// request; each names the request's ID (nil: slog.Default()).
	Logger *slog.Logger
}

// Default upload limits.
const (
	DefaultMaxUpload       = 4 << 30   // platforms, 4 GiB
	DefaultMaxPublicUpload = 256 << 20 // anyone, 256 MiB
)

type server struct {
	svc             Service
	maxUpload       int64
	maxPublicUpload int64
	publicURL       string
	pub             *public
	tlog            TransparencyLog
	log             *slog.Logger
	errLines        *rate.Limiter // bounds the 5xx lines logged
	suppressed      atomic.Int64  // 5xx lines not logged since the last one

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	limited  *prometheus.CounterVec
}

// route is one path of the API and what may be done on it.
type route struct {
	path    string
	class   string // rate class (classPublic, …)
	cors    bool   // callable from other origins' pages
	methods map[string]fiber.Handler
	// public are methods of a non-public path that are public reads
	// (rate class classPublic, CORS): GET /evidence beside POST.
	public map[string]bool
}

// New returns the fiber app serving the API.
func New(cfg Config) *fiber.App {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.MaxPublicUpload <= 0 {
		cfg.MaxPublicUpload = DefaultMaxPublicUpload
	}
	cfg.Logger = logging.Or(cfg.Logger)
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &server{
		svc: cfg.Service, maxUpload: cfg.MaxUpload, maxPublicUpload: cfg.MaxPublicUpload, log: cfg.Logger,
		errLines:  rate.NewLimiter(errorLinesPerSecond, 2*errorLinesPerSecond),
		publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		tlog:      cfg.Log,
		pub:       newPublic(cfg.Limits, cfg.TrustedProxies),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_http_requests_total",
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "evidence_http_request_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}, []string{"route"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_http_rate_limited_total",
			Help: "Requests refused with 429 by rate class."}, []string{"class"}),
	}
	cfg.Registry.MustRegister(s.requests, s.latency, s.limited)

	app := fiber.New(fiber.Config{
		AppName:      "evidence-node",
		ErrorHandler: errorHandler,
		// Bodies are read by the handlers through their own limits: uploads
		// stream through the hash, never whole in memory.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		BodyLimit:                    MaxBatchBody,
		ReadTimeout:                  5 * time.Minute,
		WriteTimeout:                 5 * time.Minute,
		IdleTimeout:                  2 * time.Minute,
		// Every GET route registers its HEAD itself, ahead of the final
		// 404 (fiber's automatic HEAD routes would come after it).
		DisableHeadAutoRegister: true,
	})
	// A client that goes away before its request is read is no error of
	// the server's: not logged (fasthttp's own messages are dropped; the
	// handlers' errors reach errorHandler).
	app.Server().Logger = quietLogger{}
	// The request ID first, so that every answer carries it; observe
	// before recover, so that a handler's panic is counted and logged as
	// the 500 it becomes.
	app.Use(requestID)
	app.Use(s.observe)
	app.Use(recover.New())
	app.Use(hygiene)

	var metrics fiber.Handler
	if !cfg.NoMetrics {
		metrics = adaptor.HTTPHandler(promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	}
	for _, r := range s.routes(metrics) {
		s.register(app, r)
	}
	s.registerPortal(app)
	app.Use(func(c fiber.Ctx) error {
		e := apiErr(404, CodeNotFound, "no such endpoint: "+c.Method()+" "+quote(c.Path()), "接口不存在")
		e.Err = fiber.ErrNotFound // fiber's own error path expects it
		return e
	})
	// Every request passes closeIfBodyLeft, also those fiber answers
	// itself before any middleware; a handler's panic too.
	serve := app.Server().Handler
	app.Server().Handler = func(rc *fasthttp.RequestCtx) {
		defer closeIfBodyLeft(rc)
		serve(rc)
	}
	return app
}

// routes is the API: every path, who may call it, and its methods
// (metrics nil: /metrics is served elsewhere).
func (s *server) routes(metrics fiber.Handler) []route {
	var routes []route
	add := func(path, class string, cors bool, methods map[string]fiber.Handler) {
		routes = append(routes, route{path: path, class: class, cors: cors, methods: methods})
	}
	for _, prefix := range []string{"", "/api/v1"} {
		add(prefix+"/healthz", classNone, false, map[string]fiber.Handler{fiber.MethodGet: s.healthz})
		add(prefix+"/readyz", classNone, false, map[string]fiber.Handler{fiber.MethodGet: s.readyz})
		if metrics != nil {
			add(prefix+"/metrics", classNone, false, map[string]fiber.Handler{fiber.MethodGet: metrics})
		}
	}
	v1 := "/api/v1"
	add(v1+"/evidence", classPlatform, false, map[string]fiber.Handler{fiber.MethodPost: s.submit, fiber.MethodGet: s.lookup})
	routes[len(routes)-1].public = map[string]bool{fiber.MethodGet: true}
	add(v1+"/evidence/batch", classPlatform, false, map[string]fiber.Handler{fiber.MethodPost: s.submitBatch})
	add(v1+"/evidence/:id", classPublic, true, map[string]fiber.Handler{fiber.MethodGet: s.get})
	add(v1+"/evidence/:id/certificate.pdf", classRender, true, map[string]fiber.Handler{fiber.MethodGet: s.certificate})
	add(v1+"/evidence/:id/package.pdf", classRender, true, map[string]fiber.Handler{
		fiber.MethodGet:  func(c fiber.Ctx) error { return s.sendPackage(c, false) },
		fiber.MethodPost: func(c fiber.Ctx) error { return s.sendPackage(c, true) },
	})
	add(v1+"/verify", classPublic, true, map[string]fiber.Handler{fiber.MethodPost: s.verify, fiber.MethodGet: s.verifyRecord})
	add(v1+"/verify/report.pdf", classRender, true, map[string]fiber.Handler{fiber.MethodPost: s.report})
	add(v1+"/blocks/:n", classPublic, true, map[string]fiber.Handler{fiber.MethodGet: s.block})
	add(v1+"/ledger", classPublic, true, map[string]fiber.Handler{fiber.MethodGet: s.ledger})
	// The transparency log: C2SP tlog-tiles at the root (a tlog client's
	// prefix is the node's URL), the consistency proof under the API.
	add("/checkpoint", classPublic, true, map[string]fiber.Handler{fiber.MethodGet: s.checkpoint})
	add("/tile/*", classPublic, true, map[string]fiber.Handler{fiber.MethodGet: s.tile})
	add(v1+"/proof/consistency", classPublic, true, map[string]fiber.Handler{fiber.MethodGet: s.consistency})
	add(v1+"/platform/usage", classPlatform, false, map[string]fiber.Handler{fiber.MethodGet: s.usage})
	add(v1+"/platform/webhook/deliveries", classPlatform, false, map[string]fiber.Handler{fiber.MethodGet: s.deliveries})
	add(v1+"/platform/webhook/deliveries/:wid/redeliver", classPlatform, false, map[string]fiber.Handler{fiber.MethodPost: s.redeliver})
	return routes
}

// register serves a route: its methods (HEAD with every GET), OPTIONS
// (a CORS preflight where cors), and 405 with Allow for any other method.
func (s *server) register(app *fiber.App, r route) {
	allow := []string{}
	for m := range r.methods {
		allow = append(allow, m)
		if m == fiber.MethodGet {
			allow = append(allow, fiber.MethodHead)
		}
	}
	allow = append(allow, fiber.MethodOptions)
	sort.Strings(allow)
	allowed := strings.Join(allow, ", ")
	for m, h := range r.methods {
		class, withCORS := r.class, r.cors
		if r.public[m] {
			class, withCORS = classPublic, true
		}
		chain := []any{}
		if withCORS {
			chain = append(chain, cors)
		}
		chain = append(chain, h)
		methods := []string{m}
		if m == fiber.MethodGet {
			methods = append(methods, fiber.MethodHead)
		}
		app.Add(methods, r.path, s.guard(class), chain...)
	}
	app.Options(r.path, func(c fiber.Ctx) error {
		c.Set(fiber.HeaderAllow, allowed)
		methods := allowed
		if !r.cors {
			// A path with public methods beside others (GET /evidence
			// beside POST): a preflight for a public method only, and
			// naming those alone.
			m := c.Get(fiber.HeaderAccessControlRequestMethod)
			if m == fiber.MethodHead {
				m = fiber.MethodGet
			}
			if !r.public[m] {
				return c.SendStatus(204)
			}
			methods = m
			if m == fiber.MethodGet {
				methods = "GET, HEAD"
			}
		}
		c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
		c.Set(fiber.HeaderAccessControlAllowMethods, methods)
		c.Set(fiber.HeaderAccessControlAllowHeaders, "Content-Type, Accept, Authorization")
		c.Set(fiber.HeaderAccessControlMaxAge, "600")
		return c.SendStatus(204)
	})
	app.All(r.path, func(c fiber.Ctx) error {
		c.Set(fiber.HeaderAllow, allowed)
		return apiErr(405, CodeMethodNotAllowed, "method "+c.Method()+" not allowed on "+c.Path()+" (allowed: "+allowed+")", "不支持该请求方法")
	})
}

// hygiene sets the headers every response carries.
func hygiene(c fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	return c.Next()
}

// closeIfBodyLeft closes the connection after this response unless the
// request's body was read to its end. With StreamRequestBody, fasthttp
// (v1.72.0; valyala/fasthttp#2368 is open) parses whatever a handler left
// of a body as the connection's next request: a request refused before
// its body was read (401, 429, 413) had the body answered too, as a 400
// the client never asked for, and a body holding a request was served as
// one — a request smuggled past a proxy that reuses its connections to the
// node. A zero-length read of a body of known length says, without
// blocking, whether it is all read (io.EOF). A chunked body cannot be
// asked without reading into the next request: its connection is closed.
//
// It runs after every request, around fiber's own handler: fiber answers
// some before any middleware (a method it does not know: 501). A chunked
// body is closed on even when fasthttp has dropped its stream (Body()
// reads a stream to its end or to an error, and drops it either way).
func closeIfBodyLeft(rc *fasthttp.RequestCtx) {
	if rc.Request.Header.ContentLength() == -1 {
		rc.SetConnectionClose()
		return
	}
	body := rc.RequestBodyStream()
	if body == nil {
		return
	}
	if _, err := body.Read(nil); err != io.EOF {
		rc.SetConnectionClose()
	}
}

// quietLogger drops fasthttp's connection-level messages (a client that
// closes its connection mid-request, a malformed request line): they are
// the client's doing, counted by observe when they reach a handler.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// errorLinesPerSecond bounds the lines logged for failed requests: a
// ledger that is down under load fails thousands a second, and one line
// says it (the next line counts those left out).
const errorLinesPerSecond = 10

// observe records request metrics and logs the request: failures (5xx)
// at warn level, internal errors at error level, everything at debug.
func (s *server) observe(c fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	var ae *Error
	if err != nil {
		ae = toAPI(err)
		status = ae.Status
	}
	route := "unmatched"
	if r := c.Route(); r != nil && r.Path != "/" && r.Path != "" {
		route = r.Path
	}
	took := time.Since(start)
	s.requests.WithLabelValues(route, c.Method(), strconv.Itoa(status)).Inc()
	s.latency.WithLabelValues(route).Observe(took.Seconds())

	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
		if ae != nil && ae.Code == CodeInternal {
			level = slog.LevelError
		}
	}
	ctx := c.Context()
	if !s.log.Enabled(ctx, level) {
		return err
	}
	if level > slog.LevelDebug && !s.errLines.Allow() {
		s.suppressed.Add(1)
		return err
	}
	attrs := []slog.Attr{slog.String("component", "web"), slog.String("method", c.Method()), slog.String("path", quote(c.Path())),
		slog.String("route", route), slog.Int("status", status), slog.Duration("took", took)}
	if ae != nil {
		attrs = append(attrs, slog.String("code", ae.Code))
		if ae.Err != nil {
			attrs = append(attrs, slog.String("err", clip(ae.Err.Error())))
		}
	}
	if level > slog.LevelDebug {
		if n := s.suppressed.Swap(0); n > 0 {
			attrs = append(attrs, slog.Int64("failures_not_logged", n))
		}
	}
	s.log.LogAttrs(ctx, level, "request", attrs...)
	return err
}

// maxRequestID is the longest X-Request-ID taken from a request.
const maxRequestID = 64

// requestID gives every request an ID: the client's X-Request-ID when it
// is sane (1 to 64 letters, digits and "-_.:"), else 16 random bytes in
// hex. It is sent back in X-Request-ID and carried in the request's
// context, so every line logged for the request names it. (Fiber's
// requestid middleware takes any printable header of any length.)
func requestID(c fiber.Ctx) error {
	id := c.Get(fiber.HeaderXRequestID)
	if !saneRequestID(id) {
		id = newRequestID()
	}
	c.Set(fiber.HeaderXRequestID, id)
	c.SetContext(logging.WithRequestID(c.Context(), id))
	return c.Next()
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '_' || b == '.' || b == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// bodyTooLarge is the answer to a body over limit bytes.
func bodyTooLarge(limit int64) error {
	return apiErr(413, CodeTooLarge, "request body larger than "+strconv.FormatInt(limit, 10)+" bytes", "请求内容过大")
}

// body reads a JSON request body of at most limit bytes.
func body(c fiber.Ctx, limit int64) ([]byte, error) {
	if ct := strings.ToLower(string(c.Request().Header.ContentType())); ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.Contains(ct, "+json") {
		return nil, apiErr(415, CodeUnsupportedMedia, "Content-Type "+ct+" not supported: send application/json or multipart/form-data", "不支持的内容类型：请使用 application/json 或 multipart/form-data")
	}
	if cl := c.Request().Header.ContentLength(); cl > 0 && int64(cl) > limit {
		return nil, bodyTooLarge(limit)
	}
	r := c.Request().BodyStream()
	if r == nil {
		b := c.Body()
		if int64(len(b)) > limit {
			return nil, bodyTooLarge(limit)
		}
		return b, nil
	}
	if cl := c.Request().Header.ContentLength(); cl >= 0 {
		// Of known length (within limit, checked above): read at once
		// into a buffer of its size.
		b := make([]byte, cl)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, badRequest("reading the body: %v", err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, badRequest("reading the body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, bodyTooLarge(limit)
	}
	return b, nil
}

func fingerprint(parts ...[]byte) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write(p)
	}
	return h.Sum(nil)
}

// Serve serves app on ln until ctx is done, then shuts down gracefully,
// giving requests in flight up to grace to finish. Connections still open
// when grace is up (a request still running, or a client that connected
// and never sent one) are closed, so a shutdown never hangs, and logged to
// logger (nil: slog.Default()), in the node's log format like every other
// line.
func Serve(ctx context.Context, app *fiber.App, ln net.Listener, grace time.Duration, logger *slog.Logger) error {
	tl := &trackedListener{Listener: ln, conns: map[net.Conn]struct{}{}}
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(tl, fiber.ListenConfig{DisableStartupMessage: true}) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := app.ShutdownWithContext(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		if n := tl.closeAll(); n > 0 {
			cmp.Or(logger, slog.Default()).Warn("shutdown: closed connections still open", "component", "web", "connections", n, "grace", grace)
		}
		return nil
	}
	return err
}

// trackedListener remembers the connections it accepted until they close.
type trackedListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	if t, ok := c.(tlsConn); ok {
		// Keep TLS visible to the server (IsTLS, client certificates).
		return trackedTLSConn{tc, t}, nil
	}
	return tc, nil
}

// tlsConn is what the server asks of a TLS connection.
type tlsConn interface {
	Handshake() error
	ConnectionState() tls.ConnectionState
}

type trackedTLSConn struct {
	*trackedConn
	t tlsConn
}

func (c trackedTLSConn) Handshake() error                     { return c.t.Handshake() }
func (c trackedTLSConn) ConnectionState() tls.ConnectionState { return c.t.ConnectionState() }

// closeAll closes every connection still open and says how many there were.
func (l *trackedListener) closeAll() int {
	l.mu.Lock()
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return len(conns)
}

type trackedConn struct {
	net.Conn
	l    *trackedListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, net.Conn(c))
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
