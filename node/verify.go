package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Verify checks digests of content against evidence id, as
// verifier.Judge does, with the block re-read from the ledger and the
// ledger's trust roots: (1) digest_match: a digest equals the recorded
// digest of its algorithm; (2) on_ledger: the block, re-read from the
// ledger, has the receipt's block hash and holds the record at the
// receipt's position; (3) proof_intact: the receipt's Merkle proof, header
// and block signatures verify against the ledger's trust roots.
//
// Of the digests given (e.g. SHA-256 and SM3 of an uploaded file), the one
// of the record's primary algorithm is compared, else the first the record
// holds, else the first.
func (s *Service) Verify(ctx context.Context, id evidence.ID, ds ...evidence.Digest) (verifier.Verification, error) {
	if len(ds) == 0 {
		return verifier.Verification{}, fmt.Errorf("%w: no digest to verify", ErrInvalid)
	}
	c, err := s.verificationCase(ctx, id)
	if err != nil {
		return verifier.Verification{}, err
	}
	c.Digests = ds
	v := verifier.Judge(c)
	s.metrics.verifications.WithLabelValues(v.Outcome).Inc()
	return v, nil
}

// verificationCase gathers what the node holds about id for Judge.
func (s *Service) verificationCase(ctx context.Context, id evidence.ID) (verifier.Case, error) {
	c := verifier.Case{ID: id.String(), RootsName: verifier.Text{EN: "the ledger's trust roots", ZH: "信任根"}}
	rc, err := s.Receipt(ctx, id)
	var ce *CorruptedError
	switch {
	case errors.Is(err, ErrPending):
		c.Pending = true
		return c, nil
	case errors.Is(err, ErrNotFound):
		return c, nil
	case errors.As(err, &ce) && ce.Stored != nil:
		// Judged as stored: its checks fail and say why.
		rc = Receipt{Receipt: *ce.Stored}
	case errors.As(err, &ce):
		c.Integrity = err
		return c, nil
	case err != nil:
		return c, err
	}
	c.Receipt = &rc.Receipt
	info, err := s.Info(ctx)
	if err != nil {
		return c, err
	}
	c.Roots = info.TrustRoots
	if b, err := s.ledger.Block(ctx, rc.BlockNumber); err != nil {
		c.BlockErr = fmt.Errorf("block %d cannot be read from the ledger: %v", rc.BlockNumber, err)
	} else {
		c.Block = &verifier.RawBlock{Kind: b.Kind, Raw: b.Raw}
	}
	return c, nil
}
