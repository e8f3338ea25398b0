package pdf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"rsc.io/qr"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// CertOptions are what a certificate shows besides the receipt.
type CertOptions struct {
	// BaseURL is the public base URL of the node (scheme and host, and a
	// path prefix if any): the QR code links to BaseURL/verify?id=….
	BaseURL string
	// ManifestDigest, when the certificate is part of an evidence package,
	// is the hex SHA-256 of the package's manifest.json; it ties the
	// printed page to the attachments.
	ManifestDigest string
	// Inspection is the node's inspection of the submitted content, shown
	// when given.
	Inspection *Info
}

// VerifyURL returns the verification page link for a receipt:
// base/verify?id=ID. It names the record and nothing else: the page
// shows the record and asks for the file or text, and only a digest
// computed from what the visitor gives can pass (docs/portal.md). The
// recorded digest is printed on the certificate, not put in the link, so
// that scanning the code can never look like a check.
func VerifyURL(base string, rc verifier.Receipt) string {
	return strings.TrimRight(base, "/") + "/verify?id=" + url.QueryEscape(rc.ID)
}

// Certificate renders the one-page evidence certificate (存证证书) of a
// receipt, in Chinese and English. At most Config.Concurrency run at once;
// others wait for a slot or for ctx.
func (r *Renderer) Certificate(ctx context.Context, rc verifier.Receipt, o CertOptions) ([]byte, error) {
	if rc.ID == "" || rc.DigestHex == "" {
		return nil, errors.New("pdf: certificate: the receipt has no ID or digest")
	}
	if o.BaseURL == "" {
		return nil, errors.New("pdf: certificate: no base URL for the verification link")
	}
	layout, err := certificateLayout(rc, o, r.font)
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
	state.RLock() // the font directory must not change under a rendering
	defer state.RUnlock()
	if err := api.Create(nil, bytes.NewReader(js), &out, config()); err != nil {
		return nil, fmt.Errorf("pdf: certificate %s: %w", rc.ID, err)
	}
	return fixToUnicode(out.Bytes(), r.font, runesOf(layout.Pages["1"].Content, r.font))
}

// The layout is pdfcpu's JSON page description.
type (
	pdfDoc struct {
		Paper      string             `json:"paper"`
		Origin     string             `json:"origin"`
		ContentBox bool               `json:"contentBox"`
		Pages      map[string]pdfPage `json:"pages"`
	}
	pdfPage struct {
		Content pdfContent `json:"content"`
	}
	pdfContent struct {
		Box  []pdfBox  `json:"box,omitempty"`
		Text []pdfText `json:"text,omitempty"`
	}
	pdfFont struct {
		Name string  `json:"name"`
		Size float64 `json:"size"`
		Col  string  `json:"col,omitempty"`
	}
	pdfText struct {
		Value string     `json:"value"`
		Pos   [2]float64 `json:"pos"`
		Font  pdfFont    `json:"font"`
		Align string     `json:"align,omitempty"`
	}
	pdfBorder struct {
		Width int    `json:"width"`
		Col   string `json:"col"`
	}
	pdfBox struct {
		Pos     [2]float64 `json:"pos"`
		Width   float64    `json:"width"`
		Height  float64    `json:"height"`
		FillCol string     `json:"fillCol,omitempty"`
		Border  *pdfBorder `json:"border,omitempty"`
	}
)

// Page geometry (A4 portrait, points, origin top left).
const (
	pageW   = 595.0
	pageH   = 842.0
	marginX = 48.0
	labelX  = marginX
	valueX  = 178.0
	valueW  = pageW - marginX - valueX
	// monoPerLine is how many Courier characters at 8.8 pt fit valueW.
	monoPerLine = 69
	mono        = "Courier"
	red         = "#9B1B1B"
	ink         = "#1A1A1A"
	grey        = "#555555"
	rule        = "#C9A9A9"
)

// page accumulates the content of the certificate.
type page struct {
	font string
	c    pdfContent
	y    float64 // the next line's baseline, from the top
}

