package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// Names of the vectors files, in the order they are checked.
var fileNames = []string{"ids.json", "records.json", "headers.json", "seals.json", "receipts.json", "packages.json", "tlog.json"}

// CheckDir runs every case of the vectors in dir through the reference
// verifier and returns how many cases there were and a line for each one
// that does not pass or fail as labelled.
func CheckDir(dir string) (int, []string, error) {
	n := 0
	var fails []string
	for _, name := range fileNames {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return n, fails, err
		}
		var cases int
		var fs []string
		switch name {
		case "ids.json":
			cases, fs, err = checkFile(b, checkID)
		case "records.json":
			cases, fs, err = checkFile(b, checkRecord)
		case "headers.json":
			cases, fs, err = checkFile(b, checkHeader)
		case "seals.json":
			cases, fs, err = checkFile(b, checkSeal)
		case "receipts.json":
			cases, fs, err = checkFile(b, checkReceipt)
		case "packages.json":
			cases, fs, err = checkFile(b, checkPackage)
		case "tlog.json":
			cases, fs, err = checkFile(b, checkTlog)
		}
		if err != nil {
			return n, fails, fmt.Errorf("%s: %w", name, err)
		}
		if cases == 0 {
			return n, fails, fmt.Errorf("%s: no cases", name)
		}
		n += cases
		for _, f := range fs {
			fails = append(fails, name+": "+f)
		}
	}
	return n, fails, nil
}

func checkFile[C any](b []byte, check func(C) error) (int, []string, error) {
	var f File[C]
	if err := strict.Decode(b, &f); err != nil {
		return 0, nil, err
	}
	var fails []string
	for i, c := range f.Cases {
		if err := check(c); err != nil {
			fails = append(fails, fmt.Sprintf("case %d: %v", i, err))
		}
	}
	return len(f.Cases), fails, nil
}

// outcome compares an error with what a case says: valid, or refused for
// reason.
func outcome(desc string, valid bool, reason string, err error) error {
	switch {
	case valid && err != nil:
		return fmt.Errorf("%s: refused (%v), want it accepted", desc, err)
	case !valid && err == nil:
		return fmt.Errorf("%s: accepted, want it refused (%s)", desc, reason)
	case !valid && reasonOf(err) != reason:
		return fmt.Errorf("%s: refused for %s (%v), want %s", desc, reasonOf(err), err, reason)
	}
	return nil
}

func checkID(c IDCase) error {
	id, err := evidence.ParseID(c.Input)
	if e := outcome(c.Desc, c.Valid, c.Reason, err); e != nil {
		return e
	}
	if c.Valid && id.String() != c.Canonical {
		return fmt.Errorf("%s: canonical %s, want %s", c.Desc, id, c.Canonical)
	}
	return nil
}

func checkRecord(c RecordCase) error {
	r, err := evidence.ParseRecord([]byte(c.Input))
	if e := outcome(c.Desc, c.Valid, c.Reason, err); e != nil {
		return e
	}
	if !c.Valid {
		return nil
	}
	if c.Want == nil || r.Ver() != c.Want.Version || r.ID.String() != c.Want.ID || verifier.EmbeddedTxID([]byte(c.Input)) != c.Want.LeafHash {
		return fmt.Errorf("%s: decoded version %d, ID %s, leaf hash %s; want %+v", c.Desc, r.Ver(), r.ID, verifier.EmbeddedTxID([]byte(c.Input)), c.Want)
	}
	if c.Metadata != "" {
		salt, err := hex.DecodeString(c.Salt)
		if err != nil {
			return fmt.Errorf("%s: salt: %v", c.Desc, err)
		}
		if err := r.CheckMetadata(salt, []byte(c.Metadata)); err != nil {
			return fmt.Errorf("%s: %v", c.Desc, err)
		}
	}
	return nil
}

func checkHeader(c HeaderCase) error {
	var h block.Header
	err := strict.Decode([]byte(c.Input), &h)
	if e := outcome(c.Desc, c.Valid, c.Reason, err); e != nil {
		return e
	}
	if c.Valid && (c.Want == nil || h.Number != c.Want.Number || hex.EncodeToString(h.Bytes()) != c.Want.DER || hex.EncodeToString(h.Hash()) != c.Want.Hash) {
		return fmt.Errorf("%s: number %d, DER %x, hash %x; want %+v", c.Desc, h.Number, h.Bytes(), h.Hash(), c.Want)
	}
	return nil
}

