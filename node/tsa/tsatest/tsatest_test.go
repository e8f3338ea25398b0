package tsatest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"

	"github.com/evidence-node/evidence-node/node/tsa/tsatest"
)

// stamp sends an RFC 3161 request for digest (SHA-256) with a nonce and
// certReq set, and returns the parsed token and the nonce sent.
func stamp(t *testing.T, url string, digest []byte) (*timestamp.Timestamp, *big.Int) {
	t.Helper()
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	req := &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest, Nonce: nonce, Certificates: true}
	der, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	body, err := post(url, der)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := timestamp.ParseResponse(body)
	if err != nil {
		t.Fatalf("parse the TSA's response: %v", err)
	}
	return ts, nonce
}

func post(url string, der []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(der))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %s: %s", url, resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/timestamp-reply" {
		return nil, fmt.Errorf("POST %s: Content-Type %q", url, ct)
	}
	return body, nil
}

// signer is the certificate that signed the token (the CMS SignerInfo's),
// not merely one the token carries.
func signer(t *testing.T, ts *timestamp.Timestamp) *x509.Certificate {
	t.Helper()
	p7, err := pkcs7.Parse(ts.RawToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := p7.Verify(); err != nil {
		t.Fatalf("token signature: %v", err)
	}
	c := p7.GetOnlySigner()
	if c == nil {
		t.Fatal("token has no single signer certificate")
	}
	return c
}

func verifyTSA(cert *x509.Certificate, roots *x509.CertPool, at time.Time) error {
	_, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: at,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	return err
}

func TestTimestamp(t *testing.T) {
	for _, kt := range []tsatest.KeyType{tsatest.ECDSAP256, tsatest.ECDSAP384, tsatest.RSA2048} {
		t.Run(string(kt), func(t *testing.T) {
			t.Parallel()
			tsa := tsatest.Start(t, tsatest.Options{Key: kt})
			digest := sha256.Sum256([]byte("block 42 " + string(kt)))
			before := time.Now()
			ts, nonce := stamp(t, tsa.URL, digest[:])

			if ts.HashAlgorithm != crypto.SHA256 || !bytes.Equal(ts.HashedMessage, digest[:]) {
				t.Errorf("imprint = %v %x, want SHA-256 %x", ts.HashAlgorithm, ts.HashedMessage, digest)
			}
			if ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0 {
				t.Errorf("nonce = %v, want %v", ts.Nonce, nonce)
			}
			if d := ts.Time.Sub(before); d < -2*time.Second || d > 30*time.Second {
				t.Errorf("genTime %v is %v from the request", ts.Time, d)
			}
			if !ts.AddTSACertificate {
				t.Error("certReq was set but the token carries no certificate")
			}

			got := signer(t, ts)
			if !got.Equal(tsa.Cert) {
				t.Errorf("signer %q, want the TSA's certificate %q", got.Subject, tsa.Cert.Subject)
			}
			if err := verifyTSA(got, tsa.CA.Pool(), ts.Time); err != nil {
				t.Errorf("signer does not chain to the test CA with id-kp-timeStamping: %v", err)
			}
			// Another CA's trust root does not accept this TSA.
			if err := verifyTSA(got, tsatest.NewCA(t).Pool(), ts.Time); err == nil {
				t.Error("signer verified against an unrelated CA")
			}
			var critical bool
			for _, ext := range got.Extensions {
				if ext.Id.String() == "2.5.29.37" {
					critical = ext.Critical
				}
			}
			if !critical {
				t.Error("the TSA certificate's extended key usage is not critical")
			}
		})
	}
}

func TestCertChainEndpoint(t *testing.T) {
	tsa := tsatest.Start(t, tsatest.Options{IncludeChain: true})
	resp, err := http.Get(tsa.BaseURL + "/api/v1/timestamp/certchain")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET certchain: %v %s", err, resp.Status)
	}
	chain, err := tsatest.ParseChainPEM(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain) != 2 || !chain[0].Equal(tsa.Cert) || !chain[1].Equal(tsa.CA.Cert) {
		t.Fatalf("certchain serves %d certificates, not the TSA's then the CA's", len(chain))
	}

	// With IncludeChain the token carries the root too.
	digest := sha256.Sum256([]byte("chain"))
	ts, _ := stamp(t, tsa.URL, digest[:])
	if len(ts.Certificates) != 2 {
		t.Errorf("token carries %d certificates, want 2 (TSA and root)", len(ts.Certificates))
	}
}

func TestSharedCA(t *testing.T) {
	ca := tsatest.NewCA(t)
	a := tsatest.Start(t, tsatest.Options{CA: ca})
	b := tsatest.Start(t, tsatest.Options{CA: ca, Key: tsatest.RSA2048})
	for _, tsa := range []*tsatest.TSA{a, b} {
		digest := sha256.Sum256([]byte(tsa.URL))
		ts, _ := stamp(t, tsa.URL, digest[:])
		if err := verifyTSA(signer(t, ts), ca.Pool(), ts.Time); err != nil {
			t.Errorf("%s: %v", tsa.URL, err)
		}
	}
}

func TestStopRestart(t *testing.T) {
	tsa := tsatest.Start(t, tsatest.Options{})
	digest := sha256.Sum256([]byte("outage"))
	first, _ := stamp(t, tsa.URL, digest[:])

	tsa.Stop()
	if tsa.Running() {
		t.Fatal("running after Stop")
	}
	req := &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: digest[:]}
	der, _ := req.Marshal()
	if _, err := post(tsa.URL, der); err == nil {
		t.Fatal("a stopped TSA answered")
	}

	tsa.Restart(t)
	second, _ := stamp(t, tsa.URL, digest[:])
	if !signer(t, second).Equal(signer(t, first)) {
		t.Error("the restarted TSA signs with another certificate")
	}
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Error("two tokens with one serial number")
	}
}
