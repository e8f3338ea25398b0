package fabricblock

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	vblock "github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// The evidence chaincode's world state, as far as verifiers and clients
// read it. The chaincode (chaincode/) writes exactly these formats; this
// package owns them so that a verifier needs nothing but verifier/.
//
//	key                                   value
//	<evidence ID, canonical 27 chars>     Entry (JSON; the record's place, not the record)
//	\x00batch\x00<tx ID>\x00              Batch (JSON)
//	\x00digest\x00<alg>\x00<hex>\x00<ID>\x00   one byte 0x00 (the digest index)
//
// The last two are Fabric composite keys (shim.CreateCompositeKey): the
// object type and each attribute followed by U+0000, after a leading U+0000.
const (
	// StateVersion is the version of Batch.
	StateVersion = 1
	// EntryVersion is the version of the Entry the chaincode writes: 2,
	// which names the record by its leaf hash. Version 1 (written before
	// 2026-12-02) held the whole record; it is still read (ParseEntry,
	// Entry.Holds), so ledgers written by either chaincode verify.
	EntryVersion = 2
	// EntryVersionRecord is Entry version 1, which holds the record.
	EntryVersionRecord = 1
	// BatchObject and DigestObject are the composite key object types.
	BatchObject  = "batch"
	DigestObject = "digest"
)

// The evidence chaincode's functions (the methods of chaincode.Contract,
// whose test checks these names): what clients invoke and what a block's
// transaction arguments name.
const (
	FnPut          = "Put"          // one record
	FnPutBatch     = "PutBatch"     // records joined by RecordSeparator
	FnGet          = "Get"          // an Entry by ID
	FnLookup       = "Lookup"       // Entries (or null) of IDs joined by "\n"
	FnGetBatch     = "GetBatch"     // a Batch by transaction ID
	FnListByDigest = "ListByDigest" // IDs holding a digest (algorithm, hex)
)

// compositeKey mirrors shim.CreateCompositeKey for attributes without
// U+0000 (callers pass hex, IDs and algorithm names).
func compositeKey(object string, attrs ...string) string {
	var b strings.Builder
	b.WriteByte(0)
	b.WriteString(object)
	b.WriteByte(0)
	for _, a := range attrs {
		b.WriteString(a)
		b.WriteByte(0)
	}
	return b.String()
}

// BatchKey is the key a batch transaction writes its Batch under.
func BatchKey(txID string) string { return compositeKey(BatchObject, txID) }

// DigestKey is the index key of one digest of one record.
func DigestKey(alg, hexDigest, id string) string {
	return compositeKey(DigestObject, alg, hexDigest, id)
}

// Entry is stored under a record's evidence ID: where the record is (the
// transaction and its place in the batch) and which record it is (its
// leaf hash). The record itself is in the transaction's arguments, which
// the endorsements sign, so it is not written twice: the entry costs every
// peer ~170 bytes of state a record instead of ~500.
type Entry struct {
	V int `json:"v"`
	// Record is the canonical record encoding (the Merkle leaf), as a
	// string: version 1 only.
	Record string `json:"record,omitempty"`
	// Leaf is the RFC 6962 leaf hash of the canonical record encoding,
	// lower-case hex: version 2.
	Leaf string `json:"leaf,omitempty"`
	// TxID is the transaction that wrote the record.
	TxID string `json:"tx_id"`
	// Index and Size place the record in that transaction's batch.
	Index int `json:"index"`
	Size  int `json:"size"`
	// LedgerTime is the transaction's timestamp (the channel header's,
	// asserted by the client), in evidence.TimeLayout: version 1 only
	// (the transaction carries it).
	LedgerTime string `json:"ledger_time,omitempty"`
}

// NewEntry is the Entry the chaincode writes for leaf, record index of a
// batch of size records written by transaction txID.
func NewEntry(leaf []byte, txID string, index, size int) Entry {
	return Entry{V: EntryVersion, Leaf: vblock.LeafHex(leaf), TxID: txID, Index: index, Size: size}
}

// Holds reports whether the entry names the record whose canonical
// encoding is leaf: the one rule for "the record stored under this ID is
// this one", used by the chaincode (a different record under an existing
// ID is a conflict), the node and the verifier.
func (e Entry) Holds(leaf []byte) bool {
	if e.V == EntryVersionRecord {
		return e.Record == string(leaf)
	}
	return e.Leaf == vblock.LeafHex(leaf)
}

// Batch is stored under BatchKey(tx ID) by every batch transaction.
type Batch struct {
	V int `json:"v"`
	// Root is the RFC 6962 Merkle tree hash over the batch's records (the
	// transaction's records argument, in order), lower-case hex.
	Root       string `json:"root"`
	Size       int    `json:"size"`
	LedgerTime string `json:"ledger_time"`
}

// ErrState is wrapped by errors decoding chaincode state.
var ErrState = errors.New("invalid evidence chaincode state")

func decodeStrict(b []byte, v any) error {
	if err := strict.Decode(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrState, err)
	}
	return nil
}

// ParseEntry decodes an Entry of either version.
func ParseEntry(b []byte) (Entry, error) {
	var e Entry
	if err := decodeStrict(b, &e); err != nil {
		return Entry{}, err
	}
	switch e.V {
	case EntryVersionRecord:
		if e.Record == "" || e.Leaf != "" {
			return Entry{}, fmt.Errorf("%w: a version 1 entry holds the record and no leaf hash", ErrState)
		}
	case EntryVersion:
		if e.Record != "" || e.LedgerTime != "" {
			return Entry{}, fmt.Errorf("%w: a version 2 entry holds neither the record nor a ledger time", ErrState)
		}
		if d, err := hex.DecodeString(e.Leaf); err != nil || len(d) != 32 || hex.EncodeToString(d) != e.Leaf {
			return Entry{}, fmt.Errorf("%w: entry leaf hash %q", ErrState, e.Leaf)
		}
	default:
		return Entry{}, fmt.Errorf("%w: entry version %d", ErrState, e.V)
	}
	if e.Size < 1 || e.Index < 0 || e.Index >= e.Size {
		return Entry{}, fmt.Errorf("%w: entry at %d of %d", ErrState, e.Index, e.Size)
	}
	return e, nil
}

// ParseBatch decodes a Batch and its root.
func ParseBatch(b []byte) (Batch, []byte, error) {
	var bt Batch
	if err := decodeStrict(b, &bt); err != nil {
		return Batch{}, nil, err
	}
	if bt.V != StateVersion {
		return Batch{}, nil, fmt.Errorf("%w: batch version %d", ErrState, bt.V)
	}
	root, err := hex.DecodeString(bt.Root)
	if err != nil || len(root) != 32 || hex.EncodeToString(root) != bt.Root {
		return Batch{}, nil, fmt.Errorf("%w: batch root %q", ErrState, bt.Root)
	}
	if bt.Size < 1 {
		return Batch{}, nil, fmt.Errorf("%w: batch of %d records", ErrState, bt.Size)
	}
	return bt, root, nil
}

// RecordSeparator separates records in the batch argument: canonical
// record encodings are compact JSON and never contain a raw newline.
const RecordSeparator = "\n"

// JoinRecords writes the records argument of a batch transaction.
func JoinRecords(leaves [][]byte) string {
	return string(bytes.Join(leaves, []byte(RecordSeparator)))
}

// SplitRecords reads the records argument of a batch transaction.
func SplitRecords(arg []byte) [][]byte {
	if len(arg) == 0 {
		return nil
	}
	return bytes.Split(arg, []byte(RecordSeparator))
}
