package verifier

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/evidence-node/evidence-node/verifier/block"
)

// testCA is a certificate authority for tests; testTSA a TSA it issued.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

type testTSA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var (
	validFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	validTo   = time.Now().Add(24 * time.Hour)
)

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: validFrom, NotAfter: validTo,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCA{cert: c, key: key}
}

func (ca *testCA) pem() string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
}

type tsaOpts struct {
	noEKU, nonCritical bool
	notBefore          time.Time
}

func (ca *testCA) issue(t *testing.T, name string, o tsaOpts) *testTSA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, NotBefore: validFrom, NotAfter: validTo,
		KeyUsage: x509.KeyUsageDigitalSignature}
	if !o.notBefore.IsZero() {
		tmpl.NotBefore = o.notBefore
	}
	if !o.noEKU {
		eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidExtKeyUsage, Critical: !o.nonCritical, Value: eku}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testTSA{cert: c, key: key}
}

// stamp makes a token over message at genTime, as a TSA answering a
// request with certReq would.
func (s *testTSA) stamp(t *testing.T, message []byte, genTime time.Time) []byte {
	t.Helper()
	h := sha256.Sum256(message)
	ts := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: h[:], Time: genTime, Nonce: big.NewInt(42),
		Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}, AddTSACertificate: true}
	resp, err := ts.CreateResponseWithOpts(s.cert, s.key, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := timestamp.ParseResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	return tok.RawToken
}

// entry is the receipt's entry for a token over message (RFC 3161 times
// here have whole seconds).
func (s *testTSA) entry(t *testing.T, message []byte, genTime time.Time) Timestamp {
	genTime = genTime.Truncate(time.Second)
	return Timestamp{Kind: TimestampRFC3161, TSA: s.cert.Subject.CommonName, GenTime: FormatTime(genTime), Token: s.stamp(t, message, genTime)}
}

// stamped returns rc with ts as its timestamps and the stamped
// time_source.
func stamped(rc Receipt, ts ...Timestamp) Receipt { return rc.WithTimestamps(ts, false) }

