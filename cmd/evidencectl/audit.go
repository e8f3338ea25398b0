package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/csv"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
	"github.com/evidence-node/evidence-node/web/client"
)

// Audit outcomes of one file.
const (
	auditPass       = "pass"          // the file is the recorded evidence; the record holds
	auditMismatch   = "mismatch"      // the ID's record holds another digest: the file was changed
	auditUnrecorded = "unrecorded"    // no record holds the file's digest
	auditNotFound   = "not_found"     // no record under the ID given
	auditBroken     = "proof_invalid" // the record (or its package) does not verify
	auditError      = "error"         // the file could not be read, or the check could not be made
)

var auditLabels = map[string][2]string{
	auditPass: {"通过", "pass: the recorded evidence"}, auditMismatch: {"内容不一致", "mismatch: changed since recorded"},
	auditUnrecorded: {"未存证", "unrecorded"}, auditNotFound: {"编号无记录", "ID not found"},
	auditBroken: {"记录校验未通过", "record fails its checks"}, auditError: {"无法核验", "could not be checked"},
}

// auditItem is one file to check and, once checked, its result.
type auditItem struct {
	Path    string
	ID      string // given, or found by digest
	Size    int64
	SHA256  string
	SM3     string
	Outcome string
	Reason  string
	digests []evidence.Digest
}

// cmdAudit checks many files at once against a node (by ID, or by digest
// when no ID is given) or, offline, against a folder of evidence
// packages; it writes a CSV of every file and a summary (HTML and a signed
// PDF). It returns whether every file passed.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf nodeFlags
	nf.add(fs)
	list := fs.String("list", "", "a CSV of id,path (the id may be empty: the file is then looked up by its digest); relative paths are from the CSV's folder")
	packages := fs.String("packages", "", "check offline against this folder of evidence packages (*.pdf) instead of a node")
	trust := fs.String("trust", "", "with --packages: trust roots obtained independently (default: each package's own)")
	out := fs.String("out", "audit", "write OUT.csv, OUT.html and OUT.pdf")
	jobs := fs.Int("jobs", 4*runtime.NumCPU(), "files checked at once (hashing here, asking the node)")
	signKey := fs.String("sign-key", "", "PEM PKCS#8 ECDSA P-256 key that signs OUT.pdf (default: a key made for this report, named in it)")
	quiet := fs.Bool("q", false, "no progress on stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: evidencectl audit [PATH…] [--list LIST.csv] [--node URL | --packages DIR [--trust ROOTS]] [--out NAME] [--jobs N]")
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return false, err
	}
	items, err := auditInputs(pos, *list)
	if err != nil {
		return false, usagef("audit: %v", err)
	}
	if len(items) == 0 {
		return false, usagef("audit: no files (give folders or files, or --list)")
	}
	var check func(context.Context, *auditItem)
	var against string
	if *packages != "" {
		var roots *block.TrustRoots
		if *trust != "" {
			r, err := readRoots(*trust)
			if err != nil {
				return false, usagef("audit: --trust %s: %v", *trust, err)
			}
			roots = &r
		}
		ix, err := indexPackages(*packages)
		if err != nil {
			return false, usagef("audit: --packages: %v", err)
		}
		check = func(_ context.Context, it *auditItem) { ix.check(it, roots) }
		against = "evidence packages in " + *packages
	} else {
		c := nf.client()
		check = func(ctx context.Context, it *auditItem) { checkAgainstNode(ctx, c, it) }
		against = nf.url
	}

	start := time.Now()
	prog := newProgress(stderr, "audit", "files", *quiet)
	var doneN atomic.Uint64
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < max(1, *jobs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(items) || ctx.Err() != nil {
					return
				}
				it := &items[i]
				if err := hashItem(it); err != nil {
					it.Outcome, it.Reason = auditError, err.Error()
				} else {
					check(ctx, it)
				}
				prog.update(doneN.Add(1), uint64(len(items)))
			}
		}()
	}
	wg.Wait()
	prog.done()
	if err := ctx.Err(); err != nil {
		return false, err
	}
	took := time.Since(start)
	return writeAuditReports(ctx, *out, against, items, start, took, *signKey, stdout)
}

// auditInputs lists the files: those named (folders walked), and those of
// the list.
func auditInputs(paths []string, list string) ([]auditItem, error) {
	var items []auditItem
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() {
				items = append(items, auditItem{Path: path})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if list != "" {
		f, err := os.Open(list)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		dir := filepath.Dir(list)
		for line := 1; ; line++ {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", list, err)
			}
			if len(rec) != 2 {
				return nil, fmt.Errorf("%s line %d: want id,path", list, line)
			}
			id, path := strings.TrimSpace(rec[0]), strings.TrimSpace(rec[1])
			if line == 1 && strings.EqualFold(id, "id") && strings.EqualFold(path, "path") {
				continue // a header
			}
			if id != "" {
				pid, err := evidence.ParseID(id)
				if err != nil {
					return nil, fmt.Errorf("%s line %d: %v", list, line, err)
				}
				id = pid.String()
			}
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
			items = append(items, auditItem{Path: path, ID: id})
		}
	}
	return items, nil
}

