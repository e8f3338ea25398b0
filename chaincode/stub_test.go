package chaincode

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// ledger is an in-memory world state that runs transactions as a peer
// does at the edge the chaincode sees: reads see committed state only
// (never the transaction's own writes), and a transaction that returns an
// error writes nothing. This fake is the only one in the package: the
// shim's stub interface is the outermost edge of the chaincode.
type ledger struct {
	state map[string][]byte
	n     int
}

func newLedger() *ledger { return &ledger{state: map[string][]byte{}} }

// write is one key written by a transaction, in write order.
type write struct {
	Key   string
	Value string
}

// writeJSON is a write in testdata: the value as text when it is JSON,
// else in hex (binary entries would not survive a JSON string).
type writeJSON struct {
	Key      string `json:"key"`
	Value    string `json:"value,omitempty"`
	ValueHex string `json:"value_hex,omitempty"`
}

func (w write) MarshalJSON() ([]byte, error) {
	if json.Valid([]byte(w.Value)) {
		return json.Marshal(writeJSON{Key: w.Key, Value: w.Value})
	}
	return json.Marshal(writeJSON{Key: w.Key, ValueHex: hex.EncodeToString([]byte(w.Value))})
}

func (w *write) UnmarshalJSON(b []byte) error {
	var j writeJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	v, err := hex.DecodeString(j.ValueHex)
	if err != nil {
		return err
	}
	*w = write{Key: j.Key, Value: j.Value + string(v)}
	return nil
}

// stub implements the few stub methods the chaincode calls; any other
// method panics through the nil embedded interface.
type stub struct {
	shim.ChaincodeStubInterface
	l      *ledger
	txID   string
	ts     time.Time
	writes []write
	args   []string
}

// tx runs fn as one transaction with a fixed ID and time, committing its
// writes if it succeeds.
func (l *ledger) tx(at time.Time, fn func(ctx contractapi.TransactionContextInterface) (string, error)) (string, []write, error) {
	l.n++
	s := &stub{l: l, txID: fmt.Sprintf("%064x", l.n), ts: at}
	ctx := new(contractapi.TransactionContext)
	ctx.SetStub(s)
	out, err := fn(ctx)
	if err != nil {
		return "", nil, err
	}
	for _, w := range s.writes {
		l.state[w.Key] = []byte(w.Value)
	}
	return out, s.writes, nil
}

func (s *stub) GetTxID() string { return s.txID }

// invoke runs one transaction through the chaincode's Invoke, as the peer
// calls it, with args (function name first).
func (l *ledger) invoke(cc shim.Chaincode, at time.Time, args ...string) (*peer.Response, []write) {
	l.n++
	s := &stub{l: l, txID: fmt.Sprintf("%064x", l.n), ts: at, args: args}
	resp := cc.Invoke(s)
	if resp.Status != shim.OK {
		return resp, nil
	}
	for _, w := range s.writes {
		l.state[w.Key] = []byte(w.Value)
	}
	return resp, s.writes
}

func (s *stub) GetArgs() [][]byte {
	var out [][]byte
	for _, a := range s.args {
		out = append(out, []byte(a))
	}
	return out
}

func (s *stub) GetStringArgs() []string { return s.args }

func (s *stub) GetFunctionAndParameters() (string, []string) {
	if len(s.args) == 0 {
		return "", nil
	}
	return s.args[0], s.args[1:]
}

// GetCreator: the contract API reads the client identity, which this
// chaincode never uses.
func (s *stub) GetCreator() ([]byte, error) { return nil, fmt.Errorf("no creator in unit tests") }

func (s *stub) GetTxTimestamp() (*timestamppb.Timestamp, error) { return timestamppb.New(s.ts), nil }

func (s *stub) GetState(key string) ([]byte, error) {
	v, ok := s.l.state[key]
	if !ok {
		return nil, nil
	}
	return append([]byte(nil), v...), nil
}

func (s *stub) GetMultipleStates(keys ...string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i], _ = s.GetState(k)
	}
	return out, nil
}

// StartWriteBatch: writes are buffered until the transaction ends anyway.
func (s *stub) StartWriteBatch() {}

func (s *stub) PutState(key string, value []byte) error {
	if key == "" || len(value) == 0 {
		return fmt.Errorf("PutState(%q) with an empty key or value (a delete in Fabric)", key)
	}
	s.writes = append(s.writes, write{key, string(value)})
	return nil
}

func (s *stub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attributes)
}

func (s *stub) SplitCompositeKey(key string) (string, []string, error) {
	parts := strings.Split(strings.TrimPrefix(key, "\x00"), "\x00")
	if len(parts) < 2 {
		return "", nil, fmt.Errorf("not a composite key: %q", key)
	}
	return parts[0], parts[1 : len(parts)-1], nil
}

func (s *stub) GetStateByPartialCompositeKey(objectType string, attrs []string) (shim.StateQueryIteratorInterface, error) {
	prefix, err := shim.CreateCompositeKey(objectType, attrs)
	if err != nil {
		return nil, err
	}
	it := &iter{}
	for k, v := range s.l.state {
		if strings.HasPrefix(k, prefix) {
			it.kvs = append(it.kvs, &queryresult.KV{Key: k, Value: v})
		}
	}
	sort.Slice(it.kvs, func(i, j int) bool { return it.kvs[i].Key < it.kvs[j].Key })
	return it, nil
}

type iter struct{ kvs []*queryresult.KV }

func (it *iter) HasNext() bool { return len(it.kvs) > 0 }
func (it *iter) Close() error  { return nil }
func (it *iter) Next() (*queryresult.KV, error) {
	if len(it.kvs) == 0 {
		return nil, fmt.Errorf("no more keys")
	}
	kv := it.kvs[0]
	it.kvs = it.kvs[1:]
	return kv, nil
}