func (p *page) text(x, y float64, s, font string, size float64, col string) {
	p.c.Text = append(p.c.Text, pdfText{Value: s, Pos: [2]float64{x, y}, Font: pdfFont{Name: font, Size: size, Col: col}})
}

func (p *page) box(x, y, w, h float64, fill string, border *pdfBorder) {
	p.c.Box = append(p.c.Box, pdfBox{Pos: [2]float64{x, y}, Width: w, Height: h, FillCol: fill, Border: border})
}

// row writes a labelled field: the Chinese label over the English one on
// the left, the value lines on the right (monospace for codes).
func (p *page) row(zh, en string, lines []string, monoValue bool) {
	p.text(labelX, p.y, zh, p.font, 10, ink)
	p.text(labelX, p.y+10, en, p.font, 7, grey)
	y := p.y
	for _, line := range lines {
		// Long values wrap inside the value column (pdfcpu would shift
		// an overlong line left instead).
		parts := wrap(line, valueW, 9.5)
		if monoValue {
			parts = wrapMono(line, monoPerLine)
		}
		for _, l := range parts {
			if monoValue {
				p.text(valueX, y, l, mono, 8.8, ink)
			} else {
				p.text(valueX, y, l, p.font, 9.5, ink)
			}
			y += 12
		}
	}
	p.y += max(y-p.y, 19) + 6
}

// note writes wrapped text across the page.
func (p *page) note(s string, x, width, size float64, col string) {
	for _, l := range wrap(s, width, size) {
		p.text(x, p.y, l, p.font, size, col)
		p.y += size * 1.35
	}
}

