package pdf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"rsc.io/qr"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Content kinds of a verification report: what the visitor gave.
const (
	ContentFile   = "file"   // a file, hashed in the visitor's browser
	ContentText   = "text"   // a text, hashed in the visitor's browser
	ContentDigest = "digest" // a digest the visitor typed
)

// ReportContent is what was verified, as the visitor's browser describes
// it: the node received the digest only, so the name and size are the
// browser's statement, printed as such.
type ReportContent struct {
	Kind   string // ContentFile, ContentText or ContentDigest
	Name   string // the file's name (ContentFile)
	Size   int64  // its size in bytes; negative: not given
	Digest evidence.Digest
}

// ReportOptions are what a verification report shows besides the
// verification.
type ReportOptions struct {
	// BaseURL is the node's public URL: the node named as the verifier,
	// and the base of the QR code's link to the record.
	BaseURL string
	// Ledger and LedgerKind name the ledger searched.
	Ledger, LedgerKind string
	// At is when the node made the verification.
	At      time.Time
	Content ReportContent
}

// Report renders the verification report (核验报告) of v: the verdict,
// the three checks with their reasons, when, by which node and ledger,
// what was compared, the record's coordinates and a QR code to the record,
// in Chinese and English, on one A4 page (a second when the reasons are
// long). At most Config.Concurrency renderings run at once.
func (r *Renderer) Report(ctx context.Context, v verifier.Verification, o ReportOptions) ([]byte, error) {
	if o.BaseURL == "" {
		return nil, errors.New("pdf: report: no base URL")
	}
	if v.ID == "" || len(v.Checks) != 3 {
		return nil, errors.New("pdf: report: not a verification of three checks")
	}
	layout, runes, err := reportLayout(v, o, r.font)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(layout)
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
		return nil, fmt.Errorf("pdf: report %s: %w", v.ID, err)
	}
	return fixToUnicode(out.Bytes(), r.font, runes)
}

// Colours of the report's marks (dark enough to read in black and white).
const (
	green = "#0B6B2F"
	amber = "#7A4B00"
)

// reportPages is the report's content, page by page.
type reportPages struct {
	font  string
	pages []*page
	p     *page
}

// reportBottom is the lowest baseline of a page's content (above the
// footer).
const reportBottom = pageH - 64

func (d *reportPages) newPage() {
	d.p = &page{font: d.font, y: 48}
	d.pages = append(d.pages, d.p)
	d.p.box(marginX-20, pageH-24, pageW-2*(marginX-20), pageH-48, "", &pdfBorder{Width: 2, Col: red})
	d.p.box(marginX-15, pageH-29, pageW-2*(marginX-15), pageH-58, "", &pdfBorder{Width: 1, Col: rule})
}

// need starts a new page unless h points fit on this one.
func (d *reportPages) need(h float64) {
	if d.p.y+h > reportBottom {
		d.newPage()
		d.p.text(marginX, d.p.y, "核验报告（续）  Verification report (continued)", d.font, 10, red)
		d.p.y += 20
	}
}

// The report's rows are more compact than the certificate's: labels at
// 8.8 pt over their English at 6.2 pt, values at 8.8 pt (codes 8.2 pt,
// 75 to the line), notes at 6.8 pt.
const (
	rowSize     = 8.8
	rowMonoSize = 8.2
	rowMonoLine = 75
	rowStep     = 10.5
	noteSize    = 6.8
	noteStep    = 8.4
)

// rowLines wraps a row's values.
func rowLines(lines []string, monoValue bool, width float64) []string {
	var out []string
	for _, l := range lines {
		if monoValue {
			out = append(out, wrapMono(l, int(float64(rowMonoLine)*width/valueW))...)
		} else {
			out = append(out, wrap(l, width, rowSize)...)
		}
	}
	return out
}

// row writes a labelled field (values, then smaller notes), on a new page
// when it does not fit.
func (d *reportPages) row(zh, en string, lines []string, monoValue bool, notes ...string) {
	vals := rowLines(lines, monoValue, valueW)
	var ns []string
	for _, n := range notes {
		ns = append(ns, wrap(n, valueW, noteSize)...)
	}
	h := max(float64(len(vals))*rowStep+float64(len(ns))*noteStep, 16) + 4
	d.need(h)
	p := d.p
	p.text(labelX, p.y, zh, p.font, rowSize, ink)
	p.text(labelX, p.y+8.5, en, p.font, 6.2, grey)
	y := p.y
	for _, l := range vals {
		if monoValue {
			p.text(valueX, y, l, mono, rowMonoSize, ink)
		} else {
			p.text(valueX, y, l, p.font, rowSize, ink)
		}
		y += rowStep
	}
	for _, l := range ns {
		p.text(valueX, y, l, p.font, noteSize, grey)
		y += noteStep
	}
	p.y += h
}

