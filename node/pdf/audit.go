package pdf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
)

// AuditSummary is what an audit report (审计报告) shows: where the files
// were checked, the counts by outcome, and every failure with its reason.
type AuditSummary struct {
	// Against names what the files were checked against: a node's URL, or
	// a folder of evidence packages.
	Against string
	At      time.Time
	Took    time.Duration
	Files   int
	Bytes   int64
	// Counts by outcome (pass, mismatch, unrecorded, not_found, …), in
	// the order to print.
	Counts []AuditCount
	// Failures are the files that did not pass.
	Failures []AuditFailure
	// CSVDigest is the hex SHA-256 of the full CSV report.
	CSVDigest string
}

// AuditCount is the number of files of one outcome.
type AuditCount struct {
	Outcome, ZH, EN string
	N               int
}

// AuditFailure is one file that did not pass.
type AuditFailure struct {
	Path, ID, Outcome, Reason string
}

// MaxAuditFailures bounds the failures listed in the PDF (the CSV has
// them all).
const MaxAuditFailures = 500

// Audit renders the summary of an audit (evidencectl audit) as a PDF, in
// Chinese and English, on as many A4 pages as its failures need.
func (r *Renderer) Audit(ctx context.Context, s AuditSummary) ([]byte, error) {
	if s.Files == 0 {
		return nil, errors.New("pdf: audit: no files")
	}
	d := &reportPages{font: r.font}
	d.newPage()
	p := d.p
	p.text(pageW/2-44, p.y+22, "审计报告", r.font, 22, red)
	p.text(pageW/2-34, p.y+39, "Audit Report", r.font, 12, red)
	p.y += 50
	p.box(marginX, p.y, pageW-2*marginX, 1, red, nil)
	p.y += 18
	at := s.At.In(beijing)
	d.row("核验对象", "Checked against", []string{s.Against}, true)
	d.row("核验时间", "When", []string{at.Format("2006-01-02 15:04:05") + " 北京时间（UTC+8）"}, false, s.At.UTC().Format(time.RFC3339)+fmt.Sprintf(" · %v", s.Took.Round(time.Millisecond)))
	d.row("文件数", "Files", []string{strconv.Itoa(s.Files) + "，共 " + sizeLabel(s.Bytes)}, false)
	d.heading("结果", "Outcomes")
	for _, c := range s.Counts {
		d.row(c.ZH, c.EN, []string{strconv.Itoa(c.N)}, false)
	}
	if len(s.Failures) > 0 {
		d.heading("未通过的文件", "Files that did not pass")
		for i, f := range s.Failures {
			if i == MaxAuditFailures {
				d.row("……", "…", []string{fmt.Sprintf("另有 %d 个，见 CSV 报告 / %d more in the CSV report", len(s.Failures)-i, len(s.Failures)-i)}, false)
				break
			}
			id := f.ID
			if id == "" {
				id = "—"
			}
			d.row(f.Outcome, "", []string{f.Path, groupedID(id)}, true, f.Reason)
		}
	}
	d.heading("完整报告", "The full report")
	d.row("CSV SHA-256", "", []string{s.CSVDigest}, true, "逐个文件的结果见同时生成的 CSV 报告，其 SHA-256 如上。 Every file's result is in the CSV report written with this one; its SHA-256 is above.")
	doc := pdfDoc{Paper: "A4P", Origin: "UpperLeft", Pages: map[string]pdfPage{}}
	runes := map[rune]bool{}
	for i, pg := range d.pages {
		pg.text(marginX, pageH-48, "本报告由 evidencectl audit 生成：逐个计算文件摘要，向存证节点或电子证据包核验。", r.font, 7, grey)
		pg.text(marginX, pageH-38, fmt.Sprintf("Made by evidencectl audit: each file hashed here and checked against the node or the evidence packages. Page %d of %d.", i+1, len(d.pages)), r.font, 6.5, grey)
		doc.Pages[strconv.Itoa(i+1)] = pdfPage{Content: pg.c}
		for ru := range runesOf(pg.c, r.font) {
			runes[ru] = true
		}
	}
	js, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	release, err := r.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var out bytes.Buffer
	state.RLock()
	defer state.RUnlock()
	if err := api.Create(nil, bytes.NewReader(js), &out, config()); err != nil {
		return nil, fmt.Errorf("pdf: audit report: %w", err)
	}
	return fixToUnicode(out.Bytes(), r.font, runes)
}
