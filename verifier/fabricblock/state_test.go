package fabricblock

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseState(t *testing.T) {
	good := `{"v":1,"record":"{}","tx_id":"ab","index":1,"size":2,"ledger_time":"2026-11-23T09:54:19.571Z"}`
	if e, err := ParseEntry([]byte(good)); err != nil || e.Index != 1 || e.Size != 2 || e.TxID != "ab" {
		t.Fatalf("ParseEntry = %+v, %v", e, err)
	}
	leaf := []byte(`{"v":1}`)
	tx := strings.Repeat("0a", 32)
	e2 := NewEntry(leaf, tx, 1, 2)
	e2.V = EntryVersionLeaf
	b2, err := json.Marshal(e2)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := ParseEntry(b2); err != nil || e != e2 || !e.Holds(leaf) || e.Holds([]byte(`{"v":2}`)) {
		t.Fatalf("ParseEntry(%s) = %+v, %v", b2, e, err)
	}
	e3 := NewEntry(leaf, tx, 300, 5000)
	b3, err := e3.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if e, err := ParseEntry(b3); err != nil || e != e3 || e.V != 3 || !e.Holds(leaf) || e.Holds([]byte(`{"v":2}`)) {
		t.Fatalf("ParseEntry(%x) = %+v, %v", b3, e, err)
	}
	if len(b3) != 69 || b3[0] != 3 || hex.EncodeToString(b3[1:33]) != e3.Leaf || hex.EncodeToString(b3[33:65]) != tx {
		t.Errorf("a version 3 entry of %d bytes: %x", len(b3), b3)
	}
	if len(b2)-len(b3) < 100 {
		t.Errorf("version 3 (%d bytes) saves less than 100 bytes of version 2 (%d)", len(b3), len(b2))
	}
	if b, _ := NewEntry(leaf, tx, 0, 1).Marshal(); len(b) != 67 {
		t.Errorf("entry 0 of 1 in %d bytes", len(b))
	}
	for _, bad := range []Entry{
		NewEntry(leaf, "ab", 0, 1),
		NewEntry(leaf, strings.ToUpper(tx), 0, 1),
		NewEntry(leaf, tx, 1, 1),
		NewEntry(leaf, tx, -1, 1),
		NewEntry(leaf, tx, 0, 0),
		NewEntry(leaf, tx, 0, maxEntrySize+1),
		{V: 3, Leaf: e3.Leaf[:62], TxID: tx, Size: 1},
		e2,
	} {
		if b, err := bad.Marshal(); !errors.Is(err, ErrState) {
			t.Errorf("Marshal(%+v) = %x, %v, want ErrState", bad, b, err)
		}
	}
	for _, bad := range [][]byte{
		b3[:65],
		b3[:len(b3)-1],
		append(append([]byte(nil), b3...), 0),
		append(append([]byte(nil), b3[:65]...), 0x80, 0x00, 0x01),                                                       // index 0 in two bytes
		append(append([]byte(nil), b3[:65]...), 0x01, 0x01),                                                             // entry 1 of 1
		append(append([]byte(nil), b3[:65]...), 0x00, 0x00),                                                             // of 0
		append(append([]byte(nil), b3[:65]...), 0x00, 0x80, 0x80, 0x80, 0x80, 0x08),                                     // of 2^31
		append(append([]byte(nil), b3[:65]...), 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), // overflow
	} {
		if e, err := ParseEntry(bad); !errors.Is(err, ErrState) {
			t.Errorf("ParseEntry(%x) = %+v, %v, want ErrState", bad, e, err)
		}
	}
	v1, _ := ParseEntry([]byte(good))
	if !v1.Holds([]byte(`{}`)) || v1.Holds(leaf) {
		t.Error("a version 1 entry holds its record and only it")
	}
	h := e2.Leaf
	for _, bad := range []string{
		``, `null`, `{}`,
		`{"v":3,"leaf":"` + h + `","tx_id":"ab","index":0,"size":1}`, // version 3 is binary only
		`{"v":2,"record":"{}","tx_id":"ab","index":0,"size":1,"ledger_time":""}`,
		`{"v":2,"record":"{}","leaf":"` + h + `","tx_id":"ab","index":0,"size":1}`,
		`{"v":2,"leaf":"` + h + `","tx_id":"ab","index":0,"size":1,"ledger_time":"2026-11-23T09:54:19.571Z"}`,
		`{"v":2,"leaf":"` + h[:62] + `","tx_id":"ab","index":0,"size":1}`,
		`{"v":2,"leaf":"` + strings.ToUpper(h) + `","tx_id":"ab","index":0,"size":1}`,
		`{"v":2,"tx_id":"ab","index":0,"size":1}`,
		`{"v":2,"leaf":"` + h + `","tx_id":"ab","index":1,"size":1}`,
		`{"v":1,"leaf":"` + h + `","record":"{}","tx_id":"ab","index":0,"size":1}`,
		`{"v":1,"tx_id":"ab","index":0,"size":1}`,
		`{"v":1,"record":"{}","tx_id":"ab","index":2,"size":2,"ledger_time":""}`,
		`{"v":1,"record":"{}","tx_id":"ab","index":0,"size":1,"ledger_time":"","x":1}`,
		good + ` {}`,
	} {
		if _, err := ParseEntry([]byte(bad)); !errors.Is(err, ErrState) {
			t.Errorf("ParseEntry(%q) = %v, want ErrState", bad, err)
		}
	}
	root := "3454510056638a4a570080ec5714b34b9c6046555fe5720c80bd514cc23ee46d"
	if _, r, err := ParseBatch([]byte(`{"v":1,"root":"` + root + `","size":3,"ledger_time":""}`)); err != nil || len(r) != 32 {
		t.Fatalf("ParseBatch: %v", err)
	}
	for _, bad := range []string{
		`{"v":1,"root":"` + root[:62] + `","size":3,"ledger_time":""}`,
		`{"v":1,"root":"` + string(bytes.ToUpper([]byte(root))) + `","size":3,"ledger_time":""}`,
		`{"v":1,"root":"` + root + `","size":0,"ledger_time":""}`,
	} {
		if _, _, err := ParseBatch([]byte(bad)); !errors.Is(err, ErrState) {
			t.Errorf("ParseBatch(%q) = %v, want ErrState", bad, err)
		}
	}
}