// hashItem hashes a file with both algorithms, streamed.
func hashItem(it *auditItem) error {
	f, err := os.Open(it.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	ds, n, err := evidence.HashReader(f, evidence.SHA256, evidence.SM3)
	if err != nil {
		return err
	}
	it.digests, it.Size, it.SHA256, it.SM3 = ds, n, ds[0].Hex(), ds[1].Hex()
	return nil
}

// checkAgainstNode verifies a file with the node: against its ID, or
// first finds the records holding its digest.
func checkAgainstNode(ctx context.Context, c *client.Client, it *auditItem) {
	if it.ID == "" {
		f, err := c.Lookup(ctx, it.digests[0], 10, "")
		if err == nil && len(f.IDs) == 0 {
			f, err = c.Lookup(ctx, it.digests[1], 10, "") // a record of the SM3 digest alone
		}
		if err != nil {
			it.Outcome, it.Reason = auditError, "looking the digest up: "+err.Error()
			return
		}
		if len(f.IDs) == 0 {
			it.Outcome, it.Reason = auditUnrecorded, "no record on the node holds this file's SHA-256 or SM3 digest"
			return
		}
		it.ID = f.IDs[0]
		if len(f.IDs) > 1 {
			it.Reason = fmt.Sprintf("recorded %d times, first as %s; ", len(f.IDs), it.ID)
		}
	}
	v, err := c.Verify(ctx, it.ID, it.digests[0])
	if err == nil && v.Outcome == verifier.OutcomeMismatch && !v.Checks[0].Pass && strings.Contains(v.Checks[0].Reason, "holds no") {
		v, err = c.Verify(ctx, it.ID, it.digests[1]) // an SM3 record
	}
	if err != nil {
		it.Outcome, it.Reason = auditError, err.Error()
		return
	}
	it.Outcome, it.Reason = judged(v.Outcome), it.Reason+firstFailure(v.Checks)
}

func judged(outcome string) string {
	switch outcome {
	case verifier.OutcomePass:
		return auditPass
	case verifier.OutcomeMismatch:
		return auditMismatch
	case verifier.OutcomeNotFound:
		return auditNotFound
	case verifier.OutcomeBroken:
		return auditBroken
	}
	return auditError
}

// firstFailure is the reason of the first check that failed, or of the
// record's place when all pass.
func firstFailure(cs []verifier.Check) string {
	for _, c := range cs {
		if !c.Pass && !c.Skipped {
			return c.Name + ": " + c.Reason
		}
	}
	if len(cs) > 1 {
		return cs[1].Reason
	}
	return ""
}

// packageIndex is a folder of evidence packages, by record ID and by the
// records' digests.
type packageIndex struct {
	byID     map[string]string   // evidence ID → package path
	byDigest map[string][]string // algorithm:hex → package paths
}

// indexPackages reads every package's attachments (not yet verified: that
// happens per file).
func indexPackages(dir string) (*packageIndex, error) {
	ix := &packageIndex{byID: map[string]string{}, byDigest: map[string][]string{}}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(strings.ToLower(path), ".pdf") {
			return err
		}
		files, err := readPackage(path)
		if err != nil {
			return nil // not a package: it is simply not indexed
		}
		p, err := evpkg.Parse(files)
		if err != nil {
			return nil
		}
		ix.byID[p.Receipt.ID] = path
		for _, dv := range p.Receipt.Digests {
			k := string(dv.Algorithm) + ":" + dv.Hex
			ix.byDigest[k] = append(ix.byDigest[k], path)
		}
		return nil
	})
	return ix, err
}