// pair writes two short fields side by side.
func (d *reportPages) pair(zh1, en1, v1, zh2, en2, v2 string) {
	d.need(20)
	p := d.p
	half := (pageW - 2*marginX) / 2
	for i, f := range [2][3]string{{zh1, en1, v1}, {zh2, en2, v2}} {
		x := labelX + float64(i)*half
		vx := valueX + float64(i)*half
		if i == 1 {
			vx = x + (valueX - labelX) - 30
		}
		p.text(x, p.y, f[0], p.font, rowSize, ink)
		p.text(x, p.y+8.5, f[1], p.font, 6.2, grey)
		p.text(vx, p.y, f[2], p.font, rowSize, ink)
	}
	p.y += 20
}

func (d *reportPages) heading(zh, en string) {
	d.need(34)
	d.p.y += 2
	d.p.box(marginX, d.p.y-9, pageW-2*marginX, 0.6, rule, nil)
	d.p.y += 4
	d.p.text(marginX, d.p.y, zh+"  "+en, d.font, 10, red)
	d.p.y += 15
}

// reportHeadline is the verdict in a few words, as the portal says it.
func reportHeadline(v verifier.Verification, c ReportContent) (zh, en, col string) {
	switch v.Outcome {
	case verifier.OutcomePass:
		if c.Kind == ContentDigest {
			return "摘要比对一致（按核验者输入的摘要）", "Digest matches (by the digest the verifier entered)", green
		}
		return "核验通过", "Verified: all three checks pass", green
	case verifier.OutcomeMismatch:
		return "存证记录完整，但内容不一致", "The record is intact, but the content differs", red
	case verifier.OutcomeNotFound:
		return "未找到存证记录", "No evidence found under this ID", amber
	case verifier.OutcomeBroken:
		return "存证记录校验未通过", "The record failed its checks", red
	}
	return "核验未完成", "Verification not completed", amber
}

var checkTitles = map[string][3]string{ // pass, fail, skipped; zh
	verifier.CheckDigestMatch: {"比对结果一致", "比对结果不一致", "未比对"},
	verifier.CheckOnLedger:    {"电子证据已在区块链存证", "未能确认电子证据已在区块链存证", "未核验"},
	verifier.CheckProofIntact: {"电子数据包完整性校验通过", "电子数据包完整性校验未通过", "未校验"},
}

var checkTitlesEN = map[string][3]string{
	verifier.CheckDigestMatch: {"Digest matches", "Digest does not match", "Not compared"},
	verifier.CheckOnLedger:    {"Recorded on the blockchain", "Not confirmed on the blockchain", "Not checked"},
	verifier.CheckProofIntact: {"Evidence package integrity verified", "Evidence package integrity check failed", "Not checked"},
}

