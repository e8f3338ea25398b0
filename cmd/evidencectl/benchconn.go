package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/evidence-node/evidence-node/web/client"
)

// benchConn is the load generator's own HTTP/1.1 client: one keep-alive
// connection to a plain-http node, requests written from a buffer the
// caller reuses, answers read into a reused buffer. It exists because the
// load tool shares the machine's cores with the node it measures:
// net/http with a JSON round trip per request cost the tool about as much
// CPU per single submission as the node spent serving it. It speaks only
// what the node answers (Content-Length bodies, no chunking, no
// redirects); anything else is an error, never a guess.
type benchConn struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	body []byte
	stop func() bool // stops the context's hold on conn
}

// errBenchProtocol is an answer benchConn does not read (chunked, no
// Content-Length, a malformed status line).
var errBenchProtocol = errors.New("bench: answer not understood")

// benchAddr returns host:port of a plain-http node URL, or "" when the
// node is not reachable by benchConn (https, a path prefix).
func benchAddr(node string) string {
	u, err := url.Parse(node)
	if err != nil || u.Scheme != "http" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return ""
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return u.Host
}

// do sends req (a whole HTTP/1.1 request) and returns the status and the
// body, valid until the next call. A failed connection is closed and
// dialled again on the next call.
func (c *benchConn) do(ctx context.Context, req []byte) (int, []byte, error) {
	if c.conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, nil, err
		}
		// The run's end cuts off a request in flight: not counted (the
		// context is done before the read fails).
		c.stop = context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 16<<10)
		} else {
			c.br.Reset(conn)
		}
	}
	status, body, keep, err := c.roundTrip(req)
	if err != nil || !keep {
		c.stop()
		c.conn.Close()
		c.conn = nil
	}
	return status, body, err
}

func (c *benchConn) roundTrip(req []byte) (status int, body []byte, keep bool, err error) {
	if _, err := c.conn.Write(req); err != nil {
		return 0, nil, false, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	// "HTTP/1.1 201 Created\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, false, fmt.Errorf("%w: status line %q", errBenchProtocol, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("%w: status line %q", errBenchProtocol, line)
	}
	length, keep := -1, true
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, nil, false, fmt.Errorf("%w: header %q", errBenchProtocol, h)
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil || length < 0 {
				return 0, nil, false, fmt.Errorf("%w: Content-Length %q", errBenchProtocol, v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			return 0, nil, false, fmt.Errorf("%w: Transfer-Encoding %q", errBenchProtocol, v)
		case bytes.EqualFold(k, []byte("Connection")):
			keep = !bytes.EqualFold(v, []byte("close"))
		}
	}
	if length < 0 {
		return 0, nil, false, fmt.Errorf("%w: no Content-Length", errBenchProtocol)
	}
	if length > maxBenchAnswer {
		return 0, nil, false, fmt.Errorf("%w: an answer of %d bytes", errBenchProtocol, length)
	}
	if cap(c.body) < length {
		c.body = make([]byte, length)
	}
	c.body = c.body[:length]
	if _, err := io.ReadFull(c.br, c.body); err != nil {
		return 0, nil, false, err
	}
	return status, c.body, keep, nil
}

// maxBenchAnswer bounds an answer benchConn reads (a batch of 1,000
// receipts is about 2 MB).
const maxBenchAnswer = 64 << 20

// benchRequest builds HTTP/1.1 requests for one node into a reused
// buffer.
type benchRequest struct {
	host, key string
	buf       []byte
}

// build returns the request method path with body (nil: none), valid
// until the next call.
func (r *benchRequest) build(method, path string, body []byte) []byte {
	b := append(r.buf[:0], method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, r.host...)
	b = append(b, "\r\nUser-Agent: evidencectl-bench\r\n"...)
	if r.key != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, r.key...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	r.buf = b
	return b
}

// benchClient is one bench client's requests over a benchConn.
type benchClient struct {
	conn  benchConn
	req   benchRequest
	mode  string
	batch int
	seed  uint64
	ids   []string // records to read (mode get)
	acks  bool     // decode the receipts' Acks (--record); else count them
	body  []byte
}

// send makes request n: it returns the Acks of a 201 when b.acks, else
// how many records the 201 acknowledged (every one sent: the node answers
// 201 only with a receipt for each); an error as the node's client would
// (*client.APIError, *client.PendingError for a 202).
func (b *benchClient) send(ctx context.Context, rng *rand.Rand, n uint64) ([]client.Ack, int, error) {
	var req []byte
	want, records := 201, 0
	switch {
	case b.mode == "health":
		req, want = b.req.build("GET", "/healthz", nil), 200
	case b.mode == "get":
		req, want = b.req.build("GET", "/api/v1/evidence/"+url.PathEscape(b.ids[rng.IntN(len(b.ids))]), nil), 200
	case b.batch == 0:
		b.body = appendItem(b.body[:0], digestOf(b.seed, n))
		req, records = b.req.build("POST", "/api/v1/evidence", b.body), 1
	default:
		body := append(b.body[:0], `{"items":[`...)
		for i := range b.batch {
			if i > 0 {
				body = append(body, ',')
			}
			body = appendItem(body, digestOf(b.seed, n<<10|uint64(i)))
		}
		b.body = append(body, "]}"...)
		req, records = b.req.build("POST", "/api/v1/evidence/batch", b.body), b.batch
	}
	status, body, err := b.conn.do(ctx, req)
	if err != nil {
		return nil, 0, err
	}
	if status != want {
		if err := client.AnswerError(status, body); err != nil {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("%w: status %d, want %d", errBenchProtocol, status, want)
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
