// Package node is the service core: the Ledger interface with its errors
// and the batching loop both ledgers share, the submission service (IDs,
// quotas, idempotency, private metadata, the durable queue), verification
// (through verifier.Judge), certificates and evidence packages, content
// hashing and PDF inspection, and the node's metrics. Ledger
// implementations live in sub-packages (embedded, fabric), the badger
// store in store.
package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Errors a Ledger returns (wrapped).
var (
	// ErrNotFound: no record with that ID, or no block at that number.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a different record already exists under that ID.
	ErrConflict = errors.New("a different record exists under this ID")
	// ErrUnavailable: the ledger cannot commit or answer now.
	ErrUnavailable = errors.New("ledger unavailable")
	// ErrClosed: the ledger was closed.
	ErrClosed = errors.New("ledger closed")
)

// Ledger is where records go. Both implementations (embedded, Fabric)
// pass the conformance suite in ledgertest.
type Ledger interface {
	// Append commits records and returns their receipts, in order, once
	// they are durably on the ledger. Every record must be valid. A record
	// already on the ledger with the same canonical encoding returns its
	// existing receipt (retries are safe); with a different one, the call
	// fails with ErrConflict and nothing is written. ErrUnavailable when
	// the ledger cannot commit.
	Append(ctx context.Context, recs []evidence.Record) ([]verifier.Receipt, error)
	// Receipt returns the receipt of a committed record, or ErrNotFound.
	Receipt(ctx context.Context, id evidence.ID) (verifier.Receipt, error)
	// Block returns block n as stored, or ErrNotFound past the head.
	Block(ctx context.Context, n uint64) (Block, error)
	// Info returns the ledger's name, kind, height and trust roots.
	Info(ctx context.Context) (Info, error)
	// Close stops the ledger; pending Appends fail with ErrClosed.
	Close() error
}

// Block is a block as a ledger stores it.
type Block struct {
	Header block.Header
	// Kind says how Raw is encoded: block.KindEmbedded (JSON block.Embedded) or
	// block.KindFabric (protobuf common.Block).
	Kind string
	Raw  []byte
	// Records is the number of evidence records in the block.
	Records int
	// Time is the ledger time of the block (embedded: the seal's time).
	Time string
}

// Info describes a ledger.
type Info struct {
	Name       string
	Kind       string
	Height     uint64 // number of blocks
	TrustRoots block.TrustRoots
}

// Leaves returns the canonical encodings (the Merkle leaves) of the
// records of one Append, refusing an invalid record or an ID given twice
// (ErrConflict): the checks every Ledger makes before it writes anything.
func Leaves(recs []evidence.Record) ([][]byte, error) {
	leaves := make([][]byte, len(recs))
	seen := make(map[evidence.ID]bool, len(recs))
	for i, r := range recs {
		leaf, err := r.Canonical()
		if err != nil {
			return nil, err
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("%w: %s appears twice in one append", ErrConflict, r.ID)
		}
		seen[r.ID] = true
		leaves[i] = leaf
	}
	return leaves, nil
}