func certificateLayout(rc verifier.Receipt, o CertOptions, font string) (pdfDoc, error) {
	link := VerifyURL(o.BaseURL, rc)
	code, err := qr.Encode(link, qr.M)
	if err != nil {
		return pdfDoc{}, fmt.Errorf("pdf: QR code: %w", err)
	}
	p := &page{font: font, y: 40}

	// Frame and title. Boxes are placed by their lower left corner.
	p.box(marginX-20, pageH-24, pageW-2*(marginX-20), pageH-48, "", &pdfBorder{Width: 2, Col: red})
	p.box(marginX-15, pageH-29, pageW-2*(marginX-15), pageH-58, "", &pdfBorder{Width: 1, Col: rule})
	p.text(pageW/2-52, p.y+38, "存证证书", font, 26, red)
	p.text(pageW/2-62, p.y+58, "Evidence Certificate", font, 14, red)
	p.y += 72
	p.box(marginX, p.y, pageW-2*marginX, 1, red, nil)
	p.y += 20

	id := rc.ID
	if pid, err := evidence.ParseID(rc.ID); err == nil {
		id = pid.Grouped()
	}
	p.row("统一证据编号", "Evidence ID", []string{id, rc.ID}, true)
	p.row("存证类型", "Evidence type", []string{typeLabel(rc.Type)}, false)
	p.row("摘要算法", "Digest algorithm", []string{algLabel(rc.Algorithm)}, false)
	p.row("摘要（十六进制）", "Digest (hex)", []string{rc.DigestHex}, true)
	p.row("摘要（Base64）", "Digest (Base64)", []string{rc.DigestBase64}, true)
	for _, d := range rc.Digests {
		if d.Algorithm != rc.Algorithm {
			alg := strings.ToUpper(string(d.Algorithm))
			p.row("其他摘要（"+alg+"）", "Also recorded ("+string(d.Algorithm)+", hex)", []string{d.Hex}, true)
		}
	}
	p.row("块高", "Block height", []string{strconv.FormatUint(rc.BlockNumber, 10)}, true)
	p.row("区块哈希", "Block hash", []string{rc.BlockHash}, true)
	timeLines := []string{rc.LedgerTime}
	if t, err := time.Parse(time.RFC3339Nano, rc.LedgerTime); err == nil {
		timeLines = []string{t.In(beijing).Format("2006-01-02 15:04:05.000") + "（北京时间 UTC+8）", rc.LedgerTime + " (UTC)"}
	}
	zh, en := timeNote(rc)
	notes := append(wrap(zh, valueW, 7.5), wrap(en, valueW, 7)...)
	p.timeRow(timeLines, notes)
	if lines, notes := trustedTimeLines(rc); lines != nil {
		p.timeRowLabelled("可信时间", "Trusted time", lines, notes)
	}
	ledger := rc.Ledger
	if rc.LedgerKind != "" {
		ledger += "（" + kindLabel(rc.LedgerKind) + "）"
	}
	p.row("账本", "Ledger", []string{ledger}, false)
	p.row("交易编号", "Transaction ID", wrapMono(rc.TxID, 64), true)
	p.row("提交平台", "Submitting platform", []string{rc.Platform}, false)
	if rc.DocRef != "" {
		p.row("平台文档编号", "Platform document ref.", wrap(rc.DocRef, valueW, 9.5), false)
	}
	if in := o.Inspection; in != nil {
		zh, en := inspectionText(*in)
		p.timeRowLabelled("原件检查", "Content inspected", wrap(zh, valueW, 9.5), wrap(en+" Seen by the node at submission; not part of the ledger proof.", valueW, 7))
	}

	// QR code and link.
	p.box(marginX, p.y, pageW-2*marginX, 0.6, rule, nil)
	p.y += 10
	qrTop := p.y
	qrSize := 112.0
	if p.y > 520 { // long fields: keep the page to one page
		qrSize = 96
	}
	p.qr(code, marginX, qrTop, qrSize)
	tx := marginX + qrSize + 14
	tw := pageW - marginX - tx
	p.y = qrTop + 22
	p.text(tx, p.y, "扫码核验  Scan to verify", font, 12, red)
	p.y += 17
	p.note("打开核验页面，选择原始文件或粘贴文本即可比对；文件在您的浏览器中计算摘要，不会上传。", tx, tw, 8.5, ink)
	p.note("Open the verification page and choose the original file or paste the text; the file is hashed in your browser and never uploaded.", tx, tw, 7.5, grey)
	p.y += 3
	for _, l := range wrapMono(link, int(tw/4.25)) {
		p.text(tx, p.y, l, mono, 7, ink)
		p.y += 9
	}
	p.y = max(p.y, qrTop+qrSize) + 6

	// The evidence package and its fingerprint.
	p.box(marginX, p.y, pageW-2*marginX, 0.6, rule, nil)
	p.y += 16
	p.text(marginX, p.y, "电子证据包与证据数字指纹  Evidence package and fingerprint", font, 10, red)
	p.y += 14
	w := pageW - 2*marginX
	p.note("电子证据包（package.pdf）即本证书加附件：存证回执 receipt.json、所在区块 block-<块高>.json、信任根 trust-roots.json 与清单 manifest.json（列出各附件的 SHA-256），可在无网络环境下用 evidencectl verify-package 或按 docs/verification.md 自行核验。证据数字指纹是证据包文件整体的 SHA-256 值：下载时节点在响应头 X-Evidence-Fingerprint 中给出，核验工具亦会显示；每次生成的文件不同，请记录所提交文件的指纹。", marginX, w, 8, ink)
	p.y += 1
	p.note("The evidence package (package.pdf) is this certificate with attachments: the receipt (receipt.json), the block holding the record (block-<height>.json), the trust roots (trust-roots.json) and a manifest of their SHA-256 digests (manifest.json). Check it offline with evidencectl verify-package or per docs/verification.md. Its fingerprint is the SHA-256 of the whole package file, given on download (header X-Evidence-Fingerprint) and shown by the verifier; every rendering is a new file, so record the fingerprint of the file you submit.", marginX, w, 7, grey)
	if o.ManifestDigest != "" {
		p.y += 2
		p.text(marginX, p.y, "清单摘要  manifest.json SHA-256:", font, 8, ink)
		p.text(marginX+140, p.y, o.ManifestDigest, mono, 7.5, ink)
	}

	// Footer.
	p.text(marginX, pageH-48, "本证书由存证核验节点依据账本记录生成；核验以区块与信任根为准。", font, 7, grey)
	p.text(marginX, pageH-38, "Generated by the evidence node from its ledger; the block and the trust roots are authoritative.", font, 6.5, grey)

	return pdfDoc{Paper: "A4P", Origin: "UpperLeft", Pages: map[string]pdfPage{"1": {Content: p.c}}}, nil
}

