// Package chaincode is the evidence chaincode: it stores evidence records
// on a Fabric channel, each under its evidence ID, with the RFC 6962 root
// of every batch and an index from digest to IDs. It runs as a chaincode
// service (Serve); the peer dials it.
//
// The chaincode is deterministic: it reads no clock and no randomness and
// never ranges over a map; the ledger time is the transaction timestamp
// from the stub. Every record is validated with verifier/evidence, a
// different record under an existing ID is refused, and an identical one
// is accepted without a write, so clients can retry.
//
// The state formats (keys, Entry, Batch) are defined in verifier/fabricblock,
// where offline verifiers read them.
package chaincode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
	"github.com/hyperledger/fabric-contract-api-go/v2/serializer"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

// Limits on one transaction.
const (
	// MaxBatch is the most records one PutBatch takes.
	MaxBatch = 5000
	// MaxList is the most IDs ListByDigest returns.
	MaxList = 1000
)

// Errors, wrapped with the ID concerned. Clients see the text only (a
// chaincode error crosses the peer as a message); the node tells conflicts
// apart by calling Lookup first, not by parsing messages.
var (
	ErrConflict = errors.New("conflict: a different record exists under this ID")
	ErrBatch    = errors.New("bad batch")
)

// Contract is the evidence contract. Function names are the transaction
// names clients call.
type Contract struct {
	contractapi.Contract
}

// New returns the chaincode, ready for Serve or shim.Start.
func New() (*contractapi.ContractChaincode, error) {
	c := new(Contract)
	c.Info.Title = "evidence"
	c.Info.Version = "1"
	cc, err := contractapi.NewChaincode(c)
	if err != nil {
		return nil, fmt.Errorf("chaincode: %w", err)
	}
	cc.Info.Title = "evidence"
	cc.Info.Version = "1"
	cc.TransactionSerializer = stringSerializer{}
	return cc, nil
}

// stringSerializer hands string arguments to the contract and its string
// answers back as they are. fabric-contract-api-go's JSONSerializer checks
// each against the JSON schema of its Go type by encoding it as JSON and
// decoding that again: for a string, a check its type has already made,
// and 15 % of the chaincode's CPU for a batch of records
// (BenchmarkInvokePutBatch). Every function of the contract takes and
// returns strings, which each validates itself; any other type goes to
// the JSONSerializer.
type stringSerializer struct{ serializer.JSONSerializer }

func (s stringSerializer) FromString(param string, t reflect.Type, pm *metadata.ParameterMetadata, cm *metadata.ComponentMetadata) (reflect.Value, error) {
	if t.Kind() == reflect.String {
		return reflect.ValueOf(param).Convert(t), nil
	}
	return s.JSONSerializer.FromString(param, t, pm, cm)
}

func (s stringSerializer) ToString(v reflect.Value, t reflect.Type, rm *metadata.ReturnMetadata, cm *metadata.ComponentMetadata) (string, error) {
	if t.Kind() == reflect.String {
		return v.String(), nil
	}
	return s.JSONSerializer.ToString(v, t, rm, cm)
}

// Put stores one record (its canonical encoding), as a batch of one.
// It returns the Batch written, as JSON.
func (c *Contract) Put(ctx contractapi.TransactionContextInterface, record string) (string, error) {
	return putBatch(ctx.GetStub(), [][]byte{[]byte(record)})
}

// PutBatch stores many records in one transaction. records holds canonical
// record encodings separated by "\n" (fabricblock.JoinRecords). Each new
// record's Entry (its place in the batch and its leaf hash, not the
// record, which the arguments hold) is written under its ID; the
// batch's RFC 6962 root is written under fabricblock.BatchKey(tx ID).
// It returns the Batch written, as JSON.
func (c *Contract) PutBatch(ctx contractapi.TransactionContextInterface, records string) (string, error) {
	return putBatch(ctx.GetStub(), fabricblock.SplitRecords([]byte(records)))
}

// Get returns the Entry stored under an evidence ID (any accepted spelling
// of the ID) as it is stored (fabricblock.ParseEntry reads it), or an
// empty result when there is none.
func (c *Contract) Get(ctx contractapi.TransactionContextInterface, id string) (string, error) {
	pid, err := evidence.ParseID(id)
	if err != nil {
		return "", err
	}
	v, err := ctx.GetStub().GetState(pid.String())
	if err != nil {
		return "", err
	}
	return string(v), nil
}

