package node

import (
	"context"
	"fmt"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
)

// Content kinds of a report request: what the visitor gave.
const (
	ReportFile   = pdf.ContentFile   // a file, hashed in the visitor's browser
	ReportText   = pdf.ContentText   // a text, hashed in the visitor's browser
	ReportDigest = pdf.ContentDigest // a digest the visitor typed
)

// ReportRequest asks for a verification report (核验报告): the digest of
// what the visitor holds, and what their browser says it was. The node
// sees the digest only; Name and Size are printed as the browser's
// statement.
type ReportRequest struct {
	ID     evidence.ID
	Digest evidence.Digest
	Kind   string // ReportFile, ReportText or ReportDigest
	Name   string // the file's name (ReportFile)
	Size   int64  // its size in bytes; negative: not given
}

// Report verifies the request's digest against its ID, as Verify does,
// now, and renders the verification report (node/pdf Report) with the
// node's public URL base and its ledger, signed by the node like its
// certificates and packages. A record still queued fails with a
// *PendingError; an unknown ID is reported as not found.
func (s *Service) Report(ctx context.Context, req ReportRequest, base string) (Document, error) {
	switch req.Kind {
	case ReportFile, ReportText, ReportDigest:
	default:
		return Document{}, fmt.Errorf("%w: content kind %q (want file, text or digest)", ErrInvalid, req.Kind)
	}
	if err := req.Digest.Validate(); err != nil {
		return Document{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	at := s.now()
	v, err := s.Verify(ctx, req.ID, req.Digest)
	if err != nil {
		return Document{}, err
	}
	if v.Outcome == verifier.OutcomePending {
		return Document{}, &PendingError{IDs: []evidence.ID{req.ID}}
	}
	info, err := s.Info(ctx)
	if err != nil {
		return Document{}, err
	}
	r, err := s.renderer.get()
	if err != nil {
		return Document{}, err
	}
	doc, err := r.Report(ctx, v, pdf.ReportOptions{BaseURL: base, Ledger: info.Name, LedgerKind: info.Kind, At: at,
		Content: pdf.ReportContent{Kind: req.Kind, Name: req.Name, Size: req.Size, Digest: req.Digest}})
	if err != nil {
		s.renderer.failed()
		return Document{}, fmt.Errorf("report of %s: %w", req.ID, err)
	}
	sg := s.signer
	sg.Reason = "核验报告由本节点签署 / verification report made by this node"
	out, err := pdf.Sign(doc, sg)
	if err != nil {
		return Document{}, fmt.Errorf("%w: signing: %w", ErrNoCertificates, err)
	}
	return Document{PDF: out, Fingerprint: evpkg.Digest(out)}, nil
}
