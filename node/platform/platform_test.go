package platform

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParsePeriod(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Period
	}{
		{"1y", Period{Years: 1}}, {"6mo", Period{Months: 6}}, {"4w", Period{Days: 28}},
		{"30d", Period{Days: 30}}, {"24h", Period{Exact: 24 * time.Hour}}, {" 2Y ", Period{Years: 2}},
	} {
		got, err := ParsePeriod(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParsePeriod(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "1", "y", "0d", "-1d", "1.5y", "1m", "100001d", "1 y"} {
		if _, err := ParsePeriod(bad); !errors.Is(err, ErrBadPeriod) {
			t.Errorf("ParsePeriod(%q): %v, want ErrBadPeriod", bad, err)
		}
	}
}

// TestWindow: quota windows follow the calendar from the platform's
// creation, however long each month or year is.
func TestWindow(t *testing.T) {
	for _, tc := range []struct {
		period, created, now, start, end string
	}{
		{"1y", "2024-02-29T10:00:00Z", "2024-06-01T00:00:00Z", "2024-02-29T10:00:00Z", "2025-03-01T10:00:00Z"},
		{"1y", "2024-01-15T00:00:00Z", "2026-01-14T23:59:59Z", "2025-01-15T00:00:00Z", "2026-01-15T00:00:00Z"},
		{"1y", "2024-01-15T00:00:00Z", "2026-01-15T00:00:00Z", "2026-01-15T00:00:00Z", "2027-01-15T00:00:00Z"},
		{"1mo", "2026-01-31T00:00:00Z", "2026-02-15T00:00:00Z", "2026-01-31T00:00:00Z", "2026-03-03T00:00:00Z"},
		{"6mo", "2026-01-01T00:00:00Z", "2027-08-01T00:00:00Z", "2027-07-01T00:00:00Z", "2028-01-01T00:00:00Z"},
		{"30d", "2026-01-01T00:00:00Z", "2026-03-05T12:00:00Z", "2026-03-02T00:00:00Z", "2026-04-01T00:00:00Z"},
		{"24h", "2026-01-01T06:00:00Z", "2026-01-03T05:59:59Z", "2026-01-02T06:00:00Z", "2026-01-03T06:00:00Z"},
		// A clock before the creation time: the first window.
		{"1y", "2026-01-01T00:00:00Z", "2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
	} {
		p, err := ParsePeriod(tc.period)
		if err != nil {
			t.Fatal(err)
		}
		start, end := p.Window(date(tc.created), date(tc.now))
		if !start.Equal(date(tc.start)) || !end.Equal(date(tc.end)) {
			t.Errorf("%s from %s at %s: [%s, %s), want [%s, %s)", tc.period, tc.created, tc.now,
				start.Format(time.RFC3339), end.Format(time.RFC3339), tc.start, tc.end)
		}
		if n := date(tc.now); !n.Before(date(tc.created)) && (n.Before(start) || !n.Before(end)) {
			t.Errorf("%s: now %s is not in its window", tc.period, tc.now)
		}
	}
}

func TestAddOpenAuthenticate(t *testing.T) {
	dir := t.TempDir()
	now := date("2026-12-01T08:00:00Z")
	key, p, err := Add(dir, "acme", 500, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, KeyPrefix) || len(key) != len(KeyPrefix)+52 || p.Period != "1y" || p.Quota != 500 {
		t.Fatalf("key %q, platform %+v", key, p)
	}
	b, _ := os.ReadFile(filepath.Join(dir, FileName))
	if strings.Contains(string(b), key) || !strings.Contains(string(b), HashKey(key)) {
		t.Fatal("the registry must hold the key's hash, never the key")
	}
	if fi, _ := os.Stat(filepath.Join(dir, FileName)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("registry mode %v", fi.Mode())
	}
	if _, _, err := Add(dir, "acme", 0, "", now); !errors.Is(err, ErrExists) {
		t.Fatalf("second acme: %v", err)
	}
	for _, bad := range []string{"", "Acme", "-acme", "a b", strings.Repeat("a", 65)} {
		if _, _, err := Add(dir, bad, 0, "", now); err == nil {
			t.Errorf("platform name %q accepted", bad)
		}
	}
	if _, _, err := Add(dir, "beta", -1, "", now); err == nil {
		t.Error("negative quota accepted")
	}
	if _, _, err := Add(dir, "beta", 1, "7x", now); !errors.Is(err, ErrBadPeriod) {
		t.Errorf("bad period: %v", err)
	}

	r := open(t, dir)
	got, err := r.Authenticate(key)
	if err != nil || got.Name != "acme" {
		t.Fatalf("Authenticate: %+v %v", got, err)
	}
	if _, err := r.Authenticate(key + "x"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("a wrong key: %v", err)
	}
	// A platform added while the registry is open is found at once.
	key2, _, err := Add(dir, "beta", 0, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if !within(time.Second, func() bool { _, err := r.Authenticate(key2); return err == nil }) {
		t.Fatal("a key added later is not accepted within 1 s")
	}
	if got, err := r.Authenticate(key2); err != nil || got.Name != "beta" {
		t.Fatalf("a key added later: %+v %v", got, err)
	}
	if n := len(r.List()); n != 2 {
		t.Fatalf("List: %d platforms", n)
	}
}

// TestAddConcurrent: concurrent adds (e.g. two operators) lose no platform.
func TestAddConcurrent(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := Add(dir, "p"+string(rune('a'+i)), 0, "", time.Now()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	r := open(t, dir)
	if n := len(r.List()); n != 8 {
		t.Fatalf("%d platforms after 8 concurrent adds", n)
	}
}

func TestOpenEmptyAndBroken(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir)
	if err != nil || len(r.List()) != 0 {
		t.Fatalf("empty registry: %v", err)
	}
	r.Close()
	os.WriteFile(filepath.Join(dir, FileName), []byte("{not json"), 0o600)
	if _, err := Open(dir); err == nil {
		t.Fatal("a broken registry opened")
	}
}