// timeRow writes the ledger time row: the time lines, then smaller notes.
func (p *page) timeRow(lines, notes []string) {
	p.timeRowLabelled("存证时间", "Ledger time", lines, notes)
}

// timeRowLabelled writes a row of value lines followed by smaller notes.
func (p *page) timeRowLabelled(zh, en string, lines, notes []string) {
	p.text(labelX, p.y, zh, p.font, 10, ink)
	p.text(labelX, p.y+10, en, p.font, 7, grey)
	y := p.y
	for _, l := range lines {
		p.text(valueX, y, l, p.font, 9.5, ink)
		y += 12
	}
	for _, l := range notes {
		p.text(valueX, y, l, p.font, 7.5, grey)
		y += 9.5
	}
	p.y = y + 6
}

// qr draws the code as filled squares (vector, crisp when printed), with
// horizontal runs merged, inside a white quiet zone.
func (p *page) qr(code *qr.Code, x, y, size float64) {
	n := code.Size
	m := size / float64(n+8) // 4 modules of quiet zone each side
	x0, y0 := x+4*m, y+4*m
	for row := 0; row < n; row++ {
		for col := 0; col < n; {
			if !code.Black(col, row) {
				col++
				continue
			}
			start := col
			for col < n && code.Black(col, row) {
				col++
			}
			// Boxes are placed by their lower left corner.
			p.box(x0+float64(start)*m, y0+float64(row+1)*m, float64(col-start)*m, m+0.02, "#000000", nil)
		}
	}
}

var beijing = time.FixedZone("CST", 8*3600)

// inspectionText summarises an inspection in Chinese and English.
func inspectionText(i Info) (string, string) {
	if !i.PDF {
		if strings.HasPrefix(i.Error, "not inspected") {
			return "未检查", "Not inspected."
		}
		return "非 PDF 文件或无法解析为 PDF", "Not a PDF, or it does not parse as one."
	}
	zh := fmt.Sprintf("PDF %s，%d 页", i.Version, i.Pages)
	en := fmt.Sprintf("PDF %s, %d page(s)", i.Version, i.Pages)
	signed, intact, trusted := 0, 0, 0
	for _, s := range i.Signatures {
		if !s.Signed {
			continue
		}
		signed++
		if s.Integrity == Intact {
			intact++
		}
		if s.Trust == Trusted {
			trusted++
		}
	}
	switch {
	case signed == 0:
		zh += "，无数字签名"
		en += ", no digital signature."
	case intact == signed:
		zh += fmt.Sprintf("，数字签名 %d 个，均完整（签名后未改动）；证书信任%s", signed, map[bool]string{true: "已确认", false: "未确认（离线检查）"}[trusted == signed])
		en += fmt.Sprintf(", %d digital signature(s), all intact (unchanged since signing); signer trust %s.", signed, map[bool]string{true: "established", false: "not established (checked offline)"}[trusted == signed])
	default:
		zh += fmt.Sprintf("，数字签名 %d 个，其中 %d 个不完整（签名后有改动或签名无效）", signed, signed-intact)
		en += fmt.Sprintf(", %d digital signature(s), %d of them NOT intact (changed after signing, or invalid).", signed, signed-intact)
	}
	return zh, en
}

func typeLabel(t evidence.Type) string {
	switch t {
	case evidence.File:
		return "文件  file"
	case evidence.Text:
		return "文本  text"
	}
	return string(t)
}

