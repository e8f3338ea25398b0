package node

import (
	"crypto/ecdsa"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/pdf"
)

// TestCertificateFollowsTheKey: the node's self-signed certificate of a
// key rotated away is replaced by one for the new key; an operator's
// certificate (--signing-cert, create false) is never replaced, and one of
// another key is refused.
func TestCertificateFollowsTheKey(t *testing.T) {
	dir := t.TempDir()
	k1, _ := NewKey()
	k2, _ := NewKey()
	path := filepath.Join(dir, "node-cert.pem")
	c1, created, err := LoadOrCreateCertificate(path, k1, true)
	if err != nil || !created {
		t.Fatal(err, created)
	}
	if _, created, err := LoadOrCreateCertificate(path, k1, true); err != nil || created {
		t.Fatalf("the same key again: %v %v", err, created)
	}
	if _, _, err := LoadOrCreateCertificate(path, k2, false); err == nil || !strings.Contains(err.Error(), "not for the node's key") {
		t.Fatalf("an operator's certificate of another key: %v", err)
	}
	c2, created, err := LoadOrCreateCertificate(path, k2, true)
	if err != nil || !created || c2[0].Equal(c1[0]) || !c2[0].PublicKey.(*ecdsa.PublicKey).Equal(&k2.PublicKey) {
		t.Fatalf("after the key was rotated: %v %v", err, created)
	}
	// A certificate that is not the node's own self-signed one is never
	// replaced, even where the node would create one.
	other := filepath.Join(dir, "operator.pem")
	c, err := pdf.SelfSigned(k1, "Operator document signer", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(other, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644)
	if _, _, err := LoadOrCreateCertificate(other, k2, true); err == nil {
		t.Fatalf("an operator's certificate of another key was replaced")
	}
	if b, _ := os.ReadFile(other); !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Fatal("the operator's certificate was changed")
	}
}