func checkSeal(c SealCase) error {
	err := func() error {
		var h block.Header
		if err := strict.Decode([]byte(c.Header), &h); err != nil {
			return err
		}
		var s block.Seal
		if err := strict.Decode([]byte(c.Seal), &s); err != nil {
			return err
		}
		roots, err := block.ParseTrustRoots([]byte(c.TrustRoots))
		if err != nil {
			return err
		}
		if c.Want != nil && string(s.SignedBytes()) != c.Want.Signed {
			return fmt.Errorf("signed text %q, want %q", s.SignedBytes(), c.Want.Signed)
		}
		return s.Verify(h, roots)
	}()
	return outcome(c.Desc, c.Valid, c.Reason, err)
}

func checkReceipt(c ReceiptCase) error {
	var field string
	err := func() error {
		rc, err := verifier.ParseReceipt([]byte(c.Receipt))
		if err != nil {
			return err
		}
		roots, err := block.ParseTrustRoots([]byte(c.TrustRoots))
		if err != nil {
			return err
		}
		_, err = verifier.VerifyReceipt(rc, roots)
		return err
	}()
	var re *verifier.ReceiptError
	if errors.As(err, &re) {
		field = re.Field
	}
	reason := ""
	if c.Error != nil {
		reason = c.Error.Reason
	}
	if e := outcome(c.Desc, c.Valid, reason, err); e != nil {
		return e
	}
	if !c.Valid && field != c.Error.Field {
		return fmt.Errorf("%s: refused on field %q (%v), want %q", c.Desc, field, err, c.Error.Field)
	}
	return nil
}

func checkPackage(c PackageCase) error {
	files := map[string][]byte{}
	for _, a := range c.Files {
		if _, dup := files[a.Name]; dup {
			return fmt.Errorf("%s: two attachments named %s", c.Desc, a.Name)
		}
		switch {
		case a.Text != nil:
			files[a.Name] = []byte(*a.Text)
		default:
			b, err := base64.StdEncoding.DecodeString(a.Base64)
			if err != nil {
				return fmt.Errorf("%s: %s: %v", c.Desc, a.Name, err)
			}
			files[a.Name] = b
		}
	}
	var ds []evidence.Digest
	for _, d := range c.Digests {
		alg, err := evidence.ParseAlgorithm(d.Algorithm)
		if err != nil {
			return err
		}
		v, err := evidence.ParseDigest(alg, d.Hex)
		if err != nil {
			return err
		}
		ds = append(ds, v)
	}
	r := evpkg.Verify(files, evpkg.Options{Digests: ds})
	if r.Verdict != c.Want.Verdict || r.Outcome != c.Want.Outcome || len(r.Checks) != len(c.Want.Checks) {
		return fmt.Errorf("%s: verdict %s, outcome %s; want %s, %s", c.Desc, r.Verdict, r.Outcome, c.Want.Verdict, c.Want.Outcome)
	}
	if (r.Verdict == verifier.VerdictPass) != c.Valid {
		return fmt.Errorf("%s: verdict %s, but the case is labelled valid=%v", c.Desc, r.Verdict, c.Valid)
	}
	for i, ch := range r.Checks {
		w := c.Want.Checks[i]
		if ch.Name != w.Name || ch.Pass != w.Pass || ch.Skipped != w.Skipped {
			return fmt.Errorf("%s: check %s pass=%v skipped=%v (%s); want %+v", c.Desc, ch.Name, ch.Pass, ch.Skipped, ch.Reason, w)
		}
	}
	if c.Error == nil {
		return nil
	}
	for _, ch := range r.Checks {
		if ch.Name != c.Error.Check {
			continue
		}
		if ch.Pass {
			return fmt.Errorf("%s: %s passes, want it to fail", c.Desc, ch.Name)
		}
		if c.Error.Reason == "digest_mismatch" {
			if r.Outcome != verifier.OutcomeMismatch {
				return fmt.Errorf("%s: outcome %s, want %s", c.Desc, r.Outcome, verifier.OutcomeMismatch)
			}
			return nil
		}
		want := reasonErr(c.Error.Reason)
		if want == nil {
			return fmt.Errorf("%s: unknown reason %q", c.Desc, c.Error.Reason)
		}
		if !strings.Contains(ch.Reason, want.Error()) {
			return fmt.Errorf("%s: %s fails with %q, which does not tell %s (%q)", c.Desc, ch.Name, ch.Reason, c.Error.Reason, want)
		}
		return nil
	}
	return fmt.Errorf("%s: no check %s", c.Desc, c.Error.Check)
}
