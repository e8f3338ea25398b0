package evpkg

import (
	"bytes"
	"crypto/elliptic"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// firstError is the first error a strict reader meets in a package: the
// manifest and attachments (Parse), every block on its own, the receipt.
func firstError(files map[string][]byte) error {
	p, err := Parse(files)
	if err != nil {
		return err
	}
	for _, b := range p.Blocks {
		eb, err := block.ParseEmbedded(b.Raw)
		if err != nil {
			return err
		}
		if err := eb.Verify(p.TrustRoots); err != nil {
			return err
		}
	}
	_, err = verifier.VerifyReceipt(p.Receipt, p.TrustRoots)
	return err
}

// replaceIn replaces the first old with new in attachment name; it fails
// the test when old is not there (the case would test nothing).
func replaceIn(t *testing.T, files map[string][]byte, name, old, new string) {
	t.Helper()
	if !bytes.Contains(files[name], []byte(old)) {
		t.Fatalf("%s holds no %q", name, old)
	}
	files[name] = bytes.Replace(files[name], []byte(old), []byte(new), 1)
}

// nonZeroPadding returns s, canonical base64 with padding, with its
// padding bits set: the same bytes to a lenient decoder.
func nonZeroPadding(t *testing.T, s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	i := strings.IndexByte(s, '=') - 1
	if i < 0 {
		t.Fatalf("%q has no padding", s)
	}
	v := strings.IndexByte(alphabet, s[i])
	out := s[:i] + string(alphabet[v|1]) + s[i+1:]
	b1, _ := base64.StdEncoding.DecodeString(s)
	b2, err := base64.StdEncoding.DecodeString(out)
	if err != nil || !bytes.Equal(b1, b2) {
		t.Fatalf("%q and %q decode differently", s, out)
	}
	return out
}

func highS(t *testing.T, sig []byte) []byte {
	var v struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &v); err != nil {
		t.Fatal(err)
	}
	v.S = new(big.Int).Sub(elliptic.P256().Params().N, v.S)
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStrictReaders: one case per leniency found in issue 9 — each a
// package a lenient reader (or a reader that leaves a field unchecked)
// accepts, the manifest recomputed as a forger would. Each must fail
// proof_intact with its named reason, and the reason must be told.
func TestStrictReaders(t *testing.T) {
	l := newLedger(t, "evidence-local")
	l.add(t, "contract one")
	l.add(t, "contract two", "contract three", "contract four")
	rc := l.receipt(1, 1)
	b64 := base64.StdEncoding.EncodeToString
	num := strconv.FormatUint(rc.BlockNumber, 10)

	tests := []struct {
		desc   string
		tamper func(f map[string][]byte)
		want   error
		field  string // the receipt field named, for a *verifier.ReceiptError
		relist bool   // recompute the manifest after tampering
	}{
		{desc: "receipt key in another case (Block_Hash)", relist: true, want: strict.ErrUnknownName, field: "Block_Hash",
			tamper: func(f map[string][]byte) { replaceIn(t, f, ReceiptName, `"block_hash"`, `"Block_Hash"`) }},
		{desc: "manifest key in another case (SHA256)", want: strict.ErrUnknownName,
			tamper: func(f map[string][]byte) { replaceIn(t, f, ManifestName, `"sha256"`, `"SHA256"`) }},
		{desc: "block key in another case (Records)", relist: true, want: strict.ErrUnknownName,
			tamper: func(f map[string][]byte) { replaceIn(t, f, "block-1.json", `"records"`, `"Records"`) }},
		{desc: "block_number 12 then BLOCK_NUMBER (a case-folding reader takes the last)", relist: true, want: strict.ErrUnknownName, field: "BLOCK_NUMBER",
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, ReceiptName, `"block_number": `+num, `"block_number": 12, "BLOCK_NUMBER": `+num)
			}},
		{desc: "duplicate key (block_number twice, last wins)", relist: true, want: strict.ErrDuplicateName, field: "block_number",
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, ReceiptName, `"block_number": `+num, `"block_number": 11, "block_number": `+num)
			}},
		{desc: "trailing data after a block", relist: true, want: strict.ErrTrailing,
			tamper: func(f map[string][]byte) { f["block-1.json"] = append(f["block-1.json"], []byte(`{"v":1}`)...) }},
		{desc: "unknown field inside a block's header", relist: true, want: strict.ErrUnknownName,
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, "block-1.json", `"previous_hash"`, `"time":"x","previous_hash"`)
			}},
		{desc: "unknown field inside the receipt's proof.header", relist: true, want: strict.ErrUnknownName, field: "proof.header.time",
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, ReceiptName, `"previous_hash"`, `"time":"x","previous_hash"`)
			}},
		{desc: "kind and number on a non-block entry", want: ErrBlockOnly,
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, ManifestName, `"role": "receipt",`, `"role": "receipt", "kind": "embedded", "number": 1,`)
			}},
		{desc: "upper-case hex in a block header", relist: true, want: strict.ErrHex,
			tamper: func(f map[string][]byte) {
				h := l.blocks[1].Header.DataHash
				replaceIn(t, f, "block-1.json", hex.EncodeToString(h), strings.ToUpper(hex.EncodeToString(h)))
			}},
		{desc: "upper-case hex in the receipt's block_hash", relist: true, want: strict.ErrHex, field: "block_hash",
			tamper: func(f map[string][]byte) { replaceIn(t, f, ReceiptName, rc.BlockHash, strings.ToUpper(rc.BlockHash)) }},
		{desc: "upper-case hex in the manifest", want: strict.ErrHex,
			tamper: func(f map[string][]byte) {
				d := Digest(f[ReceiptName])
				replaceIn(t, f, ManifestName, d, strings.ToUpper(d))
			}},
		{desc: "base64 with non-zero padding bits (proof.batch_root)", relist: true, want: strict.ErrBase64, field: "proof.batch_root",
			tamper: func(f map[string][]byte) {
				s := b64(rc.Proof.BatchRoot)
				replaceIn(t, f, ReceiptName, `"`+s+`"`, `"`+nonZeroPadding(t, s)+`"`)
			}},
		{desc: "base64 with an embedded newline (proof.record)", relist: true, want: strict.ErrBase64, field: "proof.record",
			tamper: func(f map[string][]byte) {
				s := b64(rc.Proof.Record)
				replaceIn(t, f, ReceiptName, `"`+s+`"`, `"`+s[:20]+`\n`+s[20:]+`"`)
			}},
		{desc: "base64 with non-zero padding bits (a block's record)", relist: true, want: strict.ErrBase64,
			tamper: func(f map[string][]byte) {
				s := b64(l.blocks[1].Records[0])
				if !strings.Contains(s, "=") {
					s = b64(l.blocks[1].Records[1])
				}
				replaceIn(t, f, "block-1.json", `"`+s+`"`, `"`+nonZeroPadding(t, s)+`"`)
			}},
		{desc: "high-S seal", relist: true, want: block.ErrHighS,
			tamper: func(f map[string][]byte) {
				sig := l.blocks[1].Seal.Signature
				replaceIn(t, f, "block-1.json", b64(sig), b64(highS(t, sig)))
				replaceIn(t, f, ReceiptName, b64(sig), b64(highS(t, sig)))
			}},
		{desc: "PEM with leading text in the trust roots", relist: true, want: strict.ErrPEM,
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, TrustRootsName, `"-----BEGIN PUBLIC KEY`, `"node key of evidence-local\n-----BEGIN PUBLIC KEY`)
			}},
		{desc: "time_source changed to a trusted timestamp", relist: true, want: verifier.ErrTimeSource, field: "time_source",
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, ReceiptName, verifier.TimeSourceNode, "an RFC 3161 trusted timestamp from a qualified TSA")
			}},
		{desc: "ledger_kind fabric with an embedded/v1 proof", relist: true, want: verifier.ErrLedgerKind, field: "ledger_kind",
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, ReceiptName, `"ledger_kind": "embedded"`, `"ledger_kind": "fabric"`)
				replaceIn(t, f, ManifestName, `"ledger_kind": "embedded"`, `"ledger_kind": "fabric"`)
			}},
		{desc: "arbitrary timestamps", relist: true, want: verifier.ErrTimestamps, field: "timestamps",
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, ReceiptName, `"proof": {`, `"timestamps": [{"kind": "rfc3161", "token": "AAAA"}], "proof": {`)
			}},
		{desc: "proof.block on an embedded proof", relist: true, want: verifier.ErrNotInProof, field: "proof.block",
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, ReceiptName, `"kind": "embedded/v1",`, `"kind": "embedded/v1", "block": "CgE=",`)
			}},
		{desc: "manifest ledger differs from the receipt's", want: ErrManifest,
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, ManifestName, `"ledger": "evidence-local"`, `"ledger": "evidence-court"`)
			}},
		{desc: "invalid UTF-8 in the receipt", relist: true, want: strict.ErrInvalidUTF8,
			tamper: func(f map[string][]byte) {
				replaceIn(t, f, ReceiptName, `"platform": "acme"`, "\"platform\": \"ac\xffme\"")
			}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			files := l.build(t, 1, 1)
			if err := firstError(files); err != nil {
				t.Fatalf("the untampered package: %v", err)
			}
			tc.tamper(files)
			if tc.relist {
				relist(t, files, nil)
			}
			err := firstError(files)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var re *verifier.ReceiptError
			if tc.field != "" && (!errors.As(err, &re) || re.Field != tc.field) {
				t.Fatalf("%v does not name receipt field %q", err, tc.field)
			}
			r := Verify(files, Options{})
			if r.Pass() {
				t.Fatal("the package verifies")
			}
			c := check(t, r, verifier.CheckProofIntact)
			if c.Pass || !strings.Contains(c.Reason, tc.want.Error()) {
				t.Fatalf("proof_intact %v: %q does not tell %q", c.Pass, c.Reason, tc.want)
			}
		})
	}
}
