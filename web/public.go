package web

import (
	"container/list"
	"context"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v3"
	"golang.org/x/time/rate"

	"github.com/evidence-node/evidence-node/node/platform"
)

// Rate classes: who is counted, and against which limit.
const (
	classNone     = ""         // health, metrics, portal assets: not limited
	classPublic   = "public"   // anonymous reads and verifications, per client address
	classRender   = "render"   // certificates, packages, anonymous uploads, per client address
	classPlatform = "platform" // submissions and authenticated reads, per platform key
)

// Limits are the rate limits of the public surface, in requests per
// second (0: no limit); each allows bursts of three seconds' worth.
type Limits struct {
	Public   float64
	Render   float64
	Platform float64
}

// DefaultLimits are limits a court's page never meets in normal use (a
// verification is two or three requests) and that do not slow a
// platform's bulk submissions.
var DefaultLimits = Limits{Public: 20, Render: 2, Platform: 50000}

// keyedLimiter is a token bucket per key (client address or platform),
// for at most maxKeys keys at once (the least recently seen are dropped:
// they start afresh, never blocked).
type keyedLimiter struct {
	limit rate.Limit
	burst int

	mu   sync.Mutex
	keys map[string]*list.Element
	lru  list.List // of *keyedEntry, most recent first
}

type keyedEntry struct {
	key string
	lim *rate.Limiter
}

const maxLimiterKeys = 1 << 16

func newKeyedLimiter(perSecond float64) *keyedLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &keyedLimiter{limit: rate.Limit(perSecond), burst: max(1, int(math.Ceil(3*perSecond))), keys: map[string]*list.Element{}}
}

// allow takes a token for key; when there is none, it says how long until
// there is.
func (l *keyedLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	e, ok := l.keys[key]
	if ok {
		l.lru.MoveToFront(e)
	} else {
		if l.lru.Len() >= maxLimiterKeys {
			old := l.lru.Back()
			delete(l.keys, old.Value.(*keyedEntry).key)
			l.lru.Remove(old)
		}
		e = l.lru.PushFront(&keyedEntry{key: key, lim: rate.NewLimiter(l.limit, l.burst)})
		l.keys[key] = e
	}
	lim := e.Value.(*keyedEntry).lim
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// public is the public surface's policy: rate limits, trusted proxies,
// and who is asking.
type public struct {
	public, render, platform *keyedLimiter
	proxies                  []netip.Prefix
}

func newPublic(l Limits, trustedProxies []netip.Prefix) *public {
	return &public{public: newKeyedLimiter(l.Public), render: newKeyedLimiter(l.Render),
		platform: newKeyedLimiter(l.Platform), proxies: trustedProxies}
}

// clientAddr is the address a request comes from: the peer's, or, when
// the peer is a trusted proxy, the last address in X-Forwarded-For that is
// not one (the one the nearest trusted proxy saw).
func (p *public) clientAddr(c fiber.Ctx) string {
	peer, err := netip.ParseAddr(c.RequestCtx().RemoteIP().String())
	if err != nil {
		return c.RequestCtx().RemoteIP().String()
	}
	peer = peer.Unmap()
	if !p.trusted(peer) {
		return peer.String()
	}
	hops := strings.Split(c.Get(fiber.HeaderXForwardedFor), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a malformed hop: trust nothing further left
		}
		a = a.Unmap()
		if !p.trusted(a) {
			return a.String()
		}
	}
	return peer.String()
}

func (p *public) trusted(a netip.Addr) bool {
	for _, pr := range p.proxies {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// ParseProxies parses a comma-separated list of addresses and CIDR
// prefixes (--trusted-proxy).
func ParseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		pr, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, pr.Masked())
	}
	return out, nil
}

// Locals set by the surface's middleware.
const (
	localPlatform = "evidence.platform" // the authenticated platform, if any
)

// bearerKey returns the key of an "Authorization: Bearer KEY" header
// (the scheme in any case, RFC 9110), and whether the header was there.
func bearerKey(c fiber.Ctx) (string, bool, error) {
	h := strings.TrimSpace(c.Get(fiber.HeaderAuthorization))
	if h == "" {
		return "", false, nil
	}
	scheme, key, _ := strings.Cut(h, " ")
	key = strings.TrimSpace(key)
	if !strings.EqualFold(scheme, "Bearer") || key == "" {
		return "", true, apiErr(401, CodeUnauthorized,
			"send the API key as Authorization: Bearer KEY (create one with evidencectl platform add)", "请以 Authorization: Bearer KEY 发送 API 密钥")
	}
	return key, true, nil
}

// guard is the middleware of every API route of a class: a key in
// Authorization must be valid (401 otherwise, on public routes too), and
// the request must be within its rate limit (429 with Retry-After).
func (s *server) guard(class string) fiber.Handler {
	return func(c fiber.Ctx) error {
		key, given, err := bearerKey(c)
		if err != nil {
			return err
		}
		if given {
			p, err := s.svc.Authenticate(key)
			if err != nil {
				return err
			}
			c.Locals(localPlatform, p)
		}
		lim, who := s.pub.public, ""
		switch {
		case class == classNone:
			return c.Next()
		case given:
			// A platform's traffic counts against its key, wherever it
			// comes from.
			lim, who = s.pub.platform, "platform:"+c.Locals(localPlatform).(platform.Platform).Name
		case class == classRender:
			lim, who = s.pub.render, s.pub.clientAddr(c)
		case class == classPlatform:
			return apiErr(401, CodeUnauthorized,
				"missing API key: send Authorization: Bearer KEY (create one with evidencectl platform add)", "缺少 API 密钥")
		default:
			who = s.pub.clientAddr(c)
		}
		if ok, wait := lim.allow(who, time.Now()); !ok {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
			s.limited.WithLabelValues(class).Inc()
			return &Error{Status: 429, Code: CodeRateLimited,
				Message:   "too many requests from " + who + ": retry in " + strconv.Itoa(secs) + " s",
				MessageZH: "请求过于频繁，请 " + strconv.Itoa(secs) + " 秒后重试"}
		}
		return c.Next()
	}
}

// platformOf returns the platform guard authenticated, if any.
func platformOf(c fiber.Ctx) (platform.Platform, bool) {
	p, ok := c.Locals(localPlatform).(platform.Platform)
	return p, ok
}

// cors lets a court's own web system call the public read and verify
// routes from its pages: any origin, never with credentials.
func cors(c fiber.Ctx) error {
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	c.Set(fiber.HeaderAccessControlExposeHeaders, "Retry-After, X-Evidence-Fingerprint, Repr-Digest, Content-Disposition")
	return c.Next()
}

// clientContext returns a context that is cancelled when the client of c
// closes its connection (checked a few times a second, without reading
// the connection), so that work queued for it is dropped.
func clientContext(c fiber.Ctx) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sc, ok := c.RequestCtx().Conn().(syscall.Conn)
	if !ok {
		return ctx, cancel
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return ctx, cancel
	}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if peerClosed(raw) {
				cancel()
				return
			}
		}
	}()
	return ctx, cancel
}

// peerClosed peeks at the connection without blocking or consuming: a
// read of 0 bytes means the peer closed it.
func peerClosed(raw syscall.RawConn) bool {
	closed := false
	raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n == 0 && err == nil
	})
	return closed
}

// isLoopback reports whether a listen address is on the loopback
// interface (where a node may default its public URL to itself).
func isLoopback(addr net.Addr) bool {
	ta, ok := addr.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}
