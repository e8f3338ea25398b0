package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"
)

// TestServeClosesStragglers: a client that connected and never sent a
// request does not hold the shutdown past its grace; its connection is
// closed, and the closing logged.
func TestServeClosesStragglers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, app, ln, 200*time.Millisecond, logger) }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HT")) // half a request: the connection is busy
	// Time for Serve to have taken the connection, however loaded the machine.
	time.Sleep(time.Second)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve still waiting for a silent client")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("the straggler's connection was not closed: %v", err)
	}
	// The closing is logged through the node's logger, in its format.
	var line struct {
		Msg         string
		Connections int
	}
	if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line.Connections != 1 {
		t.Fatalf("shutdown log %q: %v; want one JSON line naming 1 connection", logs.String(), err)
	}
}
