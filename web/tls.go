package web

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"time"
)

// Certificate is the TLS certificate the node serves, read from a PEM
// certificate chain and key file and read again by Reload (evidenced does
// on SIGHUP), so a renewed certificate is served without a restart.
type Certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// LoadCertificate reads the certificate chain and key.
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again; on an error the certificate served stays
// the one read before.
func (c *Certificate) Reload() error {
	kp, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: %s, %s: %w", c.certFile, c.keyFile, err)
	}
	if kp.Leaf == nil {
		if kp.Leaf, err = x509.ParseCertificate(kp.Certificate[0]); err != nil {
			return fmt.Errorf("tls: %s: %w", c.certFile, err)
		}
	}
	c.cur.Store(&kp)
	return nil
}

// NotAfter is when the certificate served expires.
func (c *Certificate) NotAfter() time.Time { return c.cur.Load().Leaf.NotAfter }

// Subject is the served certificate's subject.
func (c *Certificate) Subject() string { return c.cur.Load().Leaf.Subject.String() }

// TLSConfig is the server configuration: TLS 1.2 or later, the current
// certificate at every handshake, HTTP/1.1 only (fiber's fasthttp speaks
// no HTTP/2; put an HTTP/2 proxy in front for it).
func (c *Certificate) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.cur.Load(), nil
		},
	}
}
