package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseFlags(t *testing.T) {
	idFile := filepath.Join(t.TempDir(), "evidence.package-id")
	os.WriteFile(idFile, []byte("evidence_1.0:abc\n"), 0o644)
	tests := []struct {
		desc    string
		args    []string
		env     map[string]string
		want    Config
		wantErr string // from ParseFlags or Validate
	}{
		{"flags", []string{"--address", "127.0.0.1:1", "--ccid", "a:b"}, nil, Config{Address: "127.0.0.1:1", CCID: "a:b"}, ""},
		{"environment", nil, map[string]string{"CHAINCODE_SERVER_ADDRESS": "127.0.0.1:2", "CHAINCODE_ID": "c:d"}, Config{Address: "127.0.0.1:2", CCID: "c:d"}, ""},
		{"Fabric's peer variable", nil, map[string]string{"CORE_CHAINCODE_ID_NAME": "e:f"}, Config{Address: "127.0.0.1:27050", CCID: "e:f"}, ""},
		{"flags win", []string{"--ccid", "g:h"}, map[string]string{"CHAINCODE_ID": "c:d"}, Config{Address: "127.0.0.1:27050", CCID: "g:h"}, ""},
		{"ID file", []string{"--ccid-file", idFile}, nil, Config{Address: "127.0.0.1:27050", CCID: "evidence_1.0:abc"}, ""},
		{"no ID", nil, nil, Config{}, "--ccid is empty"},
		{"not a package ID", []string{"--ccid", "evidence"}, nil, Config{}, "want a package ID"},
		{"bad address", []string{"--ccid", "a:b", "--address", "nowhere"}, nil, Config{}, "want HOST:PORT"},
		{"TLS", []string{"--ccid", "a:b", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, nil, Config{Address: "127.0.0.1:27050", CCID: "a:b", TLSCert: "c.pem", TLSKey: "k.pem"}, ""},
		{"TLS from the environment", []string{"--ccid", "a:b"}, map[string]string{"CHAINCODE_TLS_CERT": "c.pem", "CHAINCODE_TLS_KEY": "k.pem"}, Config{Address: "127.0.0.1:27050", CCID: "a:b", TLSCert: "c.pem", TLSKey: "k.pem"}, ""},
		{"TLS cert without key", []string{"--ccid", "a:b", "--tls-cert", "c.pem"}, nil, Config{}, "go together"},
		{"missing ID file", []string{"--ccid-file", "/nonexistent"}, nil, Config{}, "--ccid-file"},
	}
	for _, tt := range tests {
		got, err := ParseFlags(tt.args, env(tt.env), io.Discard)
		if err == nil {
			err = got.Validate()
		}
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want %q", tt.desc, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.desc, got, err, tt.want)
		}
	}
}

// TestRun starts the server on a free port, sees it listen, and stops it by cancelling the context (as SIGTERM does).
func TestRun(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Config{Address: addr, CCID: "evidence_1.0:abc"}, io.Discard) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not listening: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not stop")
	}
}
