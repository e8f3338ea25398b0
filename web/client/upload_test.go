package client

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestExactFile: an upload reads exactly the size the file's stat gave,
// and fails if the file turns out shorter or longer.
func TestExactFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("0123456789"), 0o644)
	for _, c := range []struct {
		size int64
		want error
	}{{10, nil}, {5, errFileChanged}, {20, errFileChanged}} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(&exactFile{f: f, left: c.size})
		f.Close()
		if !errors.Is(err, c.want) || (c.want == nil && string(b) != "0123456789") {
			t.Errorf("stat size %d: %q, %v; want %v", c.size, b, err, c.want)
		}
	}
}
