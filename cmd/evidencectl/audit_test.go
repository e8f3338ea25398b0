package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/cmd/internal/race"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/web/client"
	"github.com/evidence-node/evidence-node/web/webtest"
)

// readAudit returns the outcome and reason of every file in an audit CSV.
func readAudit(t *testing.T, path string) map[string][2]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	for _, r := range rows[1:] {
		out[filepath.Base(r[0])] = [2]string{r[5], r[6]}
	}
	return out
}

// TestAudit: 2,000 files against a real node, some recorded and intact,
// some changed since, some never recorded, some with an ID in a list and
// some found by digest, one under an ID nobody recorded: every file is
// reported as what it is, and the signed summary verifies.
func TestAudit(t *testing.T) {
	if testing.Short() {
		t.Skip("2,000 files against a node")
	}
	n := webtest.Start(t, webtest.Options{})
	c := client.New(n.URL, client.WithKey(n.Key))
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	os.Mkdir(files, 0o755)
	// 2,000 files measure the audit's rate (README); under the race
	// detector, where hashing and verifying run ~12 times slower (199 s for
	// 2,000 files on 2 cores), 400 check the same verdicts.
	total, unrecorded, changed := 2000, 150, 120
	if race.Enabled {
		total = 400
	}
	want := map[string]string{}
	var items []client.Submission
	name := func(i int) string { return fmt.Sprintf("contract-%04d.txt", i) }
	for i := 0; i < total; i++ {
		body := []byte(fmt.Sprintf("contract %d, %s\n", i, strings.Repeat("clause ", i%300)))
		os.WriteFile(filepath.Join(files, name(i)), body, 0o644)
		want[name(i)] = auditPass
		if i < unrecorded {
			want[name(i)] = auditUnrecorded
			continue
		}
		items = append(items, client.Submission{Digest: evidence.Sum(evidence.SHA256, body).Hex()})
	}
	var ids []string
	for start := 0; start < len(items); start += 1000 {
		rcs, err := c.SubmitBatch(context.Background(), items[start:min(start+1000, len(items))], "")
		if err != nil {
			t.Fatal(err)
		}
		for _, rc := range rcs {
			ids = append(ids, rc.ID)
		}
	}
	// Change some recorded files; list half the recorded ones with their ID.
	var list strings.Builder
	list.WriteString("id,path\n")
	for i := unrecorded; i < total; i++ {
		if i < unrecorded+changed {
			f, _ := os.OpenFile(filepath.Join(files, name(i)), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(" (edited)")
			f.Close()
			want[name(i)] = auditMismatch
		}
		if i%2 == 0 {
			fmt.Fprintf(&list, "%s,files/%s\n", ids[i-unrecorded], name(i))
		}
	}
	// Changed and not listed: found by digest nowhere, so unrecorded.
	for i := unrecorded; i < unrecorded+changed; i++ {
		if i%2 != 0 {
			want[name(i)] = auditUnrecorded
		}
	}
	unknown, _ := evidence.NewIDGenerator(nil, nil).New()
	os.WriteFile(filepath.Join(dir, "stray.txt"), []byte("a stray file"), 0o644)
	fmt.Fprintf(&list, "%s,stray.txt\n", unknown)
	want["stray.txt"] = auditNotFound
	listPath := filepath.Join(dir, "list.csv")
	os.WriteFile(listPath, []byte(list.String()), 0o644)
	// The files not in the list are audited by folder: drop the listed
	// ones from the folder walk by auditing the rest through their names.
	var unlisted []string
	listed := list.String()
	for i := 0; i < total; i++ {
		if !strings.Contains(listed, "files/"+name(i)+"\n") {
			unlisted = append(unlisted, filepath.Join(files, name(i)))
		}
	}

	out := filepath.Join(dir, "report")
	t0 := time.Now()
	stdout, stderr, code := runCtl(append([]string{"audit", "--node", n.URL, "--list", listPath, "--out", out, "-q"}, unlisted...)...)
	took := time.Since(t0)
	if code != ExitFailed {
		t.Fatalf("audit with failures: exit %d, want %d\n%s%s", code, ExitFailed, stdout, stderr)
	}
	got := readAudit(t, out+".csv")
	if len(got) != total+1 {
		t.Fatalf("%d files in the report, want %d", len(got), total+1)
	}
	wrong := 0
	for f, w := range want {
		if got[f][0] != w {
			if wrong++; wrong < 10 {
				t.Errorf("%s: %s (%s), want %s", f, got[f][0], got[f][1], w)
			}
		}
	}
	if wrong > 0 {
		t.Fatalf("%d files reported wrongly", wrong)
	}
	t.Logf("audit of %d files: %v, %.0f files/s\n%s", total+1, took.Round(time.Millisecond), float64(total+1)/took.Seconds(), stdout)
	for _, ext := range []string{".html", ".pdf"} {
		if fi, err := os.Stat(out + ext); err != nil || fi.Size() == 0 {
			t.Fatalf("no %s summary: %v", ext, err)
		}
	}
	if o, err := exec.Command("pdfsig", out+".pdf").CombinedOutput(); err != nil || !strings.Contains(string(o), "Signature is Valid") {
		t.Fatalf("pdfsig on the summary: %v\n%s", err, o)
	}
	if o, err := exec.Command("pdftotext", out+".pdf", "-").Output(); err != nil || !strings.Contains(string(o), "审计报告") {
		t.Fatalf("pdftotext on the summary: %v\n%s", err, o)
	}

	// The same files, all passing, give exit 0.
	var intact []string
	for i := unrecorded + changed; i < unrecorded+changed+50; i++ {
		intact = append(intact, filepath.Join(files, name(i)))
	}
	if stdout, stderr, code := runCtl(append([]string{"audit", "--node", n.URL, "--out", filepath.Join(dir, "ok"), "-q"}, intact...)...); code != ExitOK {
		t.Fatalf("audit of intact files: %d\n%s%s", code, stdout, stderr)
	}
}

// TestAuditPackages: offline, against a folder of evidence packages.
func TestAuditPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("renders packages")
	}
	n := webtest.Start(t, webtest.Options{})
	c := client.New(n.URL, client.WithKey(n.Key))
	dir := t.TempDir()
	files, pkgs := filepath.Join(dir, "files"), filepath.Join(dir, "packages")
	os.Mkdir(files, 0o755)
	os.Mkdir(pkgs, 0o755)
	want := map[string]string{}
	for i := 0; i < 4; i++ {
		p := filepath.Join(files, fmt.Sprintf("c%d.txt", i))
		os.WriteFile(p, []byte(fmt.Sprintf("contract %d", i)), 0o644)
		rc, err := c.UploadFile(context.Background(), p, client.SubmitOptions{})
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.Package(context.Background(), rc.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(pkgs, rc.ID+".pdf"), d.PDF, 0o644)
		want[filepath.Base(p)] = auditPass
	}
	os.WriteFile(filepath.Join(files, "c3.txt"), []byte("contract 3, changed"), 0o644)
	want["c3.txt"] = auditUnrecorded // by digest: no package records the changed bytes
	os.WriteFile(filepath.Join(files, "new.txt"), []byte("never recorded"), 0o644)
	want["new.txt"] = auditUnrecorded
	out := filepath.Join(dir, "report")
	stdout, stderr, code := runCtl("audit", files, "--packages", pkgs, "--out", out, "-q")
	if code != ExitFailed {
		t.Fatalf("exit %d:\n%s%s", code, stdout, stderr)
	}
	got := readAudit(t, out+".csv")
	for f, w := range want {
		if got[f][0] != w {
			t.Errorf("%s: %s (%s), want %s", f, got[f][0], got[f][1], w)
		}
	}
}
