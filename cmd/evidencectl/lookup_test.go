package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/web/client"
	"github.com/evidence-node/evidence-node/web/webtest"
)

// TestLookupCommand: evidencectl lookup finds every record holding a
// file's, a text's or a typed digest's content (a digest recorded twice
// gives both IDs), says "not recorded" for an unknown one, and refuses bad
// input with the usage exit code.
func TestLookupCommand(t *testing.T) {
	n := webtest.Start(t, webtest.Options{})
	c := client.New(n.URL, client.WithKey(n.Key))
	body := []byte("a contract recorded twice\n")
	file := filepath.Join(t.TempDir(), "contract.txt")
	os.WriteFile(file, body, 0o644)
	d := evidence.Sum(evidence.SHA256, body).Hex()
	var ids []string
	for range 2 {
		rc, err := c.Submit(context.Background(), client.Submission{Digest: d}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rc.ID)
	}
	text := "一份文本"
	trc, err := c.Submit(context.Background(), client.Submission{Type: "text", Text: &text}, "")
	if err != nil {
		t.Fatal(err)
	}

	lookup := func(args ...string) []string {
		t.Helper()
		out, errOut, code := runCtl(append([]string{"lookup", "--node", n.URL, "--json"}, args...)...)
		if code != ExitOK {
			t.Fatalf("lookup %v: exit %d: %s", args, code, errOut)
		}
		var v struct {
			IDs []string `json:"ids"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("lookup %v --json: %v: %s", args, err, out)
		}
		slices.Sort(v.IDs)
		return v.IDs
	}
	slices.Sort(ids)
	if got := lookup(file); !slices.Equal(got, ids) {
		t.Fatalf("lookup FILE: %v, want %v", got, ids)
	}
	if got := lookup("--digest", d); !slices.Equal(got, ids) {
		t.Fatalf("lookup --digest: %v, want %v", got, ids)
	}
	if got := lookup("--text", text); !slices.Equal(got, []string{trc.ID}) {
		t.Fatalf("lookup --text: %v, want %s", got, trc.ID)
	}
	if got := lookup("--digest", strings.Repeat("ab", 32)); len(got) != 0 {
		t.Fatalf("an unknown digest: %v", got)
	}
	out, _, code := runCtl("lookup", "--node", n.URL, "--digest", strings.Repeat("ab", 32))
	if code != ExitOK || !strings.Contains(out, "not recorded") {
		t.Fatalf("an unknown digest, as text: exit %d: %s", code, out)
	}
	out, _, code = runCtl("lookup", "--node", n.URL, file)
	if code != ExitOK || !strings.Contains(out, ids[0]) || !strings.Contains(out, ids[1]) {
		t.Fatalf("lookup FILE, as text: exit %d: %s", code, out)
	}
	for _, bad := range [][]string{
		{"--digest", "xyz"},
		{"--digest", d, "--algorithm", "md5"},
		{"--digest", d, "--text", "both"},
		{},
		{filepath.Join(t.TempDir(), "missing.txt")},
	} {
		if _, errOut, code := runCtl(append([]string{"lookup", "--node", n.URL}, bad...)...); code != ExitUsage || errOut == "" {
			t.Errorf("lookup %v: exit %d (%q), want %d with a reason", bad, code, errOut, ExitUsage)
		}
	}
}
