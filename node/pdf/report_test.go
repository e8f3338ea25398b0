package pdf

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// sampleVerification is a verification of rc's file as the node makes
// it, with outcome and the checks' passes given.
func sampleVerification(rc verifier.Receipt, outcome string, pass ...bool) verifier.Verification {
	v := verifier.Verification{Verdict: verifier.VerdictFail, Outcome: outcome, ID: rc.ID, Receipt: &rc}
	if outcome == verifier.OutcomePass {
		v.Verdict = verifier.VerdictPass
	}
	reasons := [][2]string{
		{"the sha256 digest " + rc.DigestHex + " equals the recorded digest", "比对结果一致：sha256 摘要 " + rc.DigestHex + " 与存证摘要相同"},
		{"recorded on ledger \"evidence-local\" in block 12 (hash " + rc.BlockHash + ") at " + rc.LedgerTime, "电子证据已在区块链存证：账本 evidence-local，块高 12，区块哈希 " + rc.BlockHash},
		{"the Merkle proof, block header and block signature verify against the ledger's trust roots", "电子数据包完整性校验通过：默克尔证明、区块头与区块签名均通过信任根校验"},
	}
	for i, name := range verifier.CheckNames() {
		c := verifier.Check{Name: name, Pass: pass[i], Reason: reasons[i][0], ReasonZH: reasons[i][1]}
		if !c.Pass && i == 0 {
			c.Reason = "the sha256 digest " + strings.Repeat("0f", 32) + " differs from the recorded " + rc.DigestHex + ": the content is not the one recorded"
			c.ReasonZH = "比对结果不一致：您提供的内容的 sha256 摘要 " + strings.Repeat("0f", 32) + " 与存证摘要 " + rc.DigestHex + " 不同，内容可能已被修改"
		}
		v.Checks = append(v.Checks, c)
	}
	return v
}

// TestReport renders verification reports, signs them, and reads them
// back as a court would: poppler renders the page (not blank) and finds
// the text, zbar decodes the QR code (the record's link), pdfsig reports
// the signature valid over the whole file.
func TestReport(t *testing.T) {
	r := renderer(t)
	rc := sampleReceipt(t)
	rc.Timestamps = []verifier.Timestamp{{Kind: "rfc3161", Token: []byte{1}}}
	at := time.Date(2026, 12, 1, 19, 36, 34, 0, time.UTC)
	content := ReportContent{Kind: ContentFile, Name: "采购合同 HT-2026-001.pdf", Size: 1234567, Digest: evidence.Sum(evidence.SHA256, []byte("x"))}
	for _, c := range []struct {
		name    string
		v       verifier.Verification
		content ReportContent
		want    []string
	}{
		{"pass", sampleVerification(rc, verifier.OutcomePass, true, true, true), content,
			[]string{"核验通过", "三项核验全部通过", "采购合同 HT-2026-001.pdf", "1234567 字节", "2026-12-02 03:36:34（北京时间 UTC+8）"}},
		{"mismatch", sampleVerification(rc, verifier.OutcomeMismatch, false, true, true), content,
			[]string{"存证记录完整，但内容不一致", "三项核验中有 1 项未通过", "比对结果不一致", "【未通过】"}},
		{"typed", sampleVerification(rc, verifier.OutcomePass, true, true, true), ReportContent{Kind: ContentDigest, Size: -1, Digest: content.Digest},
			[]string{"摘要比对一致（按核验者输入的摘要）", "核验者输入的摘要（未经计算）"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, err := r.Report(context.Background(), c.v, ReportOptions{BaseURL: "https://node.example.cn", Ledger: "evidence-local", LedgerKind: "embedded", At: at, Content: c.content})
			if err != nil {
				t.Fatal(err)
			}
			if err := api.Validate(bytes.NewReader(doc), config()); err != nil {
				t.Fatalf("pdfcpu validate: %v", err)
			}
			s := testSigner(t)
			signed, err := Sign(doc, s)
			if err != nil {
				t.Fatal(err)
			}
			checkPoppler(t, signed, s)
			dir := outDir(t)
			path := filepath.Join(dir, "report-"+c.name+".pdf")
			if err := os.WriteFile(path, signed, 0o644); err != nil {
				t.Fatal(err)
			}
			info, err := exec.Command(tool(t, "pdfinfo"), path).Output()
			if err != nil || !regexp.MustCompile(`(?m)^Pages:\s+1$`).Match(info) {
				t.Errorf("report is not one page: %v\n%s", err, info)
			}
			out, err := exec.Command(tool(t, "pdftotext"), "-layout", path, "-").CombinedOutput()
			if err != nil {
				t.Fatalf("pdftotext: %v\n%s", err, out)
			}
			text := string(out)
			for _, want := range append(c.want, "核验报告", "Verification Report", "核验时间", "核验节点", "https://node.example.cn", "账本", "evidence-local",
				"电子证据已在区块链存证", "电子数据包完整性校验通过", "区块哈希", rc.BlockHash, "块高", "交易编号", rc.ID, "提交平台", "acme",
				"平台文档编号", "可信时间", "1 个可信时间戳", "2026-11-23 17:54:19.571（北京时间 UTC+8）") {
				if !strings.Contains(text, want) {
					t.Errorf("pdftotext: %q missing from\n%s", want, text)
				}
			}
			prefix := filepath.Join(dir, "report-"+c.name)
			if out, err := exec.Command(tool(t, "pdftoppm"), "-png", "-r", "110", "-singlefile", path, prefix).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v\n%s", err, out)
			}
			f, err := os.Open(prefix + ".png")
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if ink := inkRatio(img); ink < 0.02 || ink > 0.5 {
				t.Errorf("rendered page has %.3f of its pixels inked; want a printed page", ink)
			}
			if red := redPixels(img, 0, img.Bounds().Dy()/7); red < 500 {
				t.Errorf("title area has %d red pixels: the title did not render", red)
			}
			qr, err := exec.Command(tool(t, "zbarimg"), "-q", "--raw", prefix+".png").Output()
			if err != nil {
				t.Fatalf("zbarimg: %v", err)
			}
			if got, want := strings.TrimSpace(string(qr)), VerifyURL("https://node.example.cn", rc); got != want {
				t.Errorf("QR code = %q, want %q", got, want)
			}
		})
	}
}

