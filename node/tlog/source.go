package tlog

import (
	"context"
	"fmt"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier/block"
)

// BlockLeaveser is a ledger that reads a block's evidence records itself
// (the Fabric ledger: only valid evidence transactions count).
type BlockLeaveser interface {
	BlockLeaves(ctx context.Context, n uint64) ([][]byte, error)
}

// LedgerSource follows a node.Ledger: its height, and the records of each
// block (an embedded block's records, in the block's order; a ledger that
// is a BlockLeaveser answers itself).
func LedgerSource(led node.Ledger) Source { return ledgerSource{led} }

type ledgerSource struct{ led node.Ledger }

func (s ledgerSource) Height(ctx context.Context) (uint64, error) {
	info, err := s.led.Info(ctx)
	return info.Height, err
}

func (s ledgerSource) BlockLeaves(ctx context.Context, n uint64) ([][]byte, error) {
	if bl, ok := s.led.(BlockLeaveser); ok {
		return bl.BlockLeaves(ctx, n)
	}
	b, err := s.led.Block(ctx, n)
	if err != nil {
		return nil, err
	}
	if b.Kind != block.KindEmbedded {
		return nil, fmt.Errorf("tlog: block %d is of kind %q, and the ledger does not read its records", n, b.Kind)
	}
	e, err := block.ParseEmbedded(b.Raw)
	if err != nil {
		return nil, fmt.Errorf("tlog: block %d: %w", n, err)
	}
	return e.Records, nil
}

// Positional: an embedded block's records are its batch tree's leaves in
// order, so a receipt's leaf index is the record's place in what
// BlockLeaves returns (not so on Fabric, where a block's leaves are those
// of its valid evidence transactions, one batch each).
func (s ledgerSource) Positional() bool {
	_, ok := s.led.(BlockLeaveser)
	return !ok
}
