package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/evidence-node/evidence-node/web/client"
)

// benchTransport is the load generator's HTTP client for plain-http
// nodes: fasthttp's HostClient (already in the build through fiber), one
// keep-alive connection per bench client, each client's request and
// response reused. It exists because the load tool shares the machine's
// cores with the node it measures: net/http with a JSON round trip per
// request cost the tool about as much CPU per single submission as the
// node spent serving it.
type benchTransport struct {
	hc *fasthttp.HostClient
}

// newBenchTransport returns the transport for the node at URL node, or
// nil when the node is not plain http at the root (https, a path
// prefix): those go through the node's client.
func newBenchTransport(node string, clients int) *benchTransport {
	u, err := url.Parse(node)
	if err != nil || u.Scheme != "http" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return &benchTransport{hc: &fasthttp.HostClient{
		Addr:     addr,
		Name:     "evidencectl-bench",
		MaxConns: clients,
		// Each client holds one connection at a time; wait rather than
		// fail should one not have been given back yet.
		MaxConnWaitTimeout:  benchTimeout,
		MaxResponseBodySize: maxBenchAnswer,
		ReadTimeout:         benchTimeout,
		WriteTimeout:        benchTimeout,
		// A refused connection is counted and the client sleeps: no
		// retry of its own.
		MaxIdemponentCallAttempts: 1,
	}}
}

// benchTimeout bounds one request of the load.
const benchTimeout = time.Minute

// maxBenchAnswer bounds an answer the transport reads (a batch of 1,000
// receipts is about 2 MB).
const maxBenchAnswer = 64 << 20

// do sends req and fills resp. The run's end cuts off a request in flight:
// its answer is not counted (ctx's error is returned).
func (t *benchTransport) do(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) error {
	err := t.hc.Do(req, resp)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// benchClient is one bench client's requests over the transport.
type benchClient struct {
	t     *benchTransport
	key   string
	req   fasthttp.Request
	resp  fasthttp.Response
	mode  string
	batch int
	seed  uint64
	ids   []string // records to read (mode get)
	acks  bool     // decode the receipts' Acks (--record); else count them
	body  []byte
}

// prepare sets the reused request to method path with body (nil: none).
func (b *benchClient) prepare(method, path string, body []byte) {
	b.req.Reset()
	b.req.Header.SetMethod(method)
	b.req.SetRequestURI(path)
	b.req.Header.SetHost(b.t.hc.Addr)
	if b.key != "" {
		b.req.Header.Set("Authorization", "Bearer "+b.key)
	}
	if body != nil {
		b.req.Header.SetContentType("application/json")
		b.req.SetBodyRaw(body)
	}
}

// send makes request n: it returns the Acks of a 201 when b.acks, else
// how many records the 201 acknowledged (every one sent: the node answers
// 201 only with a receipt for each); an error as the node's client would
// (*client.APIError, *client.PendingError for a 202).
func (b *benchClient) send(ctx context.Context, rng *rand.Rand, n uint64) ([]client.Ack, int, error) {
	want, records := 201, 0
	switch {
	case b.mode == "health":
		b.prepare("GET", "/healthz", nil)
		want = 200
	case b.mode == "get":
		b.prepare("GET", "/api/v1/evidence/"+url.PathEscape(b.ids[rng.IntN(len(b.ids))]), nil)
		want = 200
	case b.batch == 0:
		b.body = appendItem(b.body[:0], digestOf(b.seed, n))
		b.prepare("POST", "/api/v1/evidence", b.body)
		records = 1
	default:
		body := append(b.body[:0], `{"items":[`...)
		for i := range b.batch {
			if i > 0 {
				body = append(body, ',')
			}
			body = appendItem(body, digestOf(b.seed, n<<10|uint64(i)))
		}
		b.body = append(body, "]}"...)
		b.prepare("POST", "/api/v1/evidence/batch", b.body)
		records = b.batch
	}
	if err := b.t.do(ctx, &b.req, &b.resp); err != nil {
		return nil, 0, err
	}
	status, body := b.resp.StatusCode(), b.resp.Body()
	if status != want {
		if err := client.AnswerError(status, body); err != nil {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("bench: status %d, want %d", status, want)
	}
	if records == 0 || !b.acks {
		return nil, records, nil
	}
	if b.batch == 0 {
		var a client.Ack
		if err := json.Unmarshal(body, &a); err != nil {
			return nil, 0, fmt.Errorf("bench: decoding a receipt: %w", err)
		}
		return []client.Ack{a}, 0, nil
	}
	var out struct {
		Receipts []client.Ack `json:"receipts"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, 0, fmt.Errorf("bench: decoding receipts: %w", err)
	}
	return out.Receipts, 0, nil
}

// appendItem appends one submission of a file's SHA-256 digest.
func appendItem(b []byte, digest string) []byte {
	b = append(b, `{"type":"file","digest":"`...)
	b = append(b, digest...)
	return append(b, `"}`...)
}
