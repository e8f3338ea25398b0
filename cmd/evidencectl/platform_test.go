package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/node/platform"
)

func TestParseGrace(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{{"24h", 24 * time.Hour}, {"90m", 90 * time.Minute}, {"300ms", 300 * time.Millisecond}, {"0", 0}, {"7d", 7 * 24 * time.Hour}, {"0d", 0}} {
		if got, err := parseGrace(tc.in); err != nil || got != tc.want {
			t.Errorf("parseGrace(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "soon", "-1h", "1.5d", "-1d", "d", "99999999d"} {
		if _, err := parseGrace(bad); err == nil || !strings.Contains(err.Error(), "--grace") {
			t.Errorf("parseGrace(%q): %v", bad, err)
		}
	}
}

// TestPlatformLifecycleCommands: add, rotate, revoke and list offline, with
// their exit codes; the keys printed on the last line are the ones the
// registry accepts.
func TestPlatformLifecycleCommands(t *testing.T) {
	data := t.TempDir()
	run := func(args ...string) (string, int) {
		var out, errb bytes.Buffer
		code := Main(t.Context(), append(args, "--data", data), &out, &errb)
		return out.String() + errb.String(), code
	}
	last := func(s string) string {
		l := strings.Split(strings.TrimSpace(s), "\n")
		return l[len(l)-1]
	}
	out, code := run("platform", "add", "acme")
	if code != 0 {
		t.Fatalf("add: %d %s", code, out)
	}
	first := last(out)
	out, code = run("platform", "rotate", "acme", "--grace", "1h")
	if code != 0 || !strings.Contains(out, "accepted until") {
		t.Fatalf("rotate: %d %s", code, out)
	}
	second := last(out)
	r, err := platform.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{first, second} {
		if p, err := r.Authenticate(k); err != nil || p.Name != "acme" {
			t.Fatalf("key %q: %+v %v", k, p, err)
		}
	}
	r.Close()
	if out, code := run("platform", "list"); code != 0 || !strings.Contains(out, "old key "+first[:8]+"…") {
		t.Fatalf("list: %d %s", code, out)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"platform", "rotate", "acme", "--grace", "later"}, 2, "--grace"},
		{[]string{"platform", "rotate", "nobody"}, 2, "no such platform"},
		{[]string{"platform", "rotate"}, 2, "exactly one NAME"},
		{[]string{"platform", "revoke", "nobody"}, 2, "no such platform"},
		{[]string{"platform", "revoke", "acme", "beta"}, 2, "exactly one NAME"},
		{[]string{"platform", "revoke", "acme"}, 0, "revoked at"},
		{[]string{"platform", "revoke", "acme"}, 2, "platform is revoked"},
		{[]string{"platform", "rotate", "acme"}, 2, "platform is revoked"},
		{[]string{"platform", "add", "acme"}, 2, "revoked"},
		{[]string{"platform", "list"}, 0, "revoked 20"},
		{[]string{"platform", "retire", "acme"}, 2, "want add, list, rotate, revoke or webhook"},
	} {
		if out, code := run(tc.args...); code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: %d %s; want %d and %q", tc.args, code, out, tc.code, tc.want)
		}
	}
	r, err = platform.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, k := range []string{first, second} {
		if _, err := r.Authenticate(k); err == nil {
			t.Fatalf("key %q of a revoked platform accepted", k)
		}
	}
}