// TestEntryCheck: an entry that arrives as its fields (Lookup's JSON
// answer) is held to its version's rules, as stored bytes are by
// ParseEntry; a version 3 entry reads back from its fields.
func TestEntryCheck(t *testing.T) {
	leaf := []byte(`{"v":1}`)
	tx := strings.Repeat("0a", 32)
	e3 := NewEntry(leaf, tx, 2, 3)
	b, err := json.Marshal(e3)
	if err != nil {
		t.Fatal(err)
	}
	var got Entry
	if err := json.Unmarshal(b, &got); err != nil || got != e3 || got.Check() != nil {
		t.Fatalf("%s reads as %+v, %v, check %v", b, got, err, got.Check())
	}
	v1, err := ParseEntry([]byte(`{"v":1,"record":"{}","tx_id":"ab","index":0,"size":1,"ledger_time":""}`))
	if err != nil || v1.Check() != nil {
		t.Fatalf("version 1: %+v, %v", v1, err)
	}
	with := func(f func(*Entry)) Entry { e := e3; f(&e); return e }
	for name, bad := range map[string]Entry{
		"negative index":   with(func(e *Entry) { e.Index = -1 }),
		"index past size":  with(func(e *Entry) { e.Index = 3 }),
		"size 0":           with(func(e *Entry) { e.Index, e.Size = 0, 0 }),
		"short tx ID":      with(func(e *Entry) { e.TxID = "ab" }),
		"upper-case leaf":  with(func(e *Entry) { e.Leaf = strings.ToUpper(e.Leaf) }),
		"with a record":    with(func(e *Entry) { e.Record = "{}" }),
		"with a time":      with(func(e *Entry) { e.LedgerTime = "2026-11-23T09:54:19.571Z" }),
		"version 4":        with(func(e *Entry) { e.V = 4 }),
		"version 1 a leaf": with(func(e *Entry) { e.V = EntryVersionRecord }),
		"version 1 at -1":  {V: EntryVersionRecord, Record: "{}", TxID: "ab", Index: -1, Size: 1},
	} {
		if err := bad.Check(); !errors.Is(err, ErrState) {
			t.Errorf("%s: Check(%+v) = %v, want ErrState", name, bad, err)
		}
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	leaves := [][]byte{[]byte(`{"a":1}`), []byte(`{"b":"x\ny"}`)}
	got := SplitRecords([]byte(JoinRecords(leaves)))
	if len(got) != 2 || !bytes.Equal(got[0], leaves[0]) || !bytes.Equal(got[1], leaves[1]) {
		t.Fatalf("round trip: %q", got)
	}
	if SplitRecords(nil) != nil {
		t.Fatal("empty argument has records")
	}
}

func FuzzParseState(f *testing.F) {
	f.Add([]byte(`{"v":1,"record":"{}","tx_id":"ab","index":0,"size":1,"ledger_time":""}`))
	f.Add([]byte(`{"v":1,"root":"00","size":1,"ledger_time":""}`))
	if b, err := NewEntry([]byte(`{}`), strings.Repeat("0a", 32), 3, 9).Marshal(); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseEntry(b)
		if err == nil && e.Check() != nil { // Check holds 0 ≤ index < size
			t.Fatalf("accepted entry %+v", e)
		}
		if err == nil && e.V == EntryVersion {
			// One encoding per version 3 entry: what it decodes to
			// encodes to the same bytes.
			if m, err := e.Marshal(); err != nil || string(m) != string(b) {
				t.Fatalf("entry %x decodes to %+v, which encodes to %x, %v", b, e, m, err)
			}
		}
		if _, r, err := ParseBatch(b); err == nil && len(r) != 32 {
			t.Fatalf("accepted root of %d bytes", len(r))
		}
		Parse(b)
	})
}
