// Package view holds the node's view of a receipt: the ledger's receipt
// plus what only the node knows about the record. It depends on the
// verifier alone, so that the Go client (web/client) shares the one
// encoding without pulling the node's storage into a program.
package view

import (
	"encoding/json"

	"github.com/evidence-node/evidence-node/verifier"
)

// Receipt is a receipt as the node shows it: the ledger's receipt (what a
// verifier checks) and what only this node knows about the record — its
// inspection of the submitted content (a PDF's pages and signatures,
// integrity and trust apart) and, for the submitting platform alone, the
// private metadata and the salt of its commitment. Neither is part of the
// ledger proof.
type Receipt struct {
	verifier.Receipt
	PDF      json.RawMessage `json:"pdf,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// MetaSalt is the salt (lower-case hex) of the record's metadata
	// commitment (a version 2 record's meta_commitment): with Metadata, the
	// platform can recompute evidence.MetaCommitment and check it against
	// the record in proof.record. Empty for version 1 records.
	MetaSalt string `json:"meta_salt,omitempty"`
}

// MarshalJSON writes the receipt's members, then pdf, metadata and
// meta_salt.
func (r Receipt) MarshalJSON() ([]byte, error) {
	return r.AppendJSON(make([]byte, 0, 2048)), nil
}

// AppendJSON appends the JSON encoding of the receipt to b.
func (r Receipt) AppendJSON(b []byte) []byte {
	b = r.Receipt.AppendFields(b)
	if len(r.PDF) > 0 {
		b = append(append(b, `,"pdf":`...), r.PDF...)
	}
	if len(r.Metadata) > 0 {
		b = append(append(b, `,"metadata":`...), r.Metadata...)
	}
	if r.MetaSalt != "" {
		b = append(append(append(b, `,"meta_salt":"`...), r.MetaSalt...), '"')
	}
	return append(b, '}')
}

// Usage is a platform's use of its quota in the current period, as
// GET /api/v1/platform/usage answers it.
type Usage struct {
	Platform string `json:"platform"`
	// Quota is the records allowed per period; 0: no cap (Left and the
	// period are then absent).
	Quota       int64  `json:"quota"`
	Used        int64  `json:"used"`
	Left        *int64 `json:"left,omitempty"`
	Period      string `json:"period,omitempty"`
	PeriodStart string `json:"period_start,omitempty"` // RFC 3339
	PeriodEnd   string `json:"period_end,omitempty"`
}
