package block

import (
	"crypto/x509"
	"fmt"

	"github.com/evidence-node/evidence-node/verifier/strict"
)

// TSACertificates parses the TSA roots: each one PEM CERTIFICATE block
// without surrounding text (strict.PEM) holding one X.509 certificate.
// A root may be a CA certificate or a TSA's own certificate, pinned.
func (t TrustRoots) TSACertificates() ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for i, p := range t.TSARoots {
		der, err := strict.PEM(p, "CERTIFICATE", false)
		if err != nil {
			return nil, fmt.Errorf("tsa_roots.%d: %w", i, err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("tsa_roots.%d: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}
