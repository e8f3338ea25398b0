package chaincode

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

var t0 = time.Date(2026, 11, 23, 9, 54, 19, 571_123_456, time.UTC)

// record returns a valid record with a fixed ID (n) and a digest of seed.
func record(n int, seed string) evidence.Record {
	var id evidence.ID
	binary.BigEndian.PutUint64(id[:8], uint64(1_795_000_000_000+n)<<16)
	binary.BigEndian.PutUint64(id[8:], uint64(n)*0x9e3779b97f4a7c15)
	return evidence.Record{
		ID:          id,
		Type:        evidence.File,
		Digests:     []evidence.Digest{evidence.Sum(evidence.SHA256, []byte(seed)), evidence.Sum(evidence.SM3, []byte(seed))},
		Platform:    "acme",
		DocRef:      "HT-" + seed,
		SubmittedAt: t0.Add(-time.Second),
	}
}

func leaf(t testing.TB, r evidence.Record) []byte {
	t.Helper()
	b, err := r.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func submitBatch(l *ledger, leaves ...[]byte) (string, []write, error) {
	return l.tx(t0, func(ctx contractapi.TransactionContextInterface) (string, error) {
		return new(Contract).PutBatch(ctx, fabricblock.JoinRecords(leaves))
	})
}

func call(t *testing.T, l *ledger, fn func(c *Contract, ctx contractapi.TransactionContextInterface) (string, error)) string {
	t.Helper()
	out, _, err := l.tx(t0, func(ctx contractapi.TransactionContextInterface) (string, error) { return fn(new(Contract), ctx) })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPutBatch(t *testing.T) {
	l := newLedger()
	recs := []evidence.Record{record(1, "a"), record(2, "b"), record(3, "c")}
	var leaves [][]byte
	for _, r := range recs {
		leaves = append(leaves, leaf(t, r))
	}
	out, writes, err := submitBatch(l, leaves...)
	if err != nil {
		t.Fatal(err)
	}
	bt, root, err := fabricblock.ParseBatch([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if want := block.DataHash(leaves); hex.EncodeToString(want) != hex.EncodeToString(root) || bt.Size != 3 {
		t.Fatalf("batch %+v, want root %x size 3", bt, want)
	}
	if bt.LedgerTime != "2026-11-23T09:54:19.571Z" {
		t.Fatalf("ledger time %q", bt.LedgerTime)
	}
	// 3 entries, 2 digests each, 1 batch.
	if len(writes) != 3+6+1 {
		t.Fatalf("%d writes", len(writes))
	}
	txID := fmt.Sprintf("%064x", 1)
	if got := string(l.state[fabricblock.BatchKey(txID)]); got != out {
		t.Fatalf("batch key holds %q", got)
	}
	for i, r := range recs {
		e, err := fabricblock.ParseEntry(l.state[r.ID.String()])
		if err != nil {
			t.Fatal(err)
		}
		want := fabricblock.Entry{V: fabricblock.EntryVersion, Leaf: fmt.Sprintf("%x", rfc6962.DefaultHasher.HashLeaf(leaves[i])), TxID: txID, Index: i, Size: 3}
		if e != want {
			t.Fatalf("entry %d = %+v, want %+v", i, e, want)
		}
		// Get accepts any spelling of the ID.
		got := call(t, l, func(c *Contract, ctx contractapi.TransactionContextInterface) (string, error) {
			return c.Get(ctx, strings.ToLower(r.ID.Grouped()))
		})
		if got != string(l.state[r.ID.String()]) {
			t.Fatalf("Get = %s", got)
		}
	}
}

func TestKeysMatchShim(t *testing.T) {
	k, _ := shim.CreateCompositeKey(fabricblock.BatchObject, []string{"abc"})
	if k != fabricblock.BatchKey("abc") {
		t.Fatalf("BatchKey %q, shim %q", fabricblock.BatchKey("abc"), k)
	}
	k, _ = shim.CreateCompositeKey(fabricblock.DigestObject, []string{"sha256", "00ff", "ID"})
	if k != fabricblock.DigestKey("sha256", "00ff", "ID") {
		t.Fatalf("DigestKey %q, shim %q", fabricblock.DigestKey("sha256", "00ff", "ID"), k)
	}
}

func TestResubmitAndConflict(t *testing.T) {
	l := newLedger()
	a, b := record(1, "a"), record(2, "b")
	if _, _, err := submitBatch(l, leaf(t, a)); err != nil {
		t.Fatal(err)
	}
	first := string(l.state[a.ID.String()])

	// Identical resubmission, alone and with a new record: success, and the
	// stored entry still names the first transaction.
	_, writes, err := submitBatch(l, leaf(t, a), leaf(t, b))
	if err != nil {
		t.Fatalf("identical resubmission: %v", err)
	}
	for _, w := range writes {
		if w.Key == a.ID.String() {
			t.Fatal("identical resubmission rewrote the record")
		}
	}
	if string(l.state[a.ID.String()]) != first {
		t.Fatal("entry changed")
	}
	if _, ok := l.state[b.ID.String()]; !ok {
		t.Fatal("new record of a mixed batch not written")
	}

	// A different record under a's ID, next to a new one: refused, nothing written.
	forged := a
	forged.Digests = []evidence.Digest{evidence.Sum(evidence.SHA256, []byte("forged"))}
	c := record(3, "c")
	if _, _, err := submitBatch(l, leaf(t, c), leaf(t, forged)); !errors.Is(err, ErrConflict) {
		t.Fatalf("conflict: %v", err)
	}
	if _, ok := l.state[c.ID.String()]; ok {
		t.Fatal("a refused batch wrote a record")
	}
	// The same ID twice in one batch: identical is fine, different is not.
	d := record(4, "d")
	if _, _, err := submitBatch(l, leaf(t, d), leaf(t, d)); err != nil {
		t.Fatalf("repeated identical record: %v", err)
	}
	e := record(5, "e")
	e2 := e
	e2.DocRef = "other"
	if _, _, err := submitBatch(l, leaf(t, e), leaf(t, e2)); !errors.Is(err, ErrConflict) {
		t.Fatalf("two records under one ID: %v", err)
	}
}

// TestOlderEntries: a ledger written by the chaincode before entry
// version 3 keeps working, with entries of version 1 (which hold the
// whole record) and 2 (JSON naming the leaf hash): an identical
// resubmission of a stored record is accepted without a write, a
// different record under its ID is refused, and Lookup answers each
// stored entry's fields.
func TestOlderEntries(t *testing.T) {
	l := newLedger()
	a := record(1, "a")
	old, err := json.Marshal(fabricblock.Entry{V: 1, Record: string(leaf(t, a)), TxID: fmt.Sprintf("%064x", 7), Index: 0, Size: 1, LedgerTime: "2026-11-23T09:54:19.571Z"})
	if err != nil {
		t.Fatal(err)
	}
	l.state[a.ID.String()] = old
	c := record(3, "c")
	v2 := fabricblock.NewEntry(leaf(t, c), fmt.Sprintf("%064x", 8), 0, 1)
	v2.V = fabricblock.EntryVersionLeaf
	if l.state[c.ID.String()], err = json.Marshal(v2); err != nil {
		t.Fatal(err)
	}
	b := record(2, "b")
	_, writes, err := submitBatch(l, leaf(t, a), leaf(t, b), leaf(t, c))
	if err != nil {
		t.Fatalf("identical resubmission over version 1 and 2 entries: %v", err)
	}
	for _, w := range writes {
		if w.Key == a.ID.String() || w.Key == c.ID.String() {
			t.Fatalf("identical resubmission rewrote the entry of %s", w.Key)
		}
	}
	forgedC := c
	forgedC.DocRef = "forged"
	if _, _, err := submitBatch(l, leaf(t, forgedC)); !errors.Is(err, ErrConflict) {
		t.Fatalf("a different record over a version 2 entry: %v", err)
	}
	forged := a
	forged.DocRef = "forged"
	if _, _, err := submitBatch(l, leaf(t, forged)); !errors.Is(err, ErrConflict) {
		t.Fatalf("a different record over a version 1 entry: %v", err)
	}
	out := call(t, l, func(k *Contract, ctx contractapi.TransactionContextInterface) (string, error) {
		return k.Lookup(ctx, a.ID.String()+"\n"+b.ID.String()+"\n"+c.ID.String())
	})
	var got []*fabricblock.Entry
	if err := strict.Decode([]byte(out), &got); err != nil || len(got) != 3 || got[0] == nil || got[1] == nil || got[2] == nil {
		t.Fatalf("Lookup = %s: %v", out, err)
	}
	if got[0].V != 1 || !got[0].Holds(leaf(t, a)) || got[1].V != fabricblock.EntryVersion || !got[1].Holds(leaf(t, b)) || *got[2] != v2 {
		t.Fatalf("Lookup = %s", out)
	}
}

func TestRefusesBadInput(t *testing.T) {
	l := newLedger()
	good := leaf(t, record(1, "a"))
	cases := []struct {
		desc    string
		records string
	}{
		{"empty", ""},
		{"not JSON", "hello"},
		{"not canonical (space)", strings.Replace(string(good), ",", ", ", 1)},
		{"trailing separator", string(good) + "\n"},
		{"unknown field", strings.Replace(string(good), `"v":1,`, `"v":1,"x":1,`, 1)},
		{"bad check character", strings.Replace(string(good), record(1, "a").ID.String(), record(1, "a").ID.String()[:26]+"0", 1)},
		{"too many", strings.Repeat(string(good)+"\n", MaxBatch) + string(good)},
	}
	for _, c := range cases {
		_, _, err := l.tx(t0, func(ctx contractapi.TransactionContextInterface) (string, error) {
			return new(Contract).PutBatch(ctx, c.records)
		})
		if err == nil {
			t.Errorf("%s: accepted", c.desc)
		}
	}
	if len(l.state) != 0 {
		t.Fatalf("refused batches wrote %d keys", len(l.state))
	}
	if _, _, err := l.tx(t0, func(ctx contractapi.TransactionContextInterface) (string, error) {
		return new(Contract).Put(ctx, string(good))
	}); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func TestLookupAndListByDigest(t *testing.T) {
	l := newLedger()
	a, b, c := record(1, "same"), record(2, "same"), record(3, "other")
	if _, _, err := submitBatch(l, leaf(t, a), leaf(t, b), leaf(t, c)); err != nil {
		t.Fatal(err)
	}
	missing := record(9, "x")
	out := call(t, l, func(k *Contract, ctx contractapi.TransactionContextInterface) (string, error) {
		return k.Lookup(ctx, a.ID.String()+"\n"+missing.ID.String()+"\n"+c.ID.String())
	})
	var got []*fabricblock.Entry
	if err := strict.Decode([]byte(out), &got); err != nil { // as the node's Fabric ledger reads it
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] == nil || got[1] != nil || got[2] == nil || !got[2].Holds(leaf(t, c)) || got[2].Holds(leaf(t, a)) {
		t.Fatalf("Lookup = %s", out)
	}
	if out := call(t, l, func(k *Contract, ctx contractapi.TransactionContextInterface) (string, error) {
		return k.Get(ctx, missing.ID.String())
	}); out != "" {
		t.Fatalf("Get of a missing ID = %q", out)
	}

	d := a.Digests[1] // SM3 of "same"
	out = call(t, l, func(k *Contract, ctx contractapi.TransactionContextInterface) (string, error) {
		return k.ListByDigest(ctx, "SM3", strings.ToUpper(d.Hex()))
	})
	want, _ := json.Marshal([]string{a.ID.String(), b.ID.String()})
	if out != string(want) {
		t.Fatalf("ListByDigest = %s, want %s", out, want)
	}
	out = call(t, l, func(k *Contract, ctx contractapi.TransactionContextInterface) (string, error) {
		return k.ListByDigest(ctx, "sha256", evidence.Sum(evidence.SHA256, []byte("nothing")).Hex())
	})
	if out != "[]" {
		t.Fatalf("ListByDigest of an unknown digest = %s", out)
	}
	if _, _, err := l.tx(t0, func(ctx contractapi.TransactionContextInterface) (string, error) {
		return new(Contract).ListByDigest(ctx, "md5", "00")
	}); err == nil {
		t.Fatal("unknown algorithm accepted")
	}
}

// TestDeterministic runs one batch on many fresh ledgers (as many
// endorsers would) and requires identical writes, in identical order.
func TestDeterministic(t *testing.T) {
	var leaves [][]byte
	for i := 0; i < 40; i++ {
		leaves = append(leaves, leaf(t, record(i, fmt.Sprint(i%7))))
	}
	leaves = append(leaves, leaves[3]) // a repeat inside the batch
	var first []write
	for i := 0; i < 20; i++ {
		_, w, err := submitBatch(newLedger(), leaves...)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = w
		} else if !reflect.DeepEqual(w, first) {
			t.Fatal("two runs of one batch wrote differently")
		}
	}
}

// TestGolden pins the exact state one batch writes (keys and values), the
// contract between the chaincode, the node and offline verifiers:
// testdata/putbatch.json; go test -run TestGolden -update rewrites it.
func TestGolden(t *testing.T) {
	type golden struct {
		Desc    string   `json:"desc"`
		Records []string `json:"records"`
		TxID    string   `json:"tx_id"`
		Time    string   `json:"tx_timestamp"`
		Result  string   `json:"result"`
		Writes  []write  `json:"writes"`
	}
	l := newLedger()
	var leaves [][]byte
	var recs []string
	for i, seed := range []string{"contract-1.pdf", "contract-2.pdf", "合同文本"} {
		r := record(i+1, seed)
		if i == 2 {
			r.Type = evidence.Text
			r.Digests = r.Digests[1:] // SM3 only
			r.MetaDigest = evidence.Sum(evidence.SHA256, []byte(`{"parties":2}`)).Value
		}
		leaves = append(leaves, leaf(t, r))
		recs = append(recs, string(leaves[i]))
	}
	out, writes, err := submitBatch(l, leaves...)
	if err != nil {
		t.Fatal(err)
	}
	got := golden{
		Desc:    "PutBatch of three records: an entry per ID, a digest index key per digest, the batch root under the batch key",
		Records: recs, TxID: fmt.Sprintf("%064x", 1), Time: t0.Format(time.RFC3339Nano), Result: out, Writes: writes,
	}
	path := filepath.Join("testdata", "putbatch.json")
	if *update {
		b, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want golden
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		t.Fatalf("writes differ from %s:\n%s", path, g)
	}
}

func FuzzPutBatch(f *testing.F) {
	f.Add(string(leaf(f, record(1, "a"))))
	f.Add(fabricblock.JoinRecords([][]byte{leaf(f, record(1, "a")), leaf(f, record(2, "b"))}))
	f.Add("{}")
	f.Fuzz(func(t *testing.T, records string) {
		l := newLedger()
		out, writes, err := l.tx(t0, func(ctx contractapi.TransactionContextInterface) (string, error) {
			return new(Contract).PutBatch(ctx, records)
		})
		if err != nil {
			return
		}
		// Accepted: every record parses, and the batch root is theirs.
		leaves := fabricblock.SplitRecords([]byte(records))
		for _, lf := range leaves {
			if _, err := evidence.ParseRecord(lf); err != nil {
				t.Fatalf("accepted an invalid record: %v", err)
			}
		}
		_, root, err := fabricblock.ParseBatch([]byte(out))
		if err != nil || hex.EncodeToString(root) != hex.EncodeToString(block.DataHash(leaves)) {
			t.Fatalf("batch %s: %v", out, err)
		}
		if len(writes) == 0 {
			t.Fatal("no writes")
		}
	})
}

// TestInvoke calls the chaincode as the peer does, through Invoke with the
// transaction's arguments, as clients name the functions.
func TestInvoke(t *testing.T) {
	cc, err := New()
	if err != nil {
		t.Fatal(err)
	}
	l := newLedger()
	a, b := record(1, "a"), record(2, "b")
	resp, writes := l.invoke(cc, t0, fabricblock.FnPutBatch, fabricblock.JoinRecords([][]byte{leaf(t, a), leaf(t, b)}))
	if resp.Status != shim.OK || len(writes) == 0 {
		t.Fatalf("PutBatch: %d %s", resp.Status, resp.Message)
	}
	if _, _, err := fabricblock.ParseBatch(resp.Payload); err != nil {
		t.Fatalf("PutBatch answered %q: %v", resp.Payload, err)
	}
	resp, _ = l.invoke(cc, t0, fabricblock.FnPut, string(leaf(t, record(3, "c"))))
	if resp.Status != shim.OK {
		t.Fatalf("Put: %d %s", resp.Status, resp.Message)
	}
	resp, _ = l.invoke(cc, t0, fabricblock.FnGet, a.ID.String())
	if e, err := fabricblock.ParseEntry(resp.Payload); err != nil || !e.Holds(leaf(t, a)) {
		t.Fatalf("Get: %d %s %q: %v", resp.Status, resp.Message, resp.Payload, err)
	}
	resp, _ = l.invoke(cc, t0, fabricblock.FnGet, record(9, "x").ID.String())
	if resp.Status != shim.OK || len(resp.Payload) != 0 {
		t.Fatalf("Get of a missing ID: %d %q", resp.Status, resp.Payload)
	}
	resp, _ = l.invoke(cc, t0, fabricblock.FnLookup, b.ID.String()+"\n"+record(9, "x").ID.String())
	if resp.Status != shim.OK || !strings.HasSuffix(string(resp.Payload), ",null]") {
		t.Fatalf("Lookup: %d %s %q", resp.Status, resp.Message, resp.Payload)
	}
	resp, _ = l.invoke(cc, t0, fabricblock.FnListByDigest, "sha256", a.Digests[0].Hex())
	if want := `["` + a.ID.String() + `"]`; resp.Status != shim.OK || string(resp.Payload) != want {
		t.Fatalf("ListByDigest: %d %s %q", resp.Status, resp.Message, resp.Payload)
	}
	forged := a
	forged.DocRef = "forged"
	resp, writes = l.invoke(cc, t0, fabricblock.FnPut, string(leaf(t, forged)))
	if resp.Status == shim.OK || writes != nil || !strings.Contains(resp.Message, "conflict") {
		t.Fatalf("conflicting Put: %d %s", resp.Status, resp.Message)
	}
	resp, _ = l.invoke(cc, t0, "Nope")
	if resp.Status == shim.OK {
		t.Fatal("unknown function accepted")
	}
}

// TestFunctionNames checks that the function names clients invoke and
// verifiers read from transactions (fabricblock.Fn*) are the contract's.
func TestFunctionNames(t *testing.T) {
	ct := reflect.TypeOf(&Contract{})
	for _, fn := range []string{fabricblock.FnPut, fabricblock.FnPutBatch, fabricblock.FnGet, fabricblock.FnLookup, fabricblock.FnGetBatch, fabricblock.FnListByDigest} {
		if _, ok := ct.MethodByName(fn); !ok {
			t.Errorf("the contract has no function %s", fn)
		}
	}
}

// TestStringSerializer checks that string arguments and answers pass
// through unchanged (no JSON round trip: a record's bytes are what the
// proposal signed) and that other types still go through the JSON rules.
func TestStringSerializer(t *testing.T) {
	var s stringSerializer
	arg := "{\"a\":\"\\u00e9\"}\n\x00 é"
	v, err := s.FromString(arg, reflect.TypeOf(""), nil, nil)
	if err != nil || v.String() != arg {
		t.Fatalf("FromString: %q, %v", v, err)
	}
	out, err := s.ToString(reflect.ValueOf(arg), reflect.TypeOf(""), nil, nil)
	if err != nil || out != arg {
		t.Fatalf("ToString: %q, %v", out, err)
	}
	n, err := s.FromString("7", reflect.TypeOf(0), nil, nil)
	if err != nil || n.Int() != 7 {
		t.Fatalf("FromString of an int: %v, %v", n, err)
	}
	if _, err := s.FromString("seven", reflect.TypeOf(0), nil, nil); err == nil {
		t.Fatal("FromString took \"seven\" for an int")
	}
}