func readPackage(path string) (map[string][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	files, err := pdf.ExtractAttachments(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	m := make(map[string][]byte, len(files))
	for _, f := range files {
		m[f.Name] = f.Data
	}
	return m, nil
}

// check verifies the file against its package, offline.
func (ix *packageIndex) check(it *auditItem, roots *block.TrustRoots) {
	path := ""
	if it.ID != "" {
		path = ix.byID[it.ID]
		if path == "" {
			it.Outcome, it.Reason = auditNotFound, "no package in the folder is of "+it.ID
			return
		}
	} else {
		for _, d := range it.digests {
			if ps := ix.byDigest[string(d.Algorithm)+":"+d.Hex()]; len(ps) > 0 {
				path = ps[0]
				break
			}
		}
		if path == "" {
			it.Outcome, it.Reason = auditUnrecorded, "no package in the folder records this file's SHA-256 or SM3 digest"
			return
		}
	}
	doc, err := os.ReadFile(path)
	if err != nil {
		it.Outcome, it.Reason = auditError, err.Error()
		return
	}
	files, err := readPackage(path)
	o := evpkg.Options{Digests: it.digests, TrustRoots: roots, Document: doc}
	if err != nil {
		o.Unreadable = err
	}
	r := evpkg.Verify(files, o)
	it.ID = r.ID
	it.Outcome = judged(r.Outcome)
	checks := r.Checks
	if r.Document != nil {
		checks = append([]verifier.Check{*r.Document}, checks...)
	}
	it.Reason = filepath.Base(path) + ": " + firstFailure(checks)
}

// writeAuditReports writes OUT.csv, OUT.html and OUT.pdf (signed) and
// prints the counts; it reports whether every file passed.
func writeAuditReports(ctx context.Context, out, against string, items []auditItem, at time.Time, took time.Duration, signKey string, stdout io.Writer) (bool, error) {
	var csvBuf bytes.Buffer
	w := csv.NewWriter(&csvBuf)
	w.Write([]string{"path", "size", "sha256", "sm3", "id", "outcome", "reason"})
	counts := map[string]int{}
	var bytesIn int64
	var failures []pdf.AuditFailure
	for _, it := range items {
		w.Write([]string{it.Path, fmt.Sprint(it.Size), it.SHA256, it.SM3, it.ID, it.Outcome, it.Reason})
		counts[it.Outcome]++
		bytesIn += it.Size
		if it.Outcome != auditPass {
			failures = append(failures, pdf.AuditFailure{Path: it.Path, ID: it.ID, Outcome: auditLabels[it.Outcome][0] + " " + it.Outcome, Reason: it.Reason})
		}
	}
	w.Flush()
	if err := os.WriteFile(out+".csv", csvBuf.Bytes(), 0o644); err != nil {
		return false, err
	}
	sum := sha256.Sum256(csvBuf.Bytes())
	s := pdf.AuditSummary{Against: against, At: at, Took: took, Files: len(items), Bytes: bytesIn, Failures: failures, CSVDigest: hex.EncodeToString(sum[:])}
	for _, o := range []string{auditPass, auditMismatch, auditUnrecorded, auditNotFound, auditBroken, auditError} {
		if counts[o] > 0 || o == auditPass {
			s.Counts = append(s.Counts, pdf.AuditCount{Outcome: o, ZH: auditLabels[o][0], EN: auditLabels[o][1], N: counts[o]})
		}
	}
	if err := writeAuditHTML(out+".html", s); err != nil {
		return false, err
	}
	signer, err := auditSigner(signKey)
	if err != nil {
		return false, usagef("audit: --sign-key: %v", err)
	}
	pdfNote := ""
	if r, err := pdf.New(pdf.Config{Dir: filepath.Join(os.TempDir(), fmt.Sprintf("evidencectl-pdf-%d", os.Getuid()))}); err != nil {
		pdfNote = fmt.Sprintf(" (no PDF: %v)", err)
	} else if doc, err := r.Audit(ctx, s); err != nil {
		pdfNote = fmt.Sprintf(" (no PDF: %v)", err)
	} else if doc, err = pdf.Sign(doc, signer); err != nil {
		pdfNote = fmt.Sprintf(" (no PDF: signing: %v)", err)
	} else if err := os.WriteFile(out+".pdf", doc, 0o644); err != nil {
		return false, err
	} else {
		id, _ := block.KeyID(signer.Chain[0].PublicKey)
		pdfNote = ", " + out + ".pdf (signed by key " + id + ")"
	}
	fmt.Fprintf(stdout, "audited %d files (%s) against %s in %v: %.0f files/s\n", len(items), humanBytes(bytesIn), against, took.Round(time.Millisecond), float64(len(items))/took.Seconds())
	for _, c := range s.Counts {
		fmt.Fprintf(stdout, "  %-14s %d\n", c.Outcome, c.N)
	}
	fmt.Fprintf(stdout, "report: %s.csv (SHA-256 %s), %s.html%s\n", out, s.CSVDigest, out, pdfNote)
	return len(failures) == 0, nil
}

// auditSigner is the key that signs the PDF summary: the auditor's, or one
// made for this report (its ID printed in the report and on the terminal).
func auditSigner(path string) (pdf.Signer, error) {
	var key *ecdsa.PrivateKey
	if path == "" {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return pdf.Signer{}, err
		}
		key = k
	} else {
		b, err := os.ReadFile(path)
		if err != nil {
			return pdf.Signer{}, err
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return pdf.Signer{}, errors.New("no PEM block")
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return pdf.Signer{}, err
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok || ec.Curve != elliptic.P256() {
			return pdf.Signer{}, errors.New("not an ECDSA P-256 key")
		}
		key = ec
	}
	id, err := block.KeyID(&key.PublicKey)
	if err != nil {
		return pdf.Signer{}, err
	}
	cert, err := pdf.SelfSigned(key, "evidencectl audit "+id, time.Now())
	if err != nil {
		return pdf.Signer{}, err
	}
	return pdf.Signer{Key: key, Chain: []*x509.Certificate{cert}, Name: cert.Subject.CommonName, Reason: "审计报告 / audit report"}, nil
}

var auditHTML = template.Must(template.New("audit").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>审计报告 Audit report</title>
<style>body{font:14px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}table{border-collapse:collapse;width:100%}td,th{border:1px solid #999;padding:.2em .5em;text-align:left;vertical-align:top}code{font-size:12px;word-break:break-all}.fail{color:#b00}</style></head>
<body><h1>审计报告 <small>Audit report</small></h1>
<p>核验对象 Checked against: <code>{{.Against}}</code><br>时间 When: {{.At.UTC.Format "2006-01-02T15:04:05Z07:00"}} ({{.Took}})<br>文件 Files: {{.Files}}</p>
<table><tr><th>结果 Outcome</th><th>文件数 Files</th></tr>{{range .Counts}}<tr><td>{{.ZH}} — {{.EN}}</td><td>{{.N}}</td></tr>{{end}}</table>
{{if .Failures}}<h2>未通过的文件 Files that did not pass</h2>
<table><tr><th>文件 File</th><th>编号 ID</th><th>结果 Outcome</th><th>原因 Reason</th></tr>{{range .Failures}}<tr class="fail"><td><code>{{.Path}}</code></td><td><code>{{.ID}}</code></td><td>{{.Outcome}}</td><td>{{.Reason}}</td></tr>{{end}}</table>{{end}}
<p>逐个文件的结果见 CSV 报告 Every file is in the CSV report, SHA-256 <code>{{.CSVDigest}}</code>.</p></body></html>
`))

func writeAuditHTML(path string, s pdf.AuditSummary) error {
	var b bytes.Buffer
	if err := auditHTML.Execute(&b, s); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// cmdLookup finds the records holding a file's (or a text's, or a
// digest's) digest: "was this ever recorded?".
func cmdLookup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lookup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf nodeFlags
	nf.add(fs)
	text := fs.String("text", "", "look up a text (its exact UTF-8 bytes)")
	digest := fs.String("digest", "", "look up a digest (hex or base64)")
	alg := fs.String("algorithm", "", "algorithm of --digest: sha256 (default) or sm3")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	var ds []evidence.Digest
	switch {
	case len(pos) == 1 && *text == "" && *digest == "":
		it := auditItem{Path: pos[0]}
		if err := hashItem(&it); err != nil {
			return usagef("lookup: %v", err)
		}
		ds = it.digests
	case len(pos) == 0 && *text != "" && *digest == "":
		ds = []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(*text)), evidence.Sum(evidence.SM3, []byte(*text))}
	case len(pos) == 0 && *digest != "" && *text == "":
		a, err := evidence.ParseAlgorithm(*alg)
		if err != nil {
			return usagef("lookup: %v", err)
		}
		d, err := evidence.ParseDigest(a, *digest)
		if err != nil {
			return usagef("lookup: %v", err)
		}
		ds = []evidence.Digest{d}
	default:
		return usagef("lookup: want one FILE, or --text T, or --digest D")
	}
	c := nf.client()
	var ids []string
	var receipts []client.Receipt
	for _, d := range ds {
		cursor := ""
		for {
			f, err := c.Lookup(ctx, d, 0, cursor)
			if err != nil {
				return wrapNode(err)
			}
			for i, id := range f.IDs {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
					if i < len(f.Receipts) {
						receipts = append(receipts, f.Receipts[i])
					}
				}
			}
			if cursor = f.NextCursor; cursor == "" {
				break
			}
		}
	}
	if *asJSON {
		return printJSON(stdout, map[string]any{"ids": ids, "receipts": receipts})
	}
	if len(ids) == 0 {
		fmt.Fprintf(stdout, "not recorded: no record on %s holds %s\n", nf.url, ds[0])
		return nil
	}
	for _, rc := range receipts {
		fmt.Fprintf(stdout, "%s  block %d  %s  platform %s  %s\n", rc.ID, rc.BlockNumber, rc.LedgerTime, rc.Platform, rc.DocRef)
	}
	return nil
}
