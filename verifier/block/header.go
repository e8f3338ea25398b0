// Package block holds the block formats the verifier checks: the block
// header and its hash (computed exactly as Hyperledger Fabric computes it,
// so one function serves Fabric and embedded blocks), the embedded ledger's
// block and its signed seal, and the trust roots that seals are checked
// against.
package block

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/evidence-node/evidence-node/verifier/strict"
)

// Header is a block header: the block's position, the previous block's
// header hash and the hash of this block's data.
type Header struct {
	Number       uint64
	PreviousHash []byte
	DataHash     []byte
}

// NewHeader returns the header of block number with the given hashes; an
// empty hash is kept as nil, so headers compare and encode alike whatever
// their source (JSON, protobuf).
func NewHeader(number uint64, previousHash, dataHash []byte) Header {
	return Header{Number: number, PreviousHash: nilIfEmpty(previousHash), DataHash: nilIfEmpty(dataHash)}
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Bytes returns the ASN.1 DER encoding SEQUENCE { INTEGER number, OCTET
// STRING previous_hash, OCTET STRING data_hash }, as Fabric's
// protoutil.BlockHeaderBytes does (asn1.Marshal of a big.Int and two byte
// slices), written out here because it cannot fail.
func (h Header) Bytes() []byte {
	// INTEGER: minimal big-endian two's complement of a non-negative
	// number, with a leading zero byte when the top bit is set.
	var num [9]byte
	binary.BigEndian.PutUint64(num[1:], h.Number)
	n := num[1:]
	for len(n) > 1 && n[0] == 0 {
		n = n[1:]
	}
	if n[0]&0x80 != 0 {
		n = num[8-len(n) : 9]
	}
	body := derTLV(nil, 0x02, n)
	body = derTLV(body, 0x04, h.PreviousHash)
	body = derTLV(body, 0x04, h.DataHash)
	return derTLV(make([]byte, 0, len(body)+4), 0x30, body)
}

// derTLV appends a DER tag-length-value to b.
func derTLV(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	switch l := len(v); {
	case l < 0x80:
		b = append(b, byte(l))
	default:
		var lb [8]byte
		binary.BigEndian.PutUint64(lb[:], uint64(l))
		i := 0
		for lb[i] == 0 {
			i++
		}
		b = append(b, 0x80|byte(8-i))
		b = append(b, lb[i:]...)
	}
	return append(b, v...)
}

// Hash returns SHA-256 of Bytes(): the block hash.
func (h Header) Hash() []byte {
	s := sha256.Sum256(h.Bytes())
	return s[:]
}

type wireHeader struct {
	Number       uint64 `json:"number"`
	PreviousHash string `json:"previous_hash"`
	DataHash     string `json:"data_hash"`
}

// MarshalJSON writes {"number", "previous_hash", "data_hash"} with hex.
func (h Header) MarshalJSON() ([]byte, error) { return h.AppendJSON(make([]byte, 0, 160)), nil }

// AppendJSON appends the header as MarshalJSON writes it (the members of
// wireHeader in order, as encoding/json would write them) to b.
func (h Header) AppendJSON(b []byte) []byte {
	b = append(b, `{"number":`...)
	b = strconv.AppendUint(b, h.Number, 10)
	b = append(b, `,"previous_hash":"`...)
	b = hex.AppendEncode(b, h.PreviousHash)
	b = append(b, `","data_hash":"`...)
	b = hex.AppendEncode(b, h.DataHash)
	return append(b, `"}`...)
}

// UnmarshalJSON reads the form MarshalJSON writes, strictly
// (strict.Decode; the hashes in lower-case hex, "" for an empty hash).
func (h *Header) UnmarshalJSON(b []byte) error {
	var w wireHeader
	if err := strict.Decode(b, &w); err != nil {
		return err
	}
	prev, err := strict.Hex(w.PreviousHash)
	if err != nil {
		return &strict.FieldError{Field: "previous_hash", Err: err}
	}
	data, err := strict.Hex(w.DataHash)
	if err != nil {
		return &strict.FieldError{Field: "data_hash", Err: err}
	}
	*h = NewHeader(w.Number, prev, data)
	return nil
}

// ChainError reports a break in a header chain.
type ChainError struct {
	Number   uint64 // the block whose link is wrong
	Reason   string
	Expected []byte
	Got      []byte
}

func (e *ChainError) Error() string {
	if e.Expected != nil || e.Got != nil {
		return fmt.Sprintf("block %d: %s: expected %x, got %x", e.Number, e.Reason, e.Expected, e.Got)
	}
	return fmt.Sprintf("block %d: %s", e.Number, e.Reason)
}

// VerifyChain checks that headers are consecutive and each one's
// PreviousHash is the hash of the one before. If headers[0] is block 0 its
// PreviousHash must be empty.
func VerifyChain(headers []Header) error {
	for i, h := range headers {
		if i == 0 {
			if h.Number == 0 && len(h.PreviousHash) != 0 {
				return &ChainError{Number: 0, Reason: "block 0 has a previous hash"}
			}
			continue
		}
		prev := headers[i-1]
		if h.Number != prev.Number+1 {
			return &ChainError{Number: h.Number, Reason: fmt.Sprintf("follows block %d", prev.Number)}
		}
		if want := prev.Hash(); !bytes.Equal(h.PreviousHash, want) {
			return &ChainError{Number: h.Number, Reason: "previous hash does not match", Expected: want, Got: h.PreviousHash}
		}
	}
	return nil
}