func TestTimestamps(t *testing.T) {
	rc, _, roots, _ := sealedBlock(t, 3, 1)
	ledger, _ := time.Parse(time.RFC3339Nano, rc.LedgerTime)
	ca := newTestCA(t, "Test TSA Root")
	other := newTestCA(t, "Another Root")
	a, b := ca.issue(t, "TSA A", tsaOpts{}), ca.issue(t, "TSA B", tsaOpts{})
	roots.TSARoots = []string{ca.pem()}
	msg, err := StampMessage(rc)
	if err != nil {
		t.Fatal(err)
	}
	if want := "evidence-node/timestamp/v1\nembedded\n" + rc.BlockHash + "\n"; string(msg) != want {
		t.Fatalf("stamped message %q, want %q", msg, want)
	}
	gen := ledger.Add(1500 * time.Millisecond).Truncate(time.Second)

	// Valid: two TSAs, and pending, and none.
	good := stamped(rc, a.entry(t, msg, gen), b.entry(t, msg, gen.Add(time.Second)))
	if _, err := VerifyReceipt(good, roots); err != nil {
		t.Fatal(err)
	}
	if good.TrustedTime() != TrustedStamped || good.TimeSource != TimeSourceNodeStamped {
		t.Errorf("trusted time %s, time_source %q", good.TrustedTime(), good.TimeSource)
	}
	pending := rc.WithTimestamps(nil, true)
	if _, err := VerifyReceipt(pending, roots); err != nil || pending.TrustedTime() != TrustedPending {
		t.Errorf("pending: %v, %s", err, pending.TrustedTime())
	}
	if rc.TrustedTime() != TrustedNone {
		t.Errorf("plain receipt: %s", rc.TrustedTime())
	}
	// A receipt round-trips through its JSON with its timestamps.
	back, err := ParseReceipt(good.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyReceipt(back, roots); err != nil {
		t.Fatalf("after JSON: %v", err)
	}
	// The skew: a gen_time up to TimestampSkew before the ledger time is
	// accepted.
	early := ledger.Add(-TimestampSkew + 2*time.Second)
	if _, err := VerifyReceipt(stamped(rc, a.entry(t, msg, early)), roots); err != nil {
		t.Errorf("gen_time within the skew: %v", err)
	}

	one := func(ts Timestamp) Receipt { return stamped(rc, ts) }
	otherMsg := EmbeddedStampMessage(make([]byte, 32))
	forged := other.issue(t, "TSA A", tsaOpts{})
	// A CA under the trusted root's name but with another key: the TSA's
	// certificate claims the trusted root as its issuer.
	impostor := newTestCA(t, "Test TSA Root")
	broken := impostor.issue(t, "TSA C", tsaOpts{})
	late := ca.issue(t, "TSA D", tsaOpts{notBefore: ledger.Add(24 * time.Hour)})

	noCert := func() Timestamp {
		h := sha256.Sum256(msg)
		ts := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: h[:], Time: gen, Policy: asn1.ObjectIdentifier{1, 2, 3}}
		resp, err := ts.CreateResponseWithOpts(a.cert, a.key, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := timestamp.ParseResponse(resp)
		return Timestamp{Kind: TimestampRFC3161, TSA: "TSA A", GenTime: FormatTime(gen), Token: tok.RawToken}
	}()
	bad := func(f func(*Timestamp)) Receipt {
		ts := a.entry(t, msg, gen)
		f(&ts)
		return one(ts)
	}
	withRoots := func(r block.TrustRoots, pem ...string) block.TrustRoots { r.TSARoots = pem; return r }
	tests := []struct {
		desc  string
		rc    Receipt
		roots block.TrustRoots
		field string
		want  error
	}{
		{"a token over another block", one(a.entry(t, otherMsg, gen)), roots, "timestamps.0.token", ErrTimestampImprint},
		{"a token from an untrusted TSA", one(forged.entry(t, msg, gen)), roots, "timestamps.0.token", ErrTimestampUntrusted},
		{"trust roots without TSA roots", good, withRoots(roots), "timestamps.0.token", ErrTimestampUntrusted},
		{"a broken chain: the trusted root's name, another key", one(broken.entry(t, msg, gen)), roots, "timestamps.0.token", ErrTimestampChain},
		{"a TSA certificate not yet valid at gen_time", one(late.entry(t, msg, gen)), roots, "timestamps.0.token", ErrTimestampChain},
		{"no extended key usage", one(ca.issue(t, "TSA E", tsaOpts{noEKU: true}).entry(t, msg, gen)), roots, "timestamps.0.token", ErrTimestampEKU},
		{"a non-critical extended key usage", one(ca.issue(t, "TSA F", tsaOpts{nonCritical: true}).entry(t, msg, gen)), roots, "timestamps.0.token", ErrTimestampEKU},
		{"gen_time an hour before the ledger time", one(a.entry(t, msg, ledger.Add(-time.Hour))), roots, "timestamps.0.gen_time", ErrTimestampTime},
		{"a token without its certificate (no certReq)", one(noCert), roots, "timestamps.0.token", ErrTimestampToken},
		{"garbage token", bad(func(ts *Timestamp) { ts.Token = []byte{0x30, 0x03, 1, 2, 3} }), roots, "timestamps.0.token", ErrTimestampToken},
		{"a flipped byte in the token's TSTInfo", bad(func(ts *Timestamp) { ts.Token[len(ts.Token)/3] ^= 1 }), roots, "timestamps.0.token", ErrTimestampToken},
		{"another kind", bad(func(ts *Timestamp) { ts.Kind = "rfc3161-sm2" }), roots, "timestamps.0.kind", ErrTimestampKind},
		{"the same token twice", stamped(rc, a.entry(t, msg, gen), good.Timestamps[0], good.Timestamps[0]), roots, "timestamps.2.token", ErrTimestamps},
		{"timestamps under the plain time_source", func() Receipt { r := good; r.TimeSource = TimeSourceNode; return r }(), roots, "timestamps", ErrTimestamps},
		{"the stamped time_source without timestamps", func() Receipt { r := rc; r.TimeSource = TimeSourceNodeStamped; return r }(), roots, "time_source", ErrTimeSource},
		{"the Fabric stamped text on an embedded receipt", func() Receipt { r := good; r.TimeSource = TimeSourceFabricStamped; return r }(), roots, "time_source", ErrTimeSource},
	}
	for _, tc := range tests {
		_, err := VerifyReceipt(tc.rc, tc.roots)
		var re *ReceiptError
		if !errors.As(err, &re) || re.Field != tc.field || !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want field %s: %v", tc.desc, err, tc.field, tc.want)
		}
	}
	// Fields that repeat the token must say what it says.
	for _, tc := range []struct {
		desc, field string
		f           func(*Timestamp)
	}{
		{"tsa names another authority", "timestamps.0.tsa", func(ts *Timestamp) { ts.TSA = "TSA B" }},
		{"gen_time differs from the token's", "timestamps.0.gen_time", func(ts *Timestamp) { ts.GenTime = FormatTime(gen.Add(time.Second)) }},
	} {
		_, err := VerifyReceipt(bad(tc.f), roots)
		var re *ReceiptError
		if !errors.As(err, &re) || re.Field != tc.field {
			t.Errorf("%s: %v, want field %s", tc.desc, err, tc.field)
		}
	}
	if len(TimeSourceNodeStamped) == 0 || !strings.HasPrefix(TimeSourceNodePending, TimeSourceNode) {
		t.Error("time_source texts")
	}
}

