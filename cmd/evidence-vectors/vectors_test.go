package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	repoRoot   = "../.."
	vectorsDir = "../../docs/vectors"
)

// TestVectorsUpToDate: the committed docs/vectors are what the generator
// makes from this code, byte for byte.
func TestVectorsUpToDate(t *testing.T) {
	files, err := Generate(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(vectorsDir, name))
		if err != nil {
			t.Errorf("%s: %v (run: go run ./cmd/evidence-vectors -out docs/vectors)", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/vectors/%s differs from what the generator makes: run go run ./cmd/evidence-vectors -out docs/vectors and review the diff", name)
		}
	}
	entries, err := os.ReadDir(vectorsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok && e.Name() != "README.md" {
			t.Errorf("docs/vectors/%s is not made by the generator", e.Name())
		}
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := slices.Sorted(slices.Values(fileNames)); !slices.Equal(names, want) {
		t.Errorf("generated %v, checked %v", names, want)
	}
}

// TestVectorsPassAsLabelled runs every committed case through the
// reference verifier.
func TestVectorsPassAsLabelled(t *testing.T) {
	n, fails, err := CheckDir(vectorsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fails {
		t.Error(f)
	}
	t.Logf("%d cases", n)
}

// TestVectorsCoverEveryReason: each reason code of the table is the
// expected reason of at least one case, so the table and the vectors stay
// together.
func TestVectorsCoverEveryReason(t *testing.T) {
	var all []byte
	for _, n := range fileNames {
		b, err := os.ReadFile(filepath.Join(vectorsDir, n))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	codes := []string{"syntax", "type", "mismatch", "digest_mismatch"}
	for _, r := range reasons {
		codes = append(codes, r.Code)
	}
	for _, c := range codes {
		if !bytes.Contains(all, []byte(`"reason": "`+c+`"`)) {
			t.Errorf("no vector fails for reason %q", c)
		}
	}
	readme, err := os.ReadFile(filepath.Join(vectorsDir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range codes {
		if !strings.Contains(string(readme), "`"+c+"`") {
			t.Errorf("docs/vectors/README.md does not explain reason %q", c)
		}
	}
}

// TestCheckCatchesMislabels: the checker fails a case whose label is
// wrong (the check can fail).
func TestCheckCatchesMislabels(t *testing.T) {
	dir := t.TempDir()
	for _, n := range fileNames {
		b, err := os.ReadFile(filepath.Join(vectorsDir, n))
		if err != nil {
			t.Fatal(err)
		}
		switch n {
		case "ids.json":
			b = bytes.Replace(b, []byte(`"reason": "id_checksum"`), []byte(`"reason": "id_length"`), 1)
		case "records.json":
			b = bytes.Replace(b, []byte(`"valid": true`), []byte(`"valid": false`), 1)
		case "receipts.json":
			b = bytes.Replace(b, []byte(`"field": "time_source"`), []byte(`"field": "ledger"`), 1)
		case "packages.json":
			b = bytes.Replace(b, []byte(`"reason": "high_s"`), []byte(`"reason": "signature"`), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, fails, err := CheckDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(fails) != 4 {
		t.Fatalf("%d mislabelled cases found, want 4: %v", len(fails), fails)
	}
}
