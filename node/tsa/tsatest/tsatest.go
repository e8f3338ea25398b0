// Package tsatest runs a real RFC 3161 timestamp authority for tests:
// Sigstore's timestamp-server (pinned in network/tool-versions, built by
// network/build-tools) as a process on 127.0.0.1, signing with a key and
// certificate chain made at run time under a test CA.
//
//	tsa := tsatest.Start(t, tsatest.Options{})
//	// POST an RFC 3161 request (application/timestamp-query) to tsa.URL;
//	// check the token's signer against tsa.CA.Pool() with
//	// x509.ExtKeyUsageTimeStamping.
//
// The chain is root CA → TSA certificate (ExtKeyUsage id-kp-timeStamping,
// critical, as RFC 3161 §2.3 requires; the server refuses to start
// otherwise). Tests build "untrusted TSA" cases by checking one TSA's token
// against another CA, and "broken chain" cases by altering Chain.
// Stop and Restart simulate an outage: the same port, key and chain.
//
// When the binary is missing, Start fails the test at once with the
// command to run (network/build-tools, or make tools).
package tsatest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/internal/toolproc"
)

// KeyType is the kind of key the TSA signs with.
type KeyType string

// Key types timestamp-server's file signer takes.
const (
	ECDSAP256 KeyType = "ecdsa-p256"
	ECDSAP384 KeyType = "ecdsa-p384"
	RSA2048   KeyType = "rsa-2048"
)

// Options configure a TSA. The zero value is an ECDSA P-256 TSA under a
// new CA.
type Options struct {
	// Key is the TSA's signing key type (default ECDSAP256).
	Key KeyType
	// CA issues the TSA's certificate (default: a new CA for this TSA).
	// Give two TSAs one CA to have them share a trust root.
	CA *CA
	// IncludeChain makes answers to requests with certReq carry the whole
	// chain, not only the TSA's certificate (--include-chain-in-response).
	IncludeChain bool
}

// TSA is a running (or stopped) timestamp-server.
type TSA struct {
	// URL is the RFC 3161 endpoint: POST a DER TimeStampReq with
	// Content-Type application/timestamp-query; the answer is a DER
	// TimeStampResp.
	URL string
	// BaseURL is the server's root (GET BaseURL+"/api/v1/timestamp/certchain"
	// serves ChainPEM).
	BaseURL string
	// CA issued Cert.
	CA *CA
	// Cert is the TSA's certificate; Key its private key.
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is Cert then CA.Cert, as the server was given it; ChainPEM the
	// same in PEM.
	Chain    []*x509.Certificate
	ChainPEM []byte

	proc *toolproc.Process
}

// Start starts a TSA and stops it when the test ends.
func Start(t testing.TB, opts Options) *TSA {
	t.Helper()
	bin, err := toolproc.Binary("timestamp-authority", "timestamp-server")
	if err != nil {
		t.Fatalf("tsatest: %v", err)
	}
	if opts.Key == "" {
		opts.Key = ECDSAP256
	}
	if opts.CA == nil {
		opts.CA = NewCA(t)
	}
	key, err := newKey(opts.Key)
	if err != nil {
		t.Fatalf("tsatest: %v", err)
	}
	cert, err := opts.CA.issueTSA(key.Public())
	if err != nil {
		t.Fatalf("tsatest: %v", err)
	}
	s := &TSA{CA: opts.CA, Cert: cert, Key: key, Chain: []*x509.Certificate{cert, opts.CA.Cert}}
	s.ChainPEM = append(pemCert(cert), opts.CA.PEM...)

	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("tsatest: %v", err)
	}
	files := map[string][]byte{
		"tsa-key.pem":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		"tsa-chain.pem": s.ChainPEM,
		// Read with --config instead of $HOME/.timestamp-server.yaml or
		// ./timestamp-server.yaml; every setting is a flag.
		"timestamp-server.yaml": []byte("# settings are command-line flags (see node/tsa/tsatest)\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatalf("tsatest: %v", err)
		}
	}

	// A port found free may be taken before the server binds it: try
	// another then.
	for attempt := 1; ; attempt++ {
		port, err := toolproc.FreePort()
		if err != nil {
			t.Fatalf("tsatest: %v", err)
		}
		s.BaseURL = "http://127.0.0.1:" + strconv.Itoa(port)
		s.URL = s.BaseURL + "/api/v1/timestamp"
		s.proc, err = toolproc.Start(toolproc.Config{
			Path: bin,
			Args: serveArgs(dir, port, opts.IncludeChain),
			// The metrics listener would take :2112 on every interface;
			// network/build-tools makes its address settable.
			Env:   append(toolproc.BaseEnv(dir), "TSA_METRICS_ADDR=127.0.0.1:0"),
			Dir:   dir,
			Log:   filepath.Join(dir, "timestamp-server.log"),
			Ready: toolproc.HTTPReady(http.MethodGet, s.BaseURL+"/ping", http.StatusOK),
		})
		if err == nil {
			break
		}
		if attempt < 3 && errors.Is(err, toolproc.ErrExited) && strings.Contains(err.Error(), "address already in use") {
			continue
		}
		t.Fatalf("tsatest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tsatest: end of the timestamp-server log:\n%s", s.proc.Tail())
		}
		s.proc.Stop()
	})
	return s
}

