package web

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUnreadBodyIsNoRequest: a body the node leaves unread (a request
// refused before its body is read) is never parsed as the connection's
// next request: the refusal is the only answer, and the connection is
// closed after it. A body the node read to its end keeps the connection.
func TestUnreadBodyIsNoRequest(t *testing.T) {
	n := newTestNode(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, n, ln)
	addr := ln.Addr().String()

	smuggled := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	// fasthttp reads 8 KiB of a body ahead of the handler: the smuggled
	// request is what it leaves on the connection, unless the node acts.
	padded := strings.Repeat("x", 8<<10) + smuggled
	chunk := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(smuggled), smuggled)
	for _, c := range []struct{ name, head, body string }{
		{"no key, fixed length", "Content-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(padded)), padded},
		{"unknown key, fixed length", "Authorization: Bearer evk_unknown\r\nContent-Type: application/json\r\nContent-Length: " + fmt.Sprint(len(padded)), padded},
		{"no key, chunked", "Content-Type: application/json\r\nTransfer-Encoding: chunked", chunk},
		{"unknown key, chunked", "Authorization: Bearer evk_unknown\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked", chunk},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, br := dial(t, addr)
			fmt.Fprintf(conn, "POST /api/v1/evidence HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n%s", c.head, c.body)
			resp := readResponse(t, br)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("answer %d, want 401", resp.StatusCode)
			}
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			if next, err := http.ReadResponse(br, nil); err == nil {
				t.Fatalf("a second answer, %d, to a request the client did not send", next.StatusCode)
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() || !resp.Close {
				t.Fatalf("the connection stayed open (Connection: close %v)", resp.Close)
			}
		})
	}

	t.Run("read body keeps the connection", func(t *testing.T) {
		conn, br := dial(t, addr)
		body := `{"type":"text","text":"keep-alive"}`
		fmt.Fprintf(conn, "POST /api/v1/evidence HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			n.key, len(body), body)
		if resp := readResponse(t, br); resp.StatusCode != http.StatusCreated || resp.Close {
			t.Fatalf("answer %d, Connection: close %v; want 201, kept open", resp.StatusCode, resp.Close)
		}
		io.WriteString(conn, smuggled)
		if resp := readResponse(t, br); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz on the same connection: %d", resp.StatusCode)
		}
	})
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	return conn, bufio.NewReader(conn)
}

func readResponse(t *testing.T, br *bufio.Reader) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