func reportLayout(v verifier.Verification, o ReportOptions, font string) (pdfDoc, map[rune]bool, error) {
	d := &reportPages{font: font}
	d.newPage()
	p := d.p
	p.text(pageW/2-44, p.y+22, "核验报告", font, 22, red)
	p.text(pageW/2-52, p.y+39, "Verification Report", font, 12, red)
	p.y += 50
	p.box(marginX, p.y, pageW-2*marginX, 1, red, nil)
	p.y += 18

	// The verdict, with a QR code to the record beside it (it names the
	// record only).
	link := strings.TrimRight(o.BaseURL, "/") + "/verify?id=" + v.ID
	if v.Receipt != nil {
		link = VerifyURL(o.BaseURL, *v.Receipt)
	}
	code, err := qr.Encode(link, qr.M)
	if err != nil {
		return pdfDoc{}, nil, fmt.Errorf("pdf: QR code: %w", err)
	}
	const qrSize = 84.0
	qx := pageW - marginX - qrSize
	top := p.y - 6
	p.qr(code, qx, top, qrSize)
	p.text(qx+4, top+qrSize+6, "扫码查看存证记录", font, 7, red)
	p.text(qx+4, top+qrSize+14, "Scan: the record", font, 6, grey)
	textW := qx - marginX - 12

	zh, en, col := reportHeadline(v, o.Content)
	failed := 0
	for _, c := range v.Checks {
		if !c.Pass && !c.Skipped {
			failed++
		}
	}
	for _, l := range wrap(zh, textW, 15) {
		p.text(marginX, p.y, l, font, 15, col)
		p.y += 17
	}
	p.text(marginX, p.y, en, font, 9, col)
	p.y += 14
	var sumZH, sumEN string
	switch {
	case v.Outcome == verifier.OutcomePass && o.Content.Kind == ContentDigest:
		sumZH = "核验者输入的摘要与存证摘要相同，存证记录完整。本节点未见到任何文件：只有该摘要确由所核文件算得，才说明文件与存证一致。"
		sumEN = "The digest the verifier entered equals the recorded digest and the record is intact. The node saw no file: this holds for a file only if the digest was computed from it."
	case v.Outcome == verifier.OutcomePass:
		sumZH = "三项核验全部通过：所核内容的摘要与区块链上的存证摘要相同，存证记录及其证明完整。"
		sumEN = "All three checks pass: the digest of the content verified equals the recorded digest, and the record and its proof are intact."
	case v.Outcome == verifier.OutcomeNotFound:
		sumZH = "本节点的账本中没有以此编号存证的记录（编号格式与校验位正确）。"
		sumEN = "This node's ledger holds no evidence under this ID (the ID is well formed)."
	default:
		sumZH = fmt.Sprintf("核验未通过：三项核验中有 %d 项未通过。只有三项全部通过，才能证明所核内容就是存证的内容。", failed)
		sumEN = fmt.Sprintf("Verification failed: %d of the three checks failed. Only when all three pass is the content verified the recorded content.", failed)
	}
	p.note(sumZH, marginX, textW, 8.5, ink)
	p.note(sumEN, marginX, textW, 7, grey)
	p.y = max(p.y, top+qrSize+22) + 2

	// When, where, what.
	d.heading("核验信息", "Verification")
	at := o.At.UTC()
	d.row("核验时间", "Verified at", []string{at.In(beijing).Format("2006-01-02 15:04:05") + "（北京时间 UTC+8）  " + at.Format(time.RFC3339) + " (UTC)"}, false)
	ledger := o.Ledger
	if o.LedgerKind != "" {
		ledger += "（" + kindLabel(o.LedgerKind) + "）"
	}
	d.row("核验节点与账本", "Node and ledger", []string{strings.TrimRight(o.BaseURL, "/"), ledger}, false)
	d.row("统一证据编号", "Evidence ID", []string{groupedID(v.ID) + "   " + v.ID}, true)
	var what, whatEN string
	switch o.Content.Kind {
	case ContentFile:
		what = "文件：" + o.Content.Name
		if o.Content.Size >= 0 {
			what += "（" + sizeLabel(o.Content.Size) + "）"
		}
		whatEN = "A file, hashed in the verifier's browser; its name and size as the browser gave them (the node received the digest only)."
	case ContentText:
		what = "文本"
		if o.Content.Size >= 0 {
			what += "（" + strconv.FormatInt(o.Content.Size, 10) + " 字节 UTF-8）"
		}
		whatEN = "A text, hashed as its UTF-8 bytes in the verifier's browser (the node received the digest only)."
	default:
		what = "核验者输入的摘要（未经计算）"
		whatEN = "A digest the verifier typed: no file was hashed."
	}
	d.row("核验对象", "Content verified", []string{what}, false, whatEN)
	dg := o.Content.Digest
	d.row("比对的摘要", "Digest compared", []string{strings.ToUpper(string(dg.Algorithm)) + " " + dg.Hex()}, true)

	// The three checks.
	d.heading("核验项目", "Checks")
	for i, c := range v.Checks {
		state, stateEN, colour, k := "通过", "pass", green, 0
		switch {
		case c.Skipped:
			state, stateEN, colour, k = "未比对", "not compared", amber, 2
		case !c.Pass:
			state, stateEN, colour, k = "未通过", "fail", red, 1
		}
		reasonZH := wrap(c.ReasonZH, pageW-2*marginX-22, 8)
		reasonEN := wrap(c.Reason, pageW-2*marginX-22, 6.5)
		d.need(float64(len(reasonZH))*10 + float64(len(reasonEN))*8 + 18)
		p := d.p
		p.box(marginX, p.y+3, 13, 13, colour, nil)
		p.text(marginX+3.5, p.y, strconv.Itoa(i+1), font, 8.5, "#FFFFFF")
		t := checkTitles[c.Name]
		te := checkTitlesEN[c.Name]
		p.text(marginX+20, p.y, t[k]+"  【"+state+"】", font, 9.5, colour)
		p.text(marginX+290, p.y, te[k]+" ("+stateEN+")", font, 7, grey)
		p.y += 12
		for _, l := range reasonZH {
			p.text(marginX+20, p.y, l, font, 8, ink)
			p.y += 10
		}
		for _, l := range reasonEN {
			p.text(marginX+20, p.y, l, font, 6.5, grey)
			p.y += 8
		}
		p.y += 5
	}

	// The record's coordinates on the chain.
	if rc := v.Receipt; rc != nil {
		d.heading("存证信息", "Record on the ledger")
		d.pair("存证类型", "Evidence type", typeLabel(rc.Type), "块高", "Block height", strconv.FormatUint(rc.BlockNumber, 10))
		d.row("摘要（"+strings.ToUpper(string(rc.Algorithm))+"）", "Digest ("+string(rc.Algorithm)+", hex)", []string{rc.DigestHex}, true)
		for _, dv := range rc.Digests {
			if dv.Algorithm != rc.Algorithm {
				d.row("其他摘要（"+strings.ToUpper(string(dv.Algorithm))+"）", "Also recorded ("+string(dv.Algorithm)+")", []string{dv.Hex}, true)
			}
		}
		d.row("区块哈希", "Block hash", []string{rc.BlockHash}, true)
		lines := []string{rc.LedgerTime}
		if t, err := time.Parse(time.RFC3339Nano, rc.LedgerTime); err == nil {
			lines = []string{t.In(beijing).Format("2006-01-02 15:04:05.000") + "（北京时间 UTC+8）  " + rc.LedgerTime + " (UTC)"}
		}
		tzh, ten := timeNote(*rc)
		d.row("存证时间", "Ledger time", lines, false, tzh+" "+ten)
		trusted := "无：尚无可信时间戳（RFC 3161）"
		if n := len(rc.Timestamps); n > 0 {
			trusted = fmt.Sprintf("%d 个可信时间戳（RFC 3161，%s），可在电子证据包中离线核验", n, rc.Timestamps[0].Kind)
		}
		d.row("可信时间", "Trusted time", []string{trusted}, false)
		d.row("交易编号", "Transaction ID", []string{rc.TxID}, true)
		d.row("提交平台", "Submitting platform", []string{rc.Platform}, false)
		if rc.DocRef != "" {
			d.row("平台文档编号", "Platform document ref.", []string{rc.DocRef}, false)
		}
	}
	d.need(24)
	d.p.y += 4
	for _, l := range wrapMono(link, 100) {
		d.p.text(marginX, d.p.y, l, mono, 7, ink)
		d.p.y += 9
	}
	d.p.note("二维码与上方链接只指向存证记录：任何人复核，都须自行选择文件或粘贴文本，在其浏览器中计算摘要后比对。 The QR code and this link name the record only: whoever checks again brings the file or text.", marginX, pageW-2*marginX, 6.8, grey)

	// Footers, with page numbers.
	doc := pdfDoc{Paper: "A4P", Origin: "UpperLeft", Pages: map[string]pdfPage{}}
	runes := map[rune]bool{}
	for i, pg := range d.pages {
		pg.text(marginX, pageH-48, "本报告由存证核验节点根据其账本生成并签名，记录本节点在上述时间对上述摘要的核验结果；复核以区块与信任根为准（电子证据包可离线核验）。", font, 7, grey)
		pg.text(marginX, pageH-38, fmt.Sprintf("Made and signed by the evidence node from its ledger: its verification of the digest above at the time above. Page %d of %d.", i+1, len(d.pages)), font, 6.5, grey)
		doc.Pages[strconv.Itoa(i+1)] = pdfPage{Content: pg.c}
		for r := range runesOf(pg.c, font) {
			runes[r] = true
		}
	}
	return doc, runes, nil
}

func groupedID(s string) string {
	if id, err := evidence.ParseID(s); err == nil {
		return id.Grouped()
	}
	return s
}

func sizeLabel(n int64) string {
	s := strconv.FormatInt(n, 10) + " 字节"
	switch {
	case n >= 1<<30:
		s += fmt.Sprintf(" / %.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		s += fmt.Sprintf(" / %.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		s += fmt.Sprintf(" / %.1f KiB", float64(n)/(1<<10))
	}
	return s
}
