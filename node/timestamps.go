package node

import (
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
)

// Timestamper gives receipts and blocks the trusted timestamps (RFC 3161
// tokens) the node holds for them; node/tsa implements it. Tokens arrive
// after the block: a receipt says trusted time is pending until then.
type Timestamper interface {
	// Stamp sets each receipt's timestamps and time_source from the tokens
	// held for its block (embedded) or transaction (Fabric)
	// (verifier.Receipt.WithTimestamps).
	Stamp(rcs []verifier.Receipt) error
	// BlockTimestamps lists the trusted time held for each batch of block b:
	// one entry for an embedded block, one per evidence transaction of a
	// Fabric block (roots name the evidence chaincode).
	BlockTimestamps(b Block, roots block.TrustRoots) ([]BatchTimestamps, error)
	// TSARoots are the TSA root certificates (PEM) the tokens were checked
	// against: the node's trust roots list them (tsa_roots).
	TSARoots() []string
}

// BatchTimestamps is the trusted time a node holds for one batch of a
// block.
type BatchTimestamps struct {
	// TxID is the Fabric transaction of the batch (empty on the embedded
	// ledger, where the batch is the block).
	TxID string `json:"tx_id,omitempty"`
	// TrustedTime is verifier.TrustedNone, TrustedPending or
	// TrustedStamped.
	TrustedTime string               `json:"trusted_time"`
	Timestamps  []verifier.Timestamp `json:"timestamps"`
}

// TransparencyLog gives receipts their inclusion proof in the node's
// transparency log (node/tlog implements it); its key joins the trust
// roots.
type TransparencyLog interface {
	// Prove sets the log_proof of each receipt whose record the log
	// holds (verifier.Receipt.LogProof); the others are left as they are.
	Prove(rcs []verifier.Receipt) error
	// TrustRoot names the log: origin, key and the node's witnesses.
	TrustRoot() *block.Log
}
