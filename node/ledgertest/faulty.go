package ledgertest

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Faulty is a real Ledger behind a fault switch: Down makes Append fail
// with node.ErrUnavailable, Slow delays it. Fault injection, not a mock.
type Faulty struct {
	node.Ledger
	Down atomic.Bool
	Slow atomic.Int64 // nanoseconds added to each Append
}

// Append implements node.Ledger.
func (f *Faulty) Append(ctx context.Context, recs []evidence.Record) ([]verifier.Receipt, error) {
	if f.Down.Load() {
		return nil, fmt.Errorf("%w: injected fault", node.ErrUnavailable)
	}
	time.Sleep(time.Duration(f.Slow.Load()))
	return f.Ledger.Append(ctx, recs)
}