func serveArgs(dir string, port int, includeChain bool) []string {
	args := []string{
		"serve",
		"--config", filepath.Join(dir, "timestamp-server.yaml"),
		"--host", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--timestamp-signer", "file",
		"--file-signer-key-path", filepath.Join(dir, "tsa-key.pem"),
		"--certificate-chain-path", filepath.Join(dir, "tsa-chain.pem"),
		"--timestamp-signer-hash", "sha256",
		// NTP monitoring would query public NTP servers.
		"--disable-ntp-monitoring",
		"--log-type", "prod",
	}
	if includeChain {
		args = append(args, "--include-chain-in-response")
	}
	return args
}

// Stop stops the server (an outage); Restart brings it back.
func (s *TSA) Stop() { s.proc.Stop() }

// Restart starts a stopped server again on the same port with the same key
// and chain, and waits until it answers.
func (s *TSA) Restart(t testing.TB) {
	t.Helper()
	if err := s.proc.Start(); err != nil {
		t.Fatalf("tsatest: restart: %v", err)
	}
}

// Running reports whether the server process runs.
func (s *TSA) Running() bool { return s.proc.Running() }

// CA is a test certificate authority: a self-signed ECDSA P-256 root.
type CA struct {
	Cert *x509.Certificate
	// PEM is Cert in PEM.
	PEM []byte
	Key crypto.Signer
}

// NewCA makes a root CA valid from an hour ago for a day.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("tsatest: %v", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"evidence-node tests"}, CommonName: "Test TSA Root " + serial().Text(16)[:8]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatalf("tsatest: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("tsatest: %v", err)
	}
	return &CA{Cert: cert, PEM: pemCert(cert), Key: key}
}

// Pool is a pool holding only the CA's certificate, for x509.VerifyOptions.Roots.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

var (
	oidExtKeyUsage  = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
)

// issueTSA issues a TSA certificate for pub: digitalSignature and the one
// extended key usage id-kp-timeStamping, critical (crypto/x509 writes EKU
// non-critical, hence the explicit extension).
func (ca *CA) issueTSA(pub crypto.PublicKey) (*x509.Certificate, error) {
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"evidence-node tests"}, CommonName: "Test TSA " + serial().Text(16)[:8]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{
			{Id: oidExtKeyUsage, Critical: true, Value: eku},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func newKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case ECDSAP384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("unknown key type %q", kt)
}

// serial is a random positive 128-bit serial number.
func serial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand)
	b[0] |= 0x40 // positive and never short
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// ParseChainPEM parses PEM certificates in order (for the server's
// /api/v1/timestamp/certchain answer).
func ParseChainPEM(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(b)) > 0 || len(certs) == 0 {
		return nil, errors.New("tsatest: not a PEM certificate chain")
	}
	return certs, nil
}
