package evidence

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func sampleRecord(t testing.TB) Record {
	id, err := fixedGen(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)).New()
	if err != nil {
		t.Fatal(err)
	}
	return Record{
		ID:          id,
		Type:        File,
		Digests:     []Digest{Sum(SHA256, []byte("contract")), Sum(SM3, []byte("contract"))},
		Platform:    "acme-sign",
		DocRef:      "合同-2026/001 <a&b>",
		MetaDigest:  Sum(SHA256, []byte(`{"buyer":"x"}`)).Value,
		SubmittedAt: time.Date(2026, 11, 23, 9, 0, 0, 123456789, time.FixedZone("CST", 8*3600)),
	}
}

func TestRecordCanonical(t *testing.T) {
	r := sampleRecord(t)
	b, err := r.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"id":"` + r.ID.String() + `","type":"file","digests":[{"alg":"sha256","hex":"` + r.Digests[0].Hex() +
		`"},{"alg":"sm3","hex":"` + r.Digests[1].Hex() + `"}],"platform":"acme-sign","doc_ref":"合同-2026/001 <a&b>","meta_digest":"` +
		Sum(SHA256, []byte(`{"buyer":"x"}`)).Hex() + `","submitted_at":"2026-11-23T01:00:00.123Z"}`
	if string(b) != want {
		t.Fatalf("canonical:\n got %s\nwant %s", b, want)
	}
	got, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(r) {
		t.Fatalf("round trip: %+v != %+v", got, r)
	}
}

func TestParseRecordRejects(t *testing.T) {
	r := sampleRecord(t)
	b, _ := r.Canonical()
	s := string(b)
	tests := map[string]string{
		"spaces":        strings.Replace(s, `"v":1`, `"v": 1`, 1),
		"upper hex":     strings.Replace(s, r.Digests[0].Hex(), strings.ToUpper(r.Digests[0].Hex()), 1),
		"unknown field": strings.Replace(s, `{"v":1`, `{"v":1,"x":2`, 1),
		"version 2":     strings.Replace(s, `"v":1`, `"v":2`, 1),
		"bad type":      strings.Replace(s, `"file"`, `"video"`, 1),
		"bad id":        strings.Replace(s, r.ID.String()[:5], "ZZZZZ", 1),
		"trailing":      s + "{}",
		"empty":         "",
		"grouped id":    strings.Replace(s, r.ID.String(), r.ID.Grouped(), 1),
	}
	for name, in := range tests {
		if _, err := ParseRecord([]byte(in)); err == nil {
			t.Errorf("%s: ParseRecord accepted %s", name, in)
		}
	}
}

func TestRecordValidate(t *testing.T) {
	tests := map[string]func(*Record){
		"no id":       func(r *Record) { r.ID = ID{} },
		"no digests":  func(r *Record) { r.Digests = nil },
		"dup digests": func(r *Record) { r.Digests = []Digest{r.Digests[0], r.Digests[0]} },
		"short":       func(r *Record) { r.Digests[0].Value = r.Digests[0].Value[:31] },
		"platform":    func(r *Record) { r.Platform = "Acme Inc" },
		"docref ctl":  func(r *Record) { r.DocRef = "a\nb" },
		"docref long": func(r *Record) { r.DocRef = strings.Repeat("x", 257) },
		"meta":        func(r *Record) { r.MetaDigest = []byte{1} },
		"time":        func(r *Record) { r.SubmittedAt = time.Time{} },
	}
	for name, mutate := range tests {
		r := sampleRecord(t)
		mutate(&r)
		if err := r.Validate(); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: Validate = %v, want ErrRecord", name, err)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	b, _ := sampleRecord(f).Canonical()
	f.Add(b)
	f.Add([]byte(`{"v":1}`))
	v2, _, _ := sampleV2(f)
	b2, _ := v2.Canonical()
	f.Add(b2)
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseRecord(in)
		if err != nil {
			return
		}
		out, err := r.Canonical()
		if err != nil {
			t.Fatalf("parsed record does not encode: %v", err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("decode→encode changed bytes:\n%s\n%s", in, out)
		}
	})
}

// BenchmarkParseRecord reads one canonical record, as the chaincode does
// for every record of a batch and the node for every record it reads back.
func BenchmarkParseRecord(b *testing.B) {
	leaf, err := sampleRecord(b).Canonical()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(leaf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRecord(leaf); err != nil {
			b.Fatal(err)
		}
	}
}
