package fabricblock

import (
	"bytes"
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
	e2 := NewEntry(leaf, "ab", 1, 2)
	b2, err := json.Marshal(e2)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := ParseEntry(b2); err != nil || e != e2 || !e.Holds(leaf) || e.Holds([]byte(`{"v":2}`)) {
		t.Fatalf("ParseEntry(%s) = %+v, %v", b2, e, err)
	}
	if len(b2) > 170 {
		t.Errorf("a version 2 entry of %d bytes: %s", len(b2), b2)
	}
	v1, _ := ParseEntry([]byte(good))
	if !v1.Holds([]byte(`{}`)) || v1.Holds(leaf) {
		t.Error("a version 1 entry holds its record and only it")
	}
	h := e2.Leaf
	for _, bad := range []string{
		``, `null`, `{}`,
		`{"v":3,"leaf":"` + h + `","tx_id":"ab","index":0,"size":1}`,
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
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, err := ParseEntry(b); err == nil && (e.Index < 0 || e.Index >= e.Size) {
			t.Fatalf("accepted entry %+v", e)
		}
		if _, r, err := ParseBatch(b); err == nil && len(r) != 32 {
			t.Fatalf("accepted root of %d bytes", len(r))
		}
		Parse(b)
	})
}
