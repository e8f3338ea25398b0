package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/node/tsa"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
	"github.com/evidence-node/evidence-node/verifier/logproof"
	"github.com/evidence-node/evidence-node/verifier/strict"
	"github.com/evidence-node/evidence-node/web/client"
)

// packageCommand runs "verify-package" and "package" and returns the exit
// code.
func packageCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if args[0] == "package" {
		return exitCode(cmdPackage(ctx, args[1:], stdout, stderr), stderr)
	}
	pass, err := cmdVerifyPackage(args[1:], stdout, stderr)
	if err == nil && !pass {
		return ExitFailed
	}
	return exitCode(err, stderr)
}

// cmdVerifyPackage checks an evidence package offline: no network at all.
func cmdVerifyPackage(args []string, stdout, stderr io.Writer) (bool, error) {
	fs := flag.NewFlagSet("verify-package", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("file", "", "the original file, to compare its digest with the record")
	text := fs.String("text", "", "the original text (its exact UTF-8 bytes)")
	digest := fs.String("digest", "", "the original's digest (hex or base64)")
	alg := fs.String("algorithm", "", "algorithm of --digest: sha256 (default) or sm3")
	trust := fs.String("trust", "", "trust roots obtained independently (trust-roots.json, or the JSON of GET /api/v1/ledger); default: the package's own")
	tsaRoots := fs.String("tsa-roots", "", "PEM file of the time-stamping authorities' root certificates obtained independently: the trusted timestamps are checked against them (default: the tsa_roots of the trust roots in use)")
	var witnessKeys multiFlag
	fs.Var(&witnessKeys, "witness-key", "cosignature/v1 verifier key of a transparency-log witness you trust (repeatable): the receipt's checkpoint must be cosigned by --witness-quorum of them (default: the witnesses the trust roots list, none required)")
	quorum := fs.Int("witness-quorum", 1, "with --witness-key: how many of those witnesses must have cosigned")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: evidencectl verify-package PACKAGE.pdf [--file ORIGINAL | --text T | --digest HEX [--algorithm sm3]] [--trust ROOTS.json] [--tsa-roots TSA-ROOTS.pem] [--witness-key KEY]… [--witness-quorum N] [--json]")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return false, err
	}
	if len(pos) != 1 {
		return false, usagef("verify-package: want one PACKAGE.pdf")
	}
	given := 0
	for _, name := range []string{"file", "text", "digest"} {
		if flagSet(fs, name) {
			given++
		}
	}
	if given > 1 {
		return false, usagef("verify-package: give at most one of --file, --text, --digest")
	}
	if *alg != "" && *digest == "" {
		return false, usagef("verify-package: --algorithm goes with --digest")
	}
	var o evpkg.Options
	switch {
	case flagSet(fs, "file"):
		f, err := os.Open(*file)
		if err != nil {
			return false, usagef("verify-package: %v", err)
		}
		o.Digests, _, err = evidence.HashReader(f, evidence.SHA256, evidence.SM3)
		f.Close()
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", *file, err)
		}
	case flagSet(fs, "text"):
		o.Digests = []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(*text)), evidence.Sum(evidence.SM3, []byte(*text))}
	case flagSet(fs, "digest"):
		a, err := evidence.ParseAlgorithm(*alg)
		if err != nil {
			return false, usagef("verify-package: %v", err)
		}
		d, err := evidence.ParseDigest(a, *digest)
		if err != nil {
			return false, usagef("verify-package: %v", err)
		}
		o.Digests = []evidence.Digest{d}
	}
	if *trust != "" {
		roots, err := readRoots(*trust)
		if err != nil {
			return false, usagef("verify-package: --trust %s: %v", *trust, err)
		}
		o.TrustRoots = &roots
	}
	if *tsaRoots != "" {
		b, err := os.ReadFile(*tsaRoots)
		if err != nil {
			return false, usagef("verify-package: --tsa-roots: %v", err)
		}
		if o.TSARoots, err = tsa.ParseRoots(b); err != nil {
			return false, usagef("verify-package: --tsa-roots %s: %v", *tsaRoots, err)
		}
	}
	if len(witnessKeys) > 0 {
		for _, k := range witnessKeys {
			if _, err := logproof.ParseWitnessKey(k); err != nil {
				return false, usagef("verify-package: --witness-key: %v", err)
			}
		}
		if *quorum < 1 || *quorum > len(witnessKeys) {
			return false, usagef("verify-package: --witness-quorum %d: want 1 to %d (the --witness-key count)", *quorum, len(witnessKeys))
		}
		o.WitnessKeys, o.WitnessQuorum = witnessKeys, *quorum
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return false, usagef("verify-package: %v", err)
	}
	o.Document = data
	m := map[string][]byte{}
	if files, err := pdf.ExtractAttachments(bytes.NewReader(data)); err != nil {
		// Not a PDF, or its attachments cannot be read: fail with the reason.
		o.Unreadable = fmt.Errorf("%s is not a readable evidence package: %v", pos[0], err)
	} else {
		for _, f := range files {
			m[f.Name] = f.Data
		}
	}
	r := evpkg.Verify(m, o)
	r.Fingerprint = evpkg.Digest(data)

	if *asJSON {
		return r.Pass(), printJSON(stdout, r)
	}
	id := r.ID
	if id == "" {
		id = "?"
	}
	fmt.Fprintf(stdout, "evidence package %s: evidence %s: %s\n", pos[0], id, strings.ToUpper(r.Verdict))
	checks := r.Checks
	if r.Document != nil {
		checks = append([]verifier.Check{*r.Document}, checks...)
	}
	for _, ch := range checks {
		mark := "FAIL"
		switch {
		case ch.Skipped:
			mark = "skip"
		case ch.Pass:
			mark = "pass"
		}
		fmt.Fprintf(stdout, "  [%s] %-15s %s\n", mark, ch.Name, ch.Reason)
	}
	if rc := r.Receipt; rc != nil {
		fmt.Fprintf(stdout, "  ledger %s, block %d, hash %s, time %s\n", rc.Ledger, rc.BlockNumber, rc.BlockHash, rc.LedgerTime)
		switch intact := len(r.Checks) == 3 && r.Checks[2].Pass; {
		case !intact:
			// The receipt's claims are not vouched for: no time is shown.
		case rc.TrustedTime() == verifier.TrustedStamped:
			for _, ts := range rc.Timestamps {
				fmt.Fprintf(stdout, "  trusted time %s (RFC 3161, %s)\n", ts.GenTime, ts.TSA)
			}
		case rc.TrustedTime() == verifier.TrustedPending:
			fmt.Fprintln(stdout, "  trusted time: pending (no RFC 3161 timestamp had arrived when the package was made)")
		}
		if li := r.Log; li != nil {
			var names []string
			for _, c := range li.Checkpoint.Cosignatures {
				names = append(names, c.Name)
			}
			fmt.Fprintf(stdout, "  transparency log %s: record %d of a checkpoint of %d, cosigned by %d witness(es) %s\n",
				li.Checkpoint.Origin, li.Index, li.Checkpoint.Size, len(names), strings.Join(names, ", "))
		}
	}
	if o.TrustRoots != nil {
		fmt.Fprintf(stdout, "  trust roots: pinned (%s)", *trust)
		if r.RootsDiffer {
			fmt.Fprint(stdout, "; the package's own trust roots differ from them")
		}
		fmt.Fprintln(stdout)
	} else {
		fmt.Fprintln(stdout, "  trust roots: the package's own; pin roots obtained independently with --trust to know who signed")
	}
	if o.TSARoots != nil {
		fmt.Fprintf(stdout, "  TSA roots: pinned (%s)\n", *tsaRoots)
	}
	if r.ManifestDigest != "" {
		fmt.Fprintf(stdout, "  manifest.json SHA-256 (printed on the certificate): %s\n", r.ManifestDigest)
	}
	fmt.Fprintf(stdout, "  package fingerprint (证据数字指纹, SHA-256 of the file): %s\n", r.Fingerprint)
	return r.Pass(), nil
}

