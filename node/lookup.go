package node

import (
	"context"
	"fmt"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Digest look-up: "which records hold this digest?", so that someone
// holding a file but no evidence ID can find its records (the portal's
// verification without an ID, GET /api/v1/evidence?digest=…).

// Look-up page sizes.
const (
	// DefaultLookup is the page size of Lookup when none is asked for.
	DefaultLookup = 20
	// MaxLookup is the largest page Lookup returns.
	MaxLookup = 100
)

// Found is one page of the records holding a digest.
type Found struct {
	// IDs of the records, in ID (time) order.
	IDs []evidence.ID
	// Receipts are their public receipts, in the same order.
	Receipts []Receipt
	// Next is the cursor of the next page; empty on the last one.
	Next string
}

// Lookup returns the records on the ledger holding digest d, limit at a
// time (0: DefaultLookup; at most MaxLookup), from cursor (empty: the
// first page; else a Next of an earlier page). A digest nobody recorded
// gives an empty page, not an error; a malformed cursor is ErrInvalid.
func (s *Service) Lookup(ctx context.Context, d evidence.Digest, limit int, cursor string) (Found, error) {
	if err := d.Validate(); err != nil {
		return Found{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	switch {
	case limit == 0:
		limit = DefaultLookup
	case limit < 0 || limit > MaxLookup:
		return Found{}, fmt.Errorf("%w: limit %d (want 1 to %d)", ErrInvalid, limit, MaxLookup)
	}
	var after evidence.ID
	if cursor != "" {
		id, err := evidence.ParseID(cursor)
		if err != nil {
			return Found{}, fmt.Errorf("%w: cursor %q is not one this node gave: %v", ErrInvalid, cursor, err)
		}
		after = id
	}
	// One more than asked tells whether there is a next page.
	ids, err := s.ledger.FindDigest(ctx, d, after, limit+1)
	if err != nil {
		return Found{}, err
	}
	var f Found
	if len(ids) > limit {
		ids = ids[:limit]
		f.Next = ids[limit-1].String()
	}
	f.IDs = ids
	f.Receipts = make([]Receipt, 0, len(ids))
	for _, id := range ids {
		rc, err := s.Receipt(ctx, id)
		if err != nil {
			return Found{}, fmt.Errorf("record %s found by digest: %w", id, err)
		}
		f.Receipts = append(f.Receipts, rc)
	}
	return f, nil
}

// OutcomeNoContent is the outcome of VerifyRecord when the record is on
// the ledger and its proof holds: nothing was compared, so the verdict
// is fail, never pass.
const OutcomeNoContent = "no_content"

// VerifyRecord checks the record of id on its own, with no content: the
// on_ledger and proof_intact checks as Verify makes them, and
// digest_match not made (Skipped, not passed). The verdict is never pass:
// a record alone proves nothing about a document someone holds. Outcomes:
// OutcomeNoContent when both checks hold, else Verify's (not_found,
// pending, proof_invalid).
func (s *Service) VerifyRecord(ctx context.Context, id evidence.ID) (verifier.Verification, error) {
	c, err := s.verificationCase(ctx, id)
	if err != nil {
		return verifier.Verification{}, err
	}
	c.Digests, c.Original = nil, nil
	v := verifier.Judge(c)
	if v.Outcome == verifier.OutcomePass || v.Outcome == verifier.OutcomeMismatch {
		v.Outcome = OutcomeNoContent
	}
	v.Verdict = verifier.VerdictFail
	for i := range v.Checks {
		ch := &v.Checks[i]
		if ch.Name != verifier.CheckDigestMatch || v.Outcome != OutcomeNoContent {
			continue
		}
		ch.Pass, ch.Skipped = false, true
		ch.Reason = "not compared: no file, text or digest was given; the recorded digest alone proves nothing about a document"
		ch.ReasonZH = "未比对：尚未提供文件、文本或摘要；仅凭存证记录不能证明任何文件与之一致"
	}
	s.metrics.verifications.WithLabelValues(v.Outcome).Inc()
	return v, nil
}
