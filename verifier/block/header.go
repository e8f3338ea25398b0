// Package block holds the block formats the verifier checks: the block
// header and its hash (computed exactly as Hyperledger Fabric computes it,
// so one function serves Fabric and embedded blocks), the embedded ledger's
// block and its signed seal, and the trust roots that seals are checked
// against.
package block

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
)

// Header is a block header: the block's position, the previous block's
// header hash and the hash of this block's data.
type Header struct {
	Number       uint64
	PreviousHash []byte
	DataHash     []byte
}

// asn1Header mirrors Fabric's protoutil encoding of a header.
type asn1Header struct {
	Number       *big.Int
	PreviousHash []byte
	DataHash     []byte
}

// Bytes returns the ASN.1 DER encoding SEQUENCE { INTEGER number, OCTET
// STRING previous_hash, OCTET STRING data_hash }, as Fabric's
// protoutil.BlockHeaderBytes does.
func (h Header) Bytes() []byte {
	b, err := asn1.Marshal(asn1Header{
		Number:       new(big.Int).SetUint64(h.Number),
		PreviousHash: h.PreviousHash,
		DataHash:     h.DataHash,
	})
	if err != nil {
		// asn1.Marshal cannot fail for a big.Int and two byte slices.
		panic("block: marshal header: " + err.Error())
	}
	return b
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
func (h Header) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireHeader{h.Number, hex.EncodeToString(h.PreviousHash), hex.EncodeToString(h.DataHash)})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (h *Header) UnmarshalJSON(b []byte) error {
	var w wireHeader
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	prev, err := hex.DecodeString(w.PreviousHash)
	if err != nil {
		return fmt.Errorf("previous_hash: %w", err)
	}
	data, err := hex.DecodeString(w.DataHash)
	if err != nil {
		return fmt.Errorf("data_hash: %w", err)
	}
	*h = Header{Number: w.Number, PreviousHash: nilIfEmpty(prev), DataHash: nilIfEmpty(data)}
	return nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
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