// readRoots reads trust roots: a block.TrustRoots document, or the node's
// GET /api/v1/ledger answer that holds one under "trust_roots"; the roots
// themselves are read strictly (block.ParseTrustRoots).
func readRoots(path string) (block.TrustRoots, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return block.TrustRoots{}, err
	}
	var probe map[string]json.RawMessage
	if err := strict.Decode(b, &probe); err != nil {
		return block.TrustRoots{}, err
	}
	if inner, ok := probe["trust_roots"]; ok {
		b = inner
	}
	roots, err := block.ParseTrustRoots(b)
	if err != nil {
		return block.TrustRoots{}, err
	}
	if len(roots.Keys) == 0 && roots.Fabric == nil {
		return block.TrustRoots{}, fmt.Errorf("no keys and no Fabric organisations: not trust roots")
	}
	return roots, nil
}

// cmdPackage downloads an evidence package (or the certificate alone) from
// a node and checks that the file has the fingerprint the node announced.
func cmdPackage(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf nodeFlags
	nf.add(fs)
	out := fs.String("o", "", "output file (default evidence-package-ID.pdf, or certificate-ID.pdf)")
	certOnly := fs.Bool("certificate", false, "download the certificate alone, without attachments")
	original := fs.String("original", "", "embed this original evidence file, unchanged, in the package (the node checks it has the recorded digest)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("package: want one evidence ID")
	}
	id, err := evidence.ParseID(pos[0])
	if err != nil {
		return idError(err)
	}
	name := "evidence-package-" + id.String() + ".pdf"
	if *certOnly {
		name = "certificate-" + id.String() + ".pdf"
	}
	if *out == "" {
		*out = name
	}
	if *original != "" && *certOnly {
		return usagef("package: --original goes with the package, not --certificate")
	}
	c := nf.client()
	var d client.Document
	if *certOnly {
		d, err = c.Certificate(ctx, id.String())
	} else {
		d, err = c.Package(ctx, id.String(), *original)
	}
	if pe := (*client.PendingError)(nil); errors.As(err, &pe) {
		return &client.APIError{Status: 202, Code: "pending",
			Message: id.String() + " is durably queued in the node but not on the ledger yet: retry in a moment", MessageZH: "该存证已受理，尚未上链，请稍后重试"}
	}
	if err != nil {
		return wrapNode(err)
	}
	body, fp := d.PDF, d.Fingerprint
	if err := os.WriteFile(*out, body, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes\n", *out, len(body))
	fmt.Fprintf(stdout, "fingerprint (证据数字指纹, SHA-256): %s\n", fp)
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
