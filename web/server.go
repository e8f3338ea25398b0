// Package web is the node's HTTP surface: the JSON API under /api/v1,
// health and metrics endpoints, and the public verification portal. It is
// the only package that imports fiber; it declares the Service it needs of
// the node and maps the node's errors to HTTP answers in one table.
package web

import (
	"context"
	"crypto/sha256"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/adaptor"
	"github.com/gofiber/fiber/v3/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/node/view"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
)

// Service is what the HTTP surface needs of the node; *node.Service is
// it.
type Service interface {
	Submit(ctx context.Context, p platform.Platform, idemKey string, fingerprint []byte, subs []node.Submission) ([]node.Receipt, error)
	Receipt(ctx context.Context, id evidence.ID) (node.Receipt, error)
	ReceiptFor(ctx context.Context, id evidence.ID, p platform.Platform) (node.Receipt, error)
	Verify(ctx context.Context, id evidence.ID, ds ...evidence.Digest) (verifier.Verification, error)
	ReadContent(r io.Reader, primary evidence.Algorithm, inspect bool) (node.Content, error)
	Certificate(ctx context.Context, id evidence.ID, base string) ([]byte, error)
	Package(ctx context.Context, id evidence.ID, base string, original *evpkg.File) (node.Document, error)
	Info(ctx context.Context) (node.Info, error)
	Block(ctx context.Context, n uint64) (node.Block, error)
	Authenticate(key string) (platform.Platform, error)
	Usage(p platform.Platform) (view.Usage, error)
}

var _ Service = (*node.Service)(nil)

// Config configures the HTTP server.
type Config struct {
	Service Service
	// MaxUpload is the largest file accepted by multipart upload.
	MaxUpload int64
	// Registry receives the HTTP metrics and serves /metrics.
	Registry *prometheus.Registry
	Logger   *log.Logger
}

// DefaultMaxUpload is the default upload limit (4 GiB).
const DefaultMaxUpload = 4 << 30

type server struct {
	svc       Service
	maxUpload int64
	log       *log.Logger

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New returns the fiber app serving the API.
func New(cfg Config) *fiber.App {
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = DefaultMaxUpload
	}
	if cfg.Logger == nil {
		cfg.Logger = log.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	s := &server{
		svc: cfg.Service, maxUpload: cfg.MaxUpload, log: cfg.Logger,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_http_requests_total",
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "evidence_http_request_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 18)}, []string{"route"}),
	}
	cfg.Registry.MustRegister(s.requests, s.latency)

	app := fiber.New(fiber.Config{
		AppName:      "evidence-node",
		ErrorHandler: errorHandler(cfg.Logger),
		// Bodies are read by the handlers through their own limits: uploads
		// stream through the hash, never whole in memory.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		BodyLimit:                    MaxBatchBody,
		ReadTimeout:                  5 * time.Minute,
		WriteTimeout:                 5 * time.Minute,
		IdleTimeout:                  2 * time.Minute,
	})
	app.Use(recover.New())
	app.Use(s.observe)

	metrics := adaptor.HTTPHandler(promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	for _, prefix := range []string{"", "/api/v1"} {
		app.Get(prefix+"/healthz", s.healthz)
		app.Get(prefix+"/readyz", s.readyz)
		app.Get(prefix+"/metrics", metrics)
	}
	api := app.Group("/api/v1")
	api.Post("/evidence", s.submit)
	api.Post("/evidence/batch", s.submitBatch)
	api.Get("/evidence/:id", s.get)
	api.Post("/verify", s.verify)
	api.Get("/blocks/:n", s.block)
	api.Get("/ledger", s.ledger)
	api.Get("/platform/usage", s.usage)
	s.registerPackage(api)
	s.registerPortal(app)
	// A known API path with another method: 405, not 404.
	for _, path := range []string{"/evidence", "/evidence/batch", "/evidence/:id", "/verify", "/blocks/:n", "/ledger", "/platform/usage"} {
		api.All(path, func(c fiber.Ctx) error {
			return apiErr(405, CodeMethodNotAllowed, "method "+c.Method()+" not allowed on "+c.Path(), "不支持该请求方法")
		})
	}
	app.Use(func(c fiber.Ctx) error {
		return apiErr(404, CodeNotFound, "no such endpoint: "+c.Method()+" "+c.Path(), "接口不存在")
	})
	return app
}

// observe records request metrics.
func (s *server) observe(c fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		status = toAPI(err).Status
	}
	route := "unmatched"
	if r := c.Route(); r != nil && r.Path != "/" && r.Path != "" {
		route = r.Path
	}
	s.requests.WithLabelValues(route, c.Method(), strconv.Itoa(status)).Inc()
	s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	return err
}

// body reads a JSON request body of at most limit bytes.
func body(c fiber.Ctx, limit int64) ([]byte, error) {
	if ct := strings.ToLower(string(c.Request().Header.ContentType())); ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.Contains(ct, "+json") {
		return nil, apiErr(415, CodeUnsupportedMedia, "Content-Type "+ct+" not supported: send application/json or multipart/form-data", "不支持的内容类型：请使用 application/json 或 multipart/form-data")
	}
	if cl := c.Request().Header.ContentLength(); cl > 0 && int64(cl) > limit {
		return nil, apiErr(413, CodeTooLarge, "request body larger than "+strconv.FormatInt(limit, 10)+" bytes", "请求内容过大")
	}
	r := c.Request().BodyStream()
	if r == nil {
		b := c.Body()
		if int64(len(b)) > limit {
			return nil, apiErr(413, CodeTooLarge, "request body larger than "+strconv.FormatInt(limit, 10)+" bytes", "请求内容过大")
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, badRequest("reading the body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, apiErr(413, CodeTooLarge, "request body larger than "+strconv.FormatInt(limit, 10)+" bytes", "请求内容过大")
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
// giving requests in flight up to grace to finish.
func Serve(ctx context.Context, app *fiber.App, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true}) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return app.ShutdownWithContext(sctx)
}
