package web

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkSubmitSingle is the server's work for one POST /evidence with
// a digest (routing, auth, decode, ID, record, block commit, receipt,
// encoding), without the network: 64 requests in flight, so blocks are
// group commits as under load. Allocations per request are the figure
// to watch; ns/op includes each block's fsync shared by its requests.
func BenchmarkSubmitSingle(b *testing.B) {
	n := newTestNode(b)
	h := n.app.Handler()
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	var seq atomic.Int64
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var ctx fasthttp.RequestCtx
		var req fasthttp.Request
		for pb.Next() {
			req.Reset()
			req.Header.SetMethod("POST")
			req.SetRequestURI("/api/v1/evidence")
			req.Header.SetContentType("application/json")
			req.Header.Set("Authorization", "Bearer "+n.key)
			req.SetBodyString(fmt.Sprintf(`{"digest":"%064x"}`, seq.Add(1)))
			ctx.Init(&req, addr, nil)
			h(&ctx)
			if c := ctx.Response.StatusCode(); c != 201 {
				b.Errorf("status %d: %s", c, ctx.Response.Body())
				return
			}
		}
	})
}
