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
	// ErrCorrupted: data the ledger stored does not match its own hashes
	// (a block file was damaged or altered). The data is not served; the
	// error is a *CorruptedError saying where.
	ErrCorrupted = errors.New("ledger data corrupted")
)

// CorruptedError is an ErrCorrupted: which block, which record, and what
// does not match.
type CorruptedError struct {
	// Block is the block the bad data belongs to; -1 when it is not known
	// or the problem is not in one block (the head record, the index).
	Block int64
	// Record is the ID of the record read, if any.
	Record string
	// Reason says what does not match, in English.
	Reason string
	// Stored is the record's receipt as stored, unchecked, when it could be
	// read: for verification to judge (its checks fail on it), never to
	// serve.
	Stored *verifier.Receipt
}

func (e *CorruptedError) Error() string {
	s := "ledger data corrupted"
	if e.Block >= 0 {
		s += fmt.Sprintf(": block %d", e.Block)
	}
	if e.Record != "" {
		s += ": record " + e.Record
	}
	return s + ": " + e.Reason
}

// Unwrap returns ErrCorrupted.
func (e *CorruptedError) Unwrap() error { return ErrCorrupted }

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
	// A receipt whose stored data does not match the ledger's hashes is
	// not returned: the error is a *CorruptedError (ErrCorrupted).
	Receipt(ctx context.Context, id evidence.ID) (verifier.Receipt, error)
	// Block returns block n as stored, or ErrNotFound past the head; a
	// *CorruptedError (ErrCorrupted) if its stored bytes do not match the
	// ledger's hashes.
	Block(ctx context.Context, n uint64) (Block, error)
	// Info returns the ledger's name, kind, height and trust roots.
	Info(ctx context.Context) (Info, error)
	// FindDigest returns the IDs of committed records holding digest d
	// (of its algorithm, primary or not), in ID order, after the ID after
	// (the zero ID: from the first), at most limit of them (limit > 0).
	// None is not an error. ErrUnavailable when the ledger cannot answer.
	FindDigest(ctx context.Context, d evidence.Digest, after evidence.ID, limit int) ([]evidence.ID, error)
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
	// Timestamps is the trusted time the node holds for the block's
	// batches (Service.Block fills it when the node has a Timestamper).
	Timestamps []BatchTimestamps
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
