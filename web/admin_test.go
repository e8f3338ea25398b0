package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/node/backup"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/web"
)

// TestAdminBackup: the admin endpoint refuses a request without the token
// (401), a malformed body (400), a second backup while one runs (409), and
// streams a backup that checks.
func TestAdminBackup(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Set([]byte("S/x"), []byte("a value"))
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	h := web.NewAdmin(web.AdminConfig{Token: "eva_0123456789abcdef0123456789abcdef",
		Backup: func(_ context.Context, w io.Writer, base *backup.Info) (backup.Info, error) {
			started <- struct{}{}
			<-gate
			return backup.Write(w, backup.Options{DB: db, DataDir: dir, Base: base})
		}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	post := func(tok, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+"/admin/v1/backup", strings.NewReader(body))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	code := func(resp *http.Response) string {
		defer resp.Body.Close()
		var eb web.ErrorBody
		json.NewDecoder(resp.Body).Decode(&eb)
		return eb.Error.Code
	}
	if r := post("", ""); r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") == "" || code(r) != "unauthorized" {
		t.Fatalf("no token: %d", r.StatusCode)
	}
	if r := post("eva_wrong", ""); r.StatusCode != 401 {
		t.Fatalf("a wrong token: %d", r.StatusCode)
	}
	tok := "eva_0123456789abcdef0123456789abcdef"
	if r := post(tok, `{"base": 1}`); r.StatusCode != 400 || code(r) != "bad_request" {
		t.Fatalf("a bad body: %d", r.StatusCode)
	}
	if r := post(tok, `{"bass": {}}`); r.StatusCode != 400 {
		t.Fatalf("an unknown member: %d", r.StatusCode)
	}
	done := make(chan *http.Response)
	go func() { done <- post(tok, "") }()
	<-started
	if r := post(tok, ""); r.StatusCode != 409 || code(r) != "conflict" {
		t.Fatalf("a second backup while one runs: %d", r.StatusCode)
	}
	close(gate)
	r := <-done
	defer r.Body.Close()
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/x-tar" || r.Header.Get("X-Request-ID") == "" {
		t.Fatalf("backup: %d %v", r.StatusCode, r.Header)
	}
	f := filepath.Join(t.TempDir(), "b.tar")
	out, _ := os.Create(f)
	io.Copy(out, r.Body)
	out.Close()
	info, err := backup.Verify(f)
	if err != nil || info.Manifest.Kind != backup.KindFull {
		t.Fatalf("the streamed backup: %v %+v", err, info.Manifest)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/admin/v1/nothing", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Fatalf("an unknown admin path: %v %v", err, resp.StatusCode)
	}
}
