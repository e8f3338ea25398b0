package web

import (
	"fmt"

	"github.com/gofiber/fiber/v3"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/view"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// ReportRequest is the JSON body of POST /api/v1/verify/report.pdf
// (view.ReportRequest, shared with the Go client).
type ReportRequest = view.ReportRequest

// MaxReportFileName is the longest file name a report prints.
const MaxReportFileName = 255

// DecodeReport decodes and checks the JSON body of a report request.
func DecodeReport(b []byte) (node.ReportRequest, error) {
	var r ReportRequest
	if err := decodeStrict(b, &r); err != nil {
		return node.ReportRequest{}, err
	}
	id, err := evidence.ParseID(r.ID)
	if err != nil {
		return node.ReportRequest{}, err
	}
	alg, err := evidence.ParseAlgorithm(r.Algorithm)
	if err != nil {
		return node.ReportRequest{}, badRequest("%v", err)
	}
	if r.Digest == "" {
		return node.ReportRequest{}, badRequest("give the digest of the content to report on")
	}
	d, err := evidence.ParseDigest(alg, r.Digest)
	if err != nil {
		return node.ReportRequest{}, badRequest("digest: %v", err)
	}
	req := node.ReportRequest{ID: id, Digest: d, Kind: r.Content, Name: r.FileName, Size: -1}
	switch r.Content {
	case node.ReportFile:
		if r.FileName == "" {
			return req, badRequest(`a "file" report needs its file_name`)
		}
	case node.ReportText, node.ReportDigest:
		if r.FileName != "" {
			return req, badRequest(`file_name is for "file" reports only`)
		}
	default:
		return req, badRequest(`content %q: want "file", "text" or "digest"`, r.Content)
	}
	if len(r.FileName) > MaxReportFileName {
		return req, badRequest("file_name longer than %d bytes", MaxReportFileName)
	}
	if err := evidence.ValidateText(r.FileName); err != nil {
		return req, badRequest("file_name: %v", err)
	}
	if r.Size != nil {
		if *r.Size < 0 || *r.Size > 1<<50 || r.Content == node.ReportDigest {
			return req, badRequest("size %d: want the content's size in bytes (not for a typed digest)", *r.Size)
		}
		req.Size = *r.Size
	}
	return req, nil
}

// report handles POST /verify/report.pdf: the node verifies the digest
// now and answers with its signed verification report (核验报告).
func (s *server) report(c fiber.Ctx) error {
	b, err := body(c, MaxJSONBody)
	if err != nil {
		return err
	}
	req, err := DecodeReport(b)
	if err != nil {
		return err
	}
	base, err := s.baseURL()
	if err != nil {
		return err
	}
	ctx, done := clientContext(c)
	defer done()
	doc, err := s.svc.Report(ctx, req, base)
	if ok, perr := pending(c, err); ok {
		return perr
	}
	if err != nil {
		return err
	}
	c.Set(HeaderFingerprint, doc.Fingerprint)
	return sendPDF(c, doc.PDF, "attachment", fmt.Sprintf("verification-report-%s.pdf", req.ID))
}