func TestFabricTimestamps(t *testing.T) {
	raw, rcs, froots := golden(t)
	rc := rcs[0]
	rc.Proof.Block = raw
	ledger, _ := time.Parse(time.RFC3339Nano, rc.LedgerTime)
	ca := newTestCA(t, "Fabric TSA Root")
	tsa := ca.issue(t, "TSA", tsaOpts{})
	froots.TSARoots = []string{ca.pem()}
	msg := FabricStampMessage(rc.TxID, rc.Proof.BatchRoot)
	good := stamped(rc, tsa.entry(t, msg, ledger.Add(time.Second)))
	if good.TimeSource != TimeSourceFabricStamped {
		t.Fatalf("time_source %q", good.TimeSource)
	}
	if _, err := VerifyReceipt(good, froots); err != nil {
		t.Fatal(err)
	}
	// Checked against a separately held block, as a package is.
	if _, err := VerifyFabricBlock(good.WithoutBlock(), raw, froots); err != nil {
		t.Fatal(err)
	}
	// A token over the embedded message of the same hash bytes is not one
	// over this transaction.
	wrong := stamped(rc, tsa.entry(t, EmbeddedStampMessage(rc.Proof.BatchRoot), ledger.Add(time.Second)))
	if _, err := VerifyReceipt(wrong, froots); !errors.Is(err, ErrTimestampImprint) {
		t.Errorf("embedded message on a Fabric receipt: %v", err)
	}
	if _, err := VerifyReceipt(rc.WithTimestamps(nil, true), froots); err != nil {
		t.Errorf("pending: %v", err)
	}
}

func TestTrustRootsTSA(t *testing.T) {
	ca := newTestCA(t, "R")
	_, _, roots, _ := sealedBlock(t, 1, 0)
	roots.TSARoots = []string{ca.pem()}
	if err := roots.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"x" + ca.pem(), ca.pem() + ca.pem(), strings.Replace(ca.pem(), "CERTIFICATE", "PUBLIC KEY", 2)} {
		roots.TSARoots = []string{bad}
		if err := roots.Validate(); !errors.Is(err, block.ErrTrustRoots) {
			t.Errorf("%.30q: %v", bad, err)
		}
	}
}

// FuzzParseToken: any bytes are refused or read, within the size bound,
// without a panic; a token that parses verifies or fails with a named
// reason against a root.
func FuzzParseToken(f *testing.F) {
	ca := newTestCA(&testing.T{}, "Fuzz Root")
	tsa := ca.issue(&testing.T{}, "Fuzz TSA", tsaOpts{})
	roots, err := ParseTSARoots([]string{ca.pem()})
	if err != nil {
		f.Fatal(err)
	}
	msg := []byte("evidence-node/timestamp/v1\nembedded\n00\n")
	f.Add(tsa.stamp(&testing.T{}, msg, time.Now().Add(-time.Hour)))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		tok, err := VerifyToken(der, msg, roots)
		if err == nil && tok == nil {
			t.Fatal("no token and no error")
		}
		if err != nil && !errors.Is(err, ErrTimestampToken) && !errors.Is(err, ErrTimestampImprint) && !errors.Is(err, ErrTimestampEKU) &&
			!errors.Is(err, ErrTimestampUntrusted) && !errors.Is(err, ErrTimestampChain) {
			t.Fatalf("unnamed failure: %v", err)
		}
	})
}
