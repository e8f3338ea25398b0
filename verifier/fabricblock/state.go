package fabricblock

import (
	"bytes"
	"encoding/binary"
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
//	<evidence ID, canonical 27 chars>     Entry (binary; the record's place, not the record)
//	\x00batch\x00<tx ID>\x00              Batch (JSON)
//	\x00digest\x00<alg>\x00<hex>\x00<ID>\x00   one byte 0x00 (the digest index)
//
// The last two are Fabric composite keys (shim.CreateCompositeKey): the
// object type and each attribute followed by U+0000, after a leading U+0000.
const (
	// StateVersion is the version of Batch.
	StateVersion = 1
	// EntryVersion is the version of the Entry the chaincode writes: 3,
	// binary (Entry.Marshal), which names the record by its leaf hash.
	// Versions 1 (JSON holding the whole record, written before
	// 2026-12-02) and 2 (JSON with the leaf hash, before 2026-12-04) are
	// still read (ParseEntry, Entry.Holds), so ledgers written by any of
	// these chaincodes verify.
	EntryVersion = 3
	// EntryVersionLeaf is Entry version 2: JSON naming the leaf hash.
	EntryVersionLeaf = 2
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
// the endorsements sign, so it is not written twice.
//
// Version 3, the one written, is binary (Entry.Marshal), 67 to 75 bytes
// (at most 69 in a batch of up to 16,383 records; the chaincode takes at
// most 5,000):
//
//	0x03 ‖ leaf hash (32 bytes) ‖ tx ID (32 bytes) ‖ uvarint index ‖ uvarint size
//
// where the tx ID's bytes are its 64 lower-case hex digits decoded (a
// Fabric transaction ID is the hex SHA-256 of the nonce and creator, and
// the peer refuses any other). Versions 1 and 2 are JSON objects (their
// first byte is '{'): version 2, {"v":2,"leaf","tx_id","index","size"},
// ~170 bytes; version 1 also the record and a ledger time, ~500. Each
// byte of an entry is carried in the transaction's write set, stored and
// validated by every peer, so the binary form is smaller by 100 bytes a
// record. In JSON (the answer of Lookup) any version reads as its fields.
type Entry struct {
	V int `json:"v"`
	// Record is the canonical record encoding (the Merkle leaf), as a
	// string: version 1 only.
	Record string `json:"record,omitempty"`
	// Leaf is the RFC 6962 leaf hash of the canonical record encoding,
	// lower-case hex: versions 2 and 3.
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

// entryLen is the length of a version 3 entry without its two uvarints.
const entryLen = 1 + 32 + 32

// maxEntrySize bounds an entry's batch size: far above any batch a
// transaction can carry, and an int on every platform.
const maxEntrySize = 1 << 30

// Marshal encodes a version 3 entry (the binary form above). It refuses
// other versions (they were JSON, and are no longer written), a leaf hash
// or tx ID that is not 64 lower-case hex digits, and a place outside the
// batch.
func (e Entry) Marshal() ([]byte, error) {
	if e.V != EntryVersion {
		return nil, fmt.Errorf("%w: only version %d entries are written, not %d", ErrState, EntryVersion, e.V)
	}
	leaf, ok := hex32(e.Leaf)
	if !ok {
		return nil, fmt.Errorf("%w: entry leaf hash %q", ErrState, e.Leaf)
	}
	tx, ok := hex32(e.TxID)
	if !ok {
		return nil, fmt.Errorf("%w: transaction ID %q is not 64 lower-case hex digits", ErrState, e.TxID)
	}
	if err := checkPlace(uint64(e.Index), uint64(e.Size)); err != nil {
		return nil, err
	}
	b := make([]byte, 0, entryLen+2*binary.MaxVarintLen32)
	b = append(b, EntryVersion)
	b = append(b, leaf...)
	b = append(b, tx...)
	b = binary.AppendUvarint(b, uint64(e.Index))
	return binary.AppendUvarint(b, uint64(e.Size)), nil
}

// hex32 decodes 64 lower-case hex digits.
func hex32(s string) ([]byte, bool) {
	d, err := hex.DecodeString(s)
	return d, err == nil && len(d) == 32 && hex.EncodeToString(d) == s
}

// parseEntryBinary decodes a version 3 entry: its exact length, minimal
// uvarints, nothing after them.
func parseEntryBinary(b []byte) (Entry, error) {
	if len(b) < entryLen+2 {
		return Entry{}, fmt.Errorf("%w: a version %d entry of %d bytes", ErrState, EntryVersion, len(b))
	}
	rest := b[entryLen:]
	var v [2]uint64
	for i := range v {
		x, n := binary.Uvarint(rest)
		if n <= 0 || n != len(binary.AppendUvarint(nil, x)) {
			return Entry{}, fmt.Errorf("%w: a version %d entry's %s is not a minimal uvarint", ErrState, EntryVersion, [2]string{"index", "size"}[i])
		}
		v[i], rest = x, rest[n:]
	}
	if len(rest) != 0 {
		return Entry{}, fmt.Errorf("%w: %d bytes after a version %d entry", ErrState, len(rest), EntryVersion)
	}
	if err := checkPlace(v[0], v[1]); err != nil {
		return Entry{}, err
	}
	return Entry{
		V:     EntryVersion,
		Leaf:  hex.EncodeToString(b[1:33]),
		TxID:  hex.EncodeToString(b[33:entryLen]),
		Index: int(v[0]),
		Size:  int(v[1]),
	}, nil
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

// ParseEntry decodes an Entry of any version: version 3 binary, versions
// 1 and 2 JSON.
func ParseEntry(b []byte) (Entry, error) {
	if len(b) > 0 && b[0] == EntryVersion {
		return parseEntryBinary(b)
	}
	var e Entry
	if err := decodeStrict(b, &e); err != nil {
		return Entry{}, err
	}
	if e.V == EntryVersion {
		return Entry{}, fmt.Errorf("%w: a version %d entry is stored binary, not as JSON", ErrState, EntryVersion)
	}
	if err := e.Check(); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// Check reports whether e's fields make an entry of its version: what
// ParseEntry checks of stored bytes, for an entry that arrives as its
// fields (the JSON answer of Lookup, where a version 3 entry reads as
// {"v":3,"leaf","tx_id","index","size"}).
func (e Entry) Check() error {
	switch e.V {
	case EntryVersionRecord:
		if e.Record == "" || e.Leaf != "" {
			return fmt.Errorf("%w: a version 1 entry holds the record and no leaf hash", ErrState)
		}
	case EntryVersionLeaf:
		if e.Record != "" || e.LedgerTime != "" {
			return fmt.Errorf("%w: a version 2 entry holds neither the record nor a ledger time", ErrState)
		}
		if _, ok := hex32(e.Leaf); !ok {
			return fmt.Errorf("%w: entry leaf hash %q", ErrState, e.Leaf)
		}
	case EntryVersion:
		if e.Record != "" || e.LedgerTime != "" {
			return fmt.Errorf("%w: a version %d entry holds neither the record nor a ledger time", ErrState, EntryVersion)
		}
		_, err := e.Marshal() // its leaf hash, tx ID and place
		return err
	default:
		return fmt.Errorf("%w: entry version %d", ErrState, e.V)
	}
	return checkPlace(uint64(e.Index), uint64(e.Size))
}

// checkPlace is the one rule for an entry's place in its batch: record
// index of a batch of size, 1 ≤ size ≤ maxEntrySize. A negative int
// index or size converts to above maxEntrySize and is refused too.
func checkPlace(index, size uint64) error {
	if size < 1 || size > maxEntrySize || index >= size {
		return fmt.Errorf("%w: entry at %d of %d", ErrState, int64(index), int64(size))
	}
	return nil
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
	root, ok := hex32(bt.Root)
	if !ok {
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
