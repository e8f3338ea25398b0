package evidence

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

func fixedGen(t0 time.Time) *IDGenerator {
	r := rand.NewChaCha8([32]byte{1})
	return NewIDGenerator(func() time.Time { return t0 }, r)
}

func TestIDRoundTrip(t *testing.T) {
	g := NewIDGenerator(nil, nil)
	for i := 0; i < 1000; i++ {
		id, err := g.New()
		if err != nil {
			t.Fatal(err)
		}
		s := id.String()
		if len(s) != IDLen {
			t.Fatalf("len(%q) = %d", s, len(s))
		}
		for _, in := range []string{s, strings.ToLower(s), id.Grouped(), " " + s[:5] + " - " + s[5:] + "\t"} {
			got, err := ParseID(in)
			if err != nil {
				t.Fatalf("ParseID(%q): %v", in, err)
			}
			if got != id {
				t.Fatalf("ParseID(%q) = %s, want %s", in, got, id)
			}
		}
	}
}

func TestIDOrderedAndUnique(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	now := t0
	g := NewIDGenerator(func() time.Time { return now }, nil)
	var ids []string
	seen := map[string]bool{}
	for i := 0; i < 5000; i++ {
		if i%100 == 0 {
			now = now.Add(time.Millisecond)
		}
		if i == 3000 {
			now = now.Add(-time.Second) // clock steps back: order must hold
		}
		id, err := g.New()
		if err != nil {
			t.Fatal(err)
		}
		s := id.String()
		if seen[s] {
			t.Fatalf("duplicate %s", s)
		}
		seen[s] = true
		ids = append(ids, s)
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatal("IDs from one generator are not in increasing order")
	}
	first, _ := ParseID(ids[0])
	if got := first.Time(); !got.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("Time() = %v, want %v", got, t0.Add(time.Millisecond))
	}
}

func TestIDConfusables(t *testing.T) {
	id, _ := fixedGen(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).New()
	s := id.String()
	swapped := strings.NewReplacer("1", "l", "0", "o").Replace(strings.ToLower(s))
	got, err := ParseID(swapped)
	if err != nil || got != id {
		t.Fatalf("ParseID(%q) = %v, %v; want %s", swapped, got, err, id)
	}
}

// Every single-character substitution and every adjacent transposition of
// distinct characters must be caught as a checksum mismatch (Luhn mod N
// misses only transpositions of the values 0 and N-1... and we check that
// the miss rate stays at that bound).
func TestIDChecksumCatchesTypos(t *testing.T) {
	g := NewIDGenerator(nil, rand.NewChaCha8([32]byte{7}))
	missedTransp := 0
	for n := 0; n < 200; n++ {
		id, _ := g.New()
		s := []byte(id.String())
		for i := 0; i < IDLen; i++ {
			for _, c := range []byte(crockford) {
				if c == s[i] {
					continue
				}
				m := bytes.Clone(s)
				m[i] = c
				if i == 0 && crockfordValue[c] > 7 {
					continue
				}
				_, err := ParseID(string(m))
				if !errors.Is(err, ErrIDChecksum) {
					t.Fatalf("substitution %q -> %q: err = %v, want checksum mismatch", s, m, err)
				}
			}
			if i+1 < IDLen && s[i] != s[i+1] {
				m := bytes.Clone(s)
				m[i], m[i+1] = m[i+1], m[i]
				if i == 0 && crockfordValue[m[0]] > 7 {
					continue
				}
				if _, err := ParseID(string(m)); !errors.Is(err, ErrIDChecksum) {
					pair := string([]byte{s[i], s[i+1]})
					if pair != "0Z" && pair != "Z0" {
						t.Fatalf("transposition %q -> %q: err = %v", s, m, err)
					}
					missedTransp++
				}
			}
		}
	}
	t.Logf("transpositions missed (only 0<->Z can be): %d", missedTransp)
}

func TestParseIDErrors(t *testing.T) {
	valid := NewIDGenerator(nil, nil)
	id, _ := valid.New()
	s := id.String()
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrIDLength},
		{s[:26], ErrIDLength},
		{s + "0", ErrIDLength},
		{s[:10] + "U" + s[11:], ErrIDChar},
		{s[:10] + "*" + s[11:], ErrIDChar},
		{"8" + s[1:], ErrIDChar},
		{"存证" + s, ErrIDChar},
		{strings.Repeat("0", 27), ErrIDChar}, // zero ID, checksum 0
	}
	for _, tt := range tests {
		_, err := ParseID(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("ParseID(%q) = %v, want %v", tt.in, err, tt.want)
		}
		var ie *IDError
		if !errors.As(err, &ie) {
			t.Errorf("ParseID(%q) error is %T, want *IDError", tt.in, err)
		}
	}
}

func TestIDText(t *testing.T) {
	id, _ := NewIDGenerator(nil, nil).New()
	b, _ := id.MarshalText()
	var got ID
	if err := got.UnmarshalText(b); err != nil || got != id {
		t.Fatalf("UnmarshalText(%s) = %v, %v", b, got, err)
	}
}

func FuzzParseID(f *testing.F) {
	id, _ := NewIDGenerator(nil, nil).New()
	f.Add(id.String())
	f.Add(id.Grouped())
	f.Add(strings.ToLower(id.String()))
	f.Add("")
	f.Add("0000-0000")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			var ie *IDError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T is not *IDError", err)
			}
			return
		}
		again, err := ParseID(id.String())
		if err != nil || again != id {
			t.Fatalf("re-parse of %s: %v, %v", id, again, err)
		}
		if Canonical(s) != id.String() {
			t.Fatal("Canonical disagrees with ParseID")
		}
	})
}
