package fabric

import (
	"bytes"
	"context"

	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// FindDigest implements node.Ledger through the chaincode's digest index
// (IDsByDigest: the first thousand records of a digest, in ID order; a
// digest recorded more often than that is paged within those).
func (l *Ledger) FindDigest(ctx context.Context, d evidence.Digest, after evidence.ID, limit int) ([]evidence.ID, error) {
	ids, err := l.IDsByDigest(ctx, d)
	if err != nil {
		return nil, err
	}
	out := make([]evidence.ID, 0, min(limit, len(ids)))
	for _, id := range ids {
		if bytes.Compare(id[:], after[:]) > 0 && len(out) < limit {
			out = append(out, id)
		}
	}
	return out, nil
}
