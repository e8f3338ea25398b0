package web

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	fixed := "Content-Length: " + fmt.Sprint(len(padded))
	chunked := "Transfer-Encoding: chunked"
	okText := `{"type":"text","text":"sent chunked"}`
	for _, c := range []struct {
		name, method, head, body string
		want                     int
	}{
		{"no key, fixed length", "POST", "Content-Type: application/json\r\n" + fixed, padded, 401},
		{"unknown key, fixed length", "POST", "Authorization: Bearer evk_unknown\r\nContent-Type: application/json\r\n" + fixed, padded, 401},
		{"no key, chunked", "POST", "Content-Type: application/json\r\n" + chunked, chunk, 401},
		{"unknown key, chunked", "POST", "Authorization: Bearer evk_unknown\r\nContent-Type: application/json\r\n" + chunked, chunk, 401},
		// fiber answers a method it does not know before any middleware.
		{"unknown method, fixed length", "PROPFIND", fixed, padded, 501},
		{"unknown method, chunked", "PROPFIND", chunked, chunk, 501},
		// A chunked body read to its end closes too: its end cannot be
		// told from the next request without reading into it.
		{"chunked, read", "POST", "Authorization: Bearer " + n.key + "\r\nContent-Type: application/json\r\n" + chunked,
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(okText), okText), 201},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, br := dial(t, addr)
			fmt.Fprintf(conn, "%s /api/v1/evidence HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n%s", c.method, c.head, c.body)
			resp := readResponse(t, br)
			if resp.StatusCode != c.want {
				t.Fatalf("answer %d, want %d", resp.StatusCode, c.want)
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
		// A file larger than what fasthttp reads ahead: read through the stream.
		big := bytes.Repeat([]byte("contract "), 8000)
		file, fileType := multipartBody(t, map[string]string{"doc_ref": "keep-alive"}, big)
		fileBody, _ := io.ReadAll(file)
		var id string
		for _, r := range []struct{ method, path, ctype, body string }{
			{"POST", "/api/v1/evidence", "application/json", `{"type":"text","text":"keep-alive"}`},
			{"POST", "/api/v1/evidence/batch", "application/json", `{"items":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}`},
			{"POST", "/api/v1/evidence", fileType, string(fileBody)},
			{"POST", "/api/v1/verify", fileType, ""}, // the file against the ID just made
			{"GET", "/healthz", "", ""},
		} {
			body := r.body
			if r.path == "/api/v1/verify" {
				b, ct := multipartBody(t, map[string]string{"id": id}, big)
				raw, _ := io.ReadAll(b)
				body, r.ctype = string(raw), ct
			}
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s",
				r.method, r.path, n.key, r.ctype, len(body), body)
			resp, b := readResponseBody(t, br)
			if resp.StatusCode >= 300 || resp.Close {
				t.Fatalf("%s %s: %d, Connection: close %v; want success, kept open: %s", r.method, r.path, resp.StatusCode, resp.Close, b)
			}
			if r.ctype == fileType {
				var rc struct{ ID string }
				json.Unmarshal(b, &rc)
				id = rc.ID
			}
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
	resp, _ := readResponseBody(t, br)
	return resp
}

func readResponseBody(t *testing.T, br *bufio.Reader) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp, b
}