// Lookup returns, for IDs separated by "\n", a JSON array holding for each
// the stored Entry (its fields, whatever its version's encoding) or null.
func (c *Contract) Lookup(ctx contractapi.TransactionContextInterface, ids string) (string, error) {
	stub := ctx.GetStub()
	list := strings.Split(ids, "\n")
	if len(list) > MaxBatch {
		return "", fmt.Errorf("%w: %d IDs (at most %d)", ErrBatch, len(list), MaxBatch)
	}
	keys := make([]string, len(list))
	for i, s := range list {
		id, err := evidence.ParseID(s)
		if err != nil {
			return "", fmt.Errorf("ID %d: %w", i, err)
		}
		keys[i] = id.String()
	}
	vals, err := stub.GetMultipleStates(keys...)
	if err != nil {
		return "", err
	}
	if len(vals) != len(keys) {
		return "", fmt.Errorf("read %d records, got %d answers", len(keys), len(vals))
	}
	out := make([]json.RawMessage, len(list))
	for i, v := range vals {
		if len(v) == 0 { // a missing key reads as empty
			out[i] = json.RawMessage("null")
			continue
		}
		e, err := fabricblock.ParseEntry(v)
		if err != nil {
			return "", fmt.Errorf("stored %s: %w", keys[i], err)
		}
		if out[i], err = json.Marshal(e); err != nil {
			return "", err
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// GetBatch returns the Batch written by a transaction, as JSON, or an
// empty result.
func (c *Contract) GetBatch(ctx contractapi.TransactionContextInterface, txID string) (string, error) {
	v, err := ctx.GetStub().GetState(fabricblock.BatchKey(txID))
	return string(v), err
}

// ListByDigest returns the IDs of the records holding a digest (algorithm
// name and hex, any case), as a JSON array in key order, at most MaxList.
func (c *Contract) ListByDigest(ctx contractapi.TransactionContextInterface, alg, hexDigest string) (string, error) {
	a, err := evidence.ParseAlgorithm(alg)
	if err != nil {
		return "", err
	}
	d, err := evidence.ParseDigest(a, hexDigest)
	if err != nil {
		return "", err
	}
	it, err := ctx.GetStub().GetStateByPartialCompositeKey(fabricblock.DigestObject, []string{string(a), d.Hex()})
	if err != nil {
		return "", err
	}
	defer it.Close()
	ids := []string{}
	for it.HasNext() && len(ids) < MaxList {
		kv, err := it.Next()
		if err != nil {
			return "", err
		}
		_, attrs, err := ctx.GetStub().SplitCompositeKey(kv.Key)
		if err != nil || len(attrs) != 3 {
			return "", fmt.Errorf("digest index key %q: %v", kv.Key, err)
		}
		ids = append(ids, attrs[2])
	}
	b, err := json.Marshal(ids)
	return string(b), err
}

func putBatch(stub shim.ChaincodeStubInterface, leaves [][]byte) (string, error) {
	if len(leaves) == 0 {
		return "", fmt.Errorf("%w: no records", ErrBatch)
	}
	if len(leaves) > MaxBatch {
		return "", fmt.Errorf("%w: %d records (at most %d)", ErrBatch, len(leaves), MaxBatch)
	}
	ts, err := stub.GetTxTimestamp()
	if err != nil {
		return "", fmt.Errorf("transaction timestamp: %w", err)
	}
	ledgerTime := verifier.FormatTime(ts.AsTime())
	txID := stub.GetTxID()
	recs := make([]evidence.Record, len(leaves))
	first := make(map[evidence.ID]int, len(leaves)) // lookups only, never ranged over
	for i, leaf := range leaves {
		r, err := evidence.ParseRecord(leaf)
		if err != nil {
			return "", fmt.Errorf("record %d: %w", i, err)
		}
		recs[i] = r
		if j, ok := first[r.ID]; ok {
			if !bytes.Equal(leaves[j], leaf) {
				return "", fmt.Errorf("%w: %s (records %d and %d)", ErrConflict, r.ID, j, i)
			}
			continue
		}
		first[r.ID] = i
	}
	// Read every ID in one call and send the writes in batches: with the
	// peer's write batching and multiple-key reads (Fabric 2.5+, on in
	// network/config/core.yaml) a batch costs a few peer round trips, not
	// four per record. Fabric sorts the write set, so order is immaterial.
	stub.StartWriteBatch()
	keys := make([]string, len(recs))
	for i, r := range recs {
		keys[i] = r.ID.String()
	}
	stored, err := stub.GetMultipleStates(keys...)
	if err != nil {
		return "", fmt.Errorf("read records: %w", err)
	}
	if len(stored) != len(keys) {
		return "", fmt.Errorf("read %d records, got %d answers", len(keys), len(stored))
	}
	for i, r := range recs {
		if first[r.ID] != i {
			continue // a repeat of an earlier identical record in this batch
		}
		id := keys[i]
		if old := stored[i]; len(old) > 0 { // a missing key reads as empty
			e, err := fabricblock.ParseEntry(old)
			if err != nil {
				return "", fmt.Errorf("stored %s: %w", id, err)
			}
			if !e.Holds(leaves[i]) {
				return "", fmt.Errorf("%w: %s", ErrConflict, id)
			}
			continue // identical resubmission: already stored
		}
		e, err := fabricblock.NewEntry(leaves[i], txID, i, len(leaves)).Marshal()
		if err != nil {
			return "", fmt.Errorf("entry of %s: %w", id, err)
		}
		if err := stub.PutState(id, e); err != nil {
			return "", fmt.Errorf("write %s: %w", id, err)
		}
		for _, d := range r.Digests {
			if err := stub.PutState(fabricblock.DigestKey(string(d.Algorithm), d.Hex(), id), []byte{0}); err != nil {
				return "", fmt.Errorf("index %s: %w", id, err)
			}
		}
	}
	bt := fabricblock.Batch{V: fabricblock.StateVersion, Root: fmt.Sprintf("%x", block.DataHash(leaves)), Size: len(leaves), LedgerTime: ledgerTime}
	b, _ := json.Marshal(bt)
	if err := stub.PutState(fabricblock.BatchKey(txID), b); err != nil {
		return "", fmt.Errorf("write batch: %w", err)
	}
	return string(b), nil
}
