package web_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"

	"github.com/evidence-node/evidence-node/web"
	"github.com/evidence-node/evidence-node/web/webtest"
)

// TestTrustedProxyAndLimits: the public limit is per client address; a
// trusted proxy's X-Forwarded-For names the client (the last address that
// is not a trusted proxy), an untrusted peer's is ignored, and a platform
// key has its own limit, answered 429 rate_limited with Retry-After.
func TestTrustedProxyAndLimits(t *testing.T) {
	get := func(t *testing.T, url, xff, key string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", url+"/api/v1/ledger", nil)
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	// burst exhausts the budget of one client: a limit of 0.2/s allows a
	// burst of one and a token every 5 s, so the next three in a row are
	// refused.
	burst := func(t *testing.T, url, xff string) []int {
		var codes []int
		for range 4 {
			c, _ := get(t, url, xff, "")
			codes = append(codes, c)
		}
		return codes
	}
	want := fmt.Sprint([]int{200, 429, 429, 429})

	t.Run("trusted", func(t *testing.T) {
		n := webtest.Start(t, webtest.Options{Limits: web.Limits{Public: 0.2}, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
		if got := fmt.Sprint(burst(t, n.URL, "203.0.113.5")); got != want {
			t.Fatalf("client 203.0.113.5 behind the proxy: %s, want %s", got, want)
		}
		// Another client behind the same proxy has its own budget; a hop
		// the client wrote itself (left of the real one) changes nothing.
		if got := fmt.Sprint(burst(t, n.URL, "203.0.113.5, 198.51.100.7")); got != want {
			t.Fatalf("client 198.51.100.7 behind the proxy: %s, want %s", got, want)
		}
		if c, ra := get(t, n.URL, "198.51.100.9, 203.0.113.5", ""); c != 429 || ra == "" {
			t.Fatalf("203.0.113.5 forging a hop: %d (Retry-After %q), want 429 with Retry-After", c, ra)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		n := webtest.Start(t, webtest.Options{Limits: web.Limits{Public: 0.2}})
		codes := []int{}
		for i := range 4 {
			c, _ := get(t, n.URL, fmt.Sprintf("203.0.113.%d", i+1), "")
			codes = append(codes, c)
		}
		if got := fmt.Sprint(codes); got != want {
			t.Fatalf("X-Forwarded-For from an untrusted peer must be ignored (one client): %s, want %s", got, want)
		}
	})
	t.Run("platform", func(t *testing.T) {
		n := webtest.Start(t, webtest.Options{Limits: web.Limits{Platform: 0.2}})
		var codes []int
		for range 4 {
			c, _ := get(t, n.URL, "", n.Key)
			codes = append(codes, c)
		}
		if got := fmt.Sprint(codes); got != want {
			t.Fatalf("a platform key over its limit: %s, want %s", got, want)
		}
		if c, _ := get(t, n.URL, "", ""); c != 200 {
			t.Fatalf("anonymous requests are not the platform's budget: %d", c)
		}
	})
}
