package node

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/block"
)

// LoadOrCreateKey reads the node's ECDSA P-256 signing key from path (it
// seals the embedded ledger's blocks and signs certificates and packages)
// (PKCS #8 PEM), creating it with mode 0600 if the file does not exist. It
// refuses a key file that others can read.
func LoadOrCreateKey(path string) (*ecdsa.PrivateKey, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, false, fmt.Errorf("node: generate key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, false, err
		}
		if err := store.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, false, fmt.Errorf("node: write key: %w", err)
		}
		return k, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("node: read key: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("node: key file %s has mode %v; it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, false, fmt.Errorf("node: %s holds no PEM PRIVATE KEY", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, false, fmt.Errorf("node: parse key %s: %w", path, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, false, fmt.Errorf("node: %s is not an ECDSA P-256 key", path)
	}
	return ec, false, nil
}

// selfSignedPrefix starts the common name of the node's self-signed
// document signing certificate; the key ID follows.
const selfSignedPrefix = "evidence node "

// LoadOrCreateCertificate returns the certificate chain of the node's key
// for document signatures: the PEM chain in path (leaf first; its key must
// be key), or, when create is true, a self-signed certificate for key
// written there (mode 0644) if path does not exist or holds the node's own
// self-signed certificate of another key (the key was rotated: the
// certificate follows it). The bool says whether it was created.
func LoadOrCreateCertificate(path string, key *ecdsa.PrivateKey, create bool) ([]*x509.Certificate, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		return writeSelfSigned(path, key)
	}
	if err != nil {
		return nil, false, fmt.Errorf("node: signing certificate: %w", err)
	}
	if create {
		if blk, _ := pem.Decode(b); blk != nil && blk.Type == "CERTIFICATE" {
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil && strings.HasPrefix(c.Subject.CommonName, selfSignedPrefix) &&
				c.Subject.String() == c.Issuer.String() {
				if pub, ok := c.PublicKey.(*ecdsa.PublicKey); ok && !pub.Equal(&key.PublicKey) {
					return writeSelfSigned(path, key)
				}
			}
		}
	}
	var chain []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, false, fmt.Errorf("node: %s: data that is not a PEM certificate", path)
			}
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, false, fmt.Errorf("node: %s: a PEM %s block; want certificates only", path, blk.Type)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, false, fmt.Errorf("node: %s: %w", path, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, false, fmt.Errorf("node: %s holds no PEM CERTIFICATE", path)
	}
	if pub, ok := chain[0].PublicKey.(*ecdsa.PublicKey); !ok || !pub.Equal(&key.PublicKey) {
		return nil, false, fmt.Errorf("node: %s: the first certificate is not for the node's key (node-key.pem)", path)
	}
	return chain, false, nil
}

// LoadOrCreateToken returns the operator's admin token kept in path (one
// line, mode 0600), creating a random one (32 bytes, hex, after "eva_")
// if the file does not exist. It refuses a token file that others can
// read, or one too short to be secret.
func LoadOrCreateToken(path string) (string, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var r [32]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", false, err
		}
		tok := "eva_" + hex.EncodeToString(r[:])
		if err := store.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			return "", false, fmt.Errorf("node: write admin token: %w", err)
		}
		return tok, true, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("node: read admin token: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return "", false, fmt.Errorf("node: admin token file %s has mode %v; it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 || strings.ContainsAny(tok, " \t\r\n") {
		return "", false, fmt.Errorf("node: admin token file %s: want one token of at least 32 characters", path)
	}
	return tok, false, nil
}

// writeSelfSigned writes a self-signed document signing certificate for
// key to path.
func writeSelfSigned(path string, key *ecdsa.PrivateKey) ([]*x509.Certificate, bool, error) {
	id, err := block.KeyID(&key.PublicKey)
	if err != nil {
		return nil, false, err
	}
	cert, err := pdf.SelfSigned(key, selfSignedPrefix+id, time.Now())
	if err != nil {
		return nil, false, fmt.Errorf("node: signing certificate: %w", err)
	}
	if err := store.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		return nil, false, fmt.Errorf("node: write certificate: %w", err)
	}
	return []*x509.Certificate{cert}, true, nil
}

// ReadKey reads an ECDSA P-256 private key (PKCS #8 PEM) from path,
// refusing a file that others can read.
func ReadKey(path string) (*ecdsa.PrivateKey, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("node: key: %w", err)
	}
	k, _, err := LoadOrCreateKey(path)
	return k, err
}

// WriteKey writes key to path atomically (PKCS #8 PEM, mode 0600).
func WriteKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return store.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// NewKey generates a node key (ECDSA P-256).
func NewKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }
