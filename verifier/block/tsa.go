package block

import (
	"crypto/x509"
	"fmt"

	"github.com/emmansun/gmsm/smx509"

	"github.com/evidence-node/evidence-node/verifier/strict"
)

// TSARootsDER checks the TSA roots and returns their certificates' DER:
// each one PEM CERTIFICATE block without surrounding text (strict.PEM)
// holding one X.509 certificate — RSA or ECDSA (crypto/x509), or SM2
// (GB/T 20520 authorities; github.com/emmansun/gmsm/smx509). A root may be
// a CA certificate or a TSA's own certificate, pinned.
func (t TrustRoots) TSARootsDER() ([][]byte, error) {
	var out [][]byte
	for i, p := range t.TSARoots {
		der, err := strict.PEM(p, "CERTIFICATE", false)
		if err != nil {
			return nil, fmt.Errorf("tsa_roots.%d: %w", i, err)
		}
		if _, err := x509.ParseCertificate(der); err != nil {
			if _, smErr := smx509.ParseCertificate(der); smErr != nil {
				return nil, fmt.Errorf("tsa_roots.%d: %w", i, err)
			}
		}
		out = append(out, der)
	}
	return out, nil
}