func algLabel(a evidence.Algorithm) string {
	switch a {
	case evidence.SHA256:
		return "SHA-256 (sha256)"
	case evidence.SM3:
		return "SM3 (sm3, GB/T 32905-2016)"
	}
	return string(a)
}

func kindLabel(k string) string {
	switch k {
	case "embedded":
		return "嵌入式账本 embedded ledger"
	case "fabric":
		return "Hyperledger Fabric 联盟链"
	}
	return k
}

// trustedTimeLines are the 可信时间 row of a receipt with trusted
// timestamps, or whose timestamps are pending: each token's gen_time in
// Beijing time with the zone named, and the TSA's name; nil when the node
// requests none.
func trustedTimeLines(rc verifier.Receipt) (lines, notes []string) {
	switch rc.TrustedTime() {
	case verifier.TrustedStamped:
		for _, ts := range rc.Timestamps {
			when := ts.GenTime
			if t, err := time.Parse(time.RFC3339Nano, ts.GenTime); err == nil {
				when = t.In(beijing).Format("2006-01-02 15:04:05.000") + "（北京时间 UTC+8）"
			}
			lines = append(lines, when+"  "+ts.TSA)
		}
		return lines, []string{"RFC 3161 时间戳，可离线核验  RFC 3161 tokens, checked offline with the package"}
	case verifier.TrustedPending:
		return []string{"可信时间戳尚未取得  Trusted time pending"}, []string{"已向时间戳服务机构申请  requested from the time-stamping authorities"}
	}
	return nil, nil
}

// timeNote says who asserted the ledger time, in Chinese and English.
func timeNote(rc verifier.Receipt) (string, string) {
	en, _, _, _ := verifier.TimeSources(rc.Proof.Kind)
	switch rc.Proof.Kind {
	case verifier.ProofFabric:
		if en == "" {
			en = verifier.TimeSourceFabric
		}
		return "时间为交易时间戳：由提交客户端给出并经背书节点签名，节点拒绝与其时钟相差过大的时间；非可信时间戳。", "Time: " + en + "."
	default:
		if en == "" {
			en = verifier.TimeSourceNode
		}
		return "时间由节点时钟给出，并由节点签入区块封印；非可信时间戳。", "Time " + en + "."
	}
}

// wrap breaks s into lines of at most width points at the given font
// size, estimating CJK characters as one em and others as about half.
func wrap(s string, width, size float64) []string {
	var lines []string
	var line strings.Builder
	w := 0.0
	lastSpace := -1 // byte offset in line after the last space
	for _, r := range s {
		rw := size * 0.5
		if r >= 0x2E80 || utf8.RuneLen(r) > 2 {
			rw = size
		}
		if w+rw > width && line.Len() > 0 {
			cur := line.String()
			if r != ' ' && lastSpace > 0 && r < 0x2E80 {
				// Break at the last space for Latin text.
				lines = append(lines, strings.TrimRight(cur[:lastSpace], " "))
				rest := cur[lastSpace:]
				line.Reset()
				line.WriteString(rest)
				w = estimate(rest, size)
			} else {
				lines = append(lines, strings.TrimRight(cur, " "))
				line.Reset()
				w = 0
			}
			lastSpace = -1
			if r == ' ' {
				continue
			}
		}
		line.WriteRune(r)
		w += rw
		if r == ' ' {
			lastSpace = line.Len()
		}
	}
	if line.Len() > 0 {
		lines = append(lines, line.String())
	}
	return lines
}

func estimate(s string, size float64) float64 {
	w := 0.0
	for _, r := range s {
		if r >= 0x2E80 || utf8.RuneLen(r) > 2 {
			w += size
		} else {
			w += size * 0.5
		}
	}
	return w
}

// wrapMono cuts s into lines of n characters.
func wrapMono(s string, n int) []string {
	if n <= 0 {
		n = 1
	}
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}
