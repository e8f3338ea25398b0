// Command evidence-chaincode runs the evidence chaincode as a service
// (chaincode-as-a-service): it listens for the peer, which dials it at the
// address packaged by network/deploy-chaincode.
//
//	id=$(network/deploy-chaincode --name evidence --address 127.0.0.1:27050)
//	tls=network/.run/default/crypto/peerOrganizations/chaincode.evidence/peers/evidence.chaincode.evidence/tls
//	evidence-chaincode --address 127.0.0.1:27050 --ccid "$id" \
//	    --tls-cert $tls/server.crt --tls-key $tls/server.key &
//	network/commit-chaincode --name evidence
//
// Flags may also be set in the environment: CHAINCODE_SERVER_ADDRESS,
// CHAINCODE_ID (or CORE_CHAINCODE_ID_NAME), CHAINCODE_TLS_CERT and
// CHAINCODE_TLS_KEY; flags win. Without --tls-cert and --tls-key the server
// speaks plain gRPC, which peers refuse when the package's connection.json
// requires TLS (network/deploy-chaincode's does).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/evidence-node/evidence-node/chaincode"
)

func main() {
	os.Exit(Main(context.Background(), os.Args[1:], os.Getenv, os.Stderr))
}

// Config is the command's configuration; the flag set is its schema.
type Config struct {
	Address string
	CCID    string
	// TLSCert and TLSKey are PEM files of the server's TLS key pair; both
	// or neither.
	TLSCert, TLSKey string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Address); err != nil {
		return fmt.Errorf("--address %q: want HOST:PORT: %v", c.Address, err)
	}
	if c.CCID == "" {
		return errors.New("--ccid is empty: pass the package ID network/deploy-chaincode printed (label:hash)")
	}
	if !strings.Contains(c.CCID, ":") {
		return fmt.Errorf("--ccid %q: want a package ID, label:hash", c.CCID)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	return nil
}

// ParseFlags fills a Config from the environment and args.
func ParseFlags(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	var ccidFile string
	fs := flag.NewFlagSet("evidence-chaincode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Address, "address", first(getenv("CHAINCODE_SERVER_ADDRESS"), "127.0.0.1:27050"), "address to listen on for the peer (env CHAINCODE_SERVER_ADDRESS)")
	fs.StringVar(&c.CCID, "ccid", first(getenv("CHAINCODE_ID"), getenv("CORE_CHAINCODE_ID_NAME")), "chaincode package ID, label:hash (env CHAINCODE_ID)")
	fs.StringVar(&c.TLSCert, "tls-cert", getenv("CHAINCODE_TLS_CERT"), "PEM certificate (chain) of the server's TLS key pair (env CHAINCODE_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", getenv("CHAINCODE_TLS_KEY"), "PEM private key of the server's TLS key pair (env CHAINCODE_TLS_KEY)")
	fs.StringVar(&ccidFile, "ccid-file", "", "read the package ID from this file (e.g. RUN_DIR/chaincode/evidence.package-id)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: evidence-chaincode --address HOST:PORT --ccid LABEL:HASH [--tls-cert FILE --tls-key FILE]\n\nRuns the evidence chaincode as a service for Fabric peers.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if ccidFile != "" {
		b, err := os.ReadFile(ccidFile)
		if err != nil {
			return c, fmt.Errorf("--ccid-file: %w", err)
		}
		c.CCID = strings.TrimSpace(string(b))
	}
	return c, nil
}

func first(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// Main runs the chaincode server until SIGINT or SIGTERM and returns the
// exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := ParseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintln(stderr, "evidence-chaincode:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg, stderr); err != nil {
		fmt.Fprintln(stderr, "evidence-chaincode:", err)
		return 1
	}
	return 0
}

// Run serves until ctx is done.
func Run(ctx context.Context, cfg Config, stderr io.Writer) error {
	logger := log.New(stderr, "evidence-chaincode: ", log.LstdFlags|log.Lmsgprefix)
	var tc *tls.Config
	if cfg.TLSCert != "" {
		kp, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("TLS key pair: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{kp}, MinVersion: tls.VersionTLS12}
	}
	l, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return err
	}
	mode := "plain gRPC"
	if tc != nil {
		mode = "TLS"
	}
	logger.Printf("serving chaincode %s on %s (%s)", cfg.CCID, l.Addr(), mode)
	err = chaincode.Serve(ctx, l, cfg.CCID, tc)
	logger.Printf("stopped")
	return err
}