// A report for an ID no record has, and one whose reasons are long,
// still renders (the latter on a second page).
func TestReportNotFoundAndLong(t *testing.T) {
	r := renderer(t)
	id, _ := evidence.NewIDGenerator(nil, nil).New()
	v := verifier.Verification{Verdict: verifier.VerdictFail, Outcome: verifier.OutcomeNotFound, ID: id.String(), Checks: []verifier.Check{
		{Name: verifier.CheckDigestMatch, Reason: "no evidence is recorded under this ID", ReasonZH: "未找到该统一证据编号的存证记录"},
		{Name: verifier.CheckOnLedger, Reason: "no evidence is recorded under this ID", ReasonZH: "区块链上无此编号的存证"},
		{Name: verifier.CheckProofIntact, Reason: "nothing to check", ReasonZH: "无可校验的数据"},
	}}
	o := ReportOptions{BaseURL: "http://127.0.0.1:8080", Ledger: "evidence-local", LedgerKind: "embedded", At: time.Now(),
		Content: ReportContent{Kind: ContentText, Size: 42, Digest: evidence.Sum(evidence.SM3, []byte("t"))}}
	doc, err := r.Report(context.Background(), v, o)
	if err != nil {
		t.Fatal(err)
	}
	info, err := Inspect(bytes.NewReader(doc))
	if err != nil || info.Pages != 1 {
		t.Fatalf("not-found report: %+v, %v", info, err)
	}
	rc := sampleReceipt(t)
	long := sampleVerification(rc, verifier.OutcomeBroken, true, false, false)
	for i := range long.Checks {
		long.Checks[i].Reason = strings.Repeat("the block's seal does not verify against the trust roots; ", 12)
		long.Checks[i].ReasonZH = strings.Repeat("区块封印未能通过信任根校验；", 20)
	}
	doc, err = r.Report(context.Background(), long, o)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := Inspect(bytes.NewReader(doc)); err != nil || info.Pages != 2 {
		t.Fatalf("long report: %+v, %v", info, err)
	}
}
