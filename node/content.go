package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// MaxInspect is the largest PDF inspected at submission; a larger one is
// recorded all the same, with a note that it was not inspected.
const MaxInspect = 256 << 20

// ReadOptions say what to do with content besides hashing it.
type ReadOptions struct {
	// Primary is the algorithm of the first digest (default SHA-256); the
	// node computes every algorithm it supports.
	Primary evidence.Algorithm
	// Inspect: content that starts like a PDF is inspected (pages,
	// signatures), in Platform's turn of the inspection queue.
	Inspect  bool
	Platform string
	// Keep > 0 keeps a copy of up to Keep bytes in a temporary file
	// (Content.Kept), for an original to embed in a package: it is read
	// into memory only after its digests are checked.
	Keep int64
}

// Content is what the node learned from content as it streamed past: its
// digests (the primary algorithm first, then every other the node
// supports), its size, for a PDF when asked the inspection report (JSON,
// kept off-ledger with the record), and the kept copy if asked. Close
// removes the copy.
type Content struct {
	Digests    []evidence.Digest
	Size       int64
	Inspection []byte
	Kept       *Kept
}

// Close removes the kept copy, if any.
func (c Content) Close() {
	if c.Kept != nil {
		c.Kept.remove()
	}
}

// ErrTooLargeToKeep means content to keep (an original for a package) is
// larger than ReadOptions.Keep.
var ErrTooLargeToKeep = errors.New("content larger than may be kept")

// ReadContent hashes r (SHA-256 and SM3 at once) without holding it in
// memory. Content to inspect or keep is copied to a temporary file as it
// streams (an inspected PDF up to MaxInspect, a kept copy up to Keep) and
// inspected afterwards, in a bounded sandbox (see pdf.Inspector). Errors
// are r's, or ErrTooLargeToKeep.
func (s *Service) ReadContent(ctx context.Context, r io.Reader, o ReadOptions) (Content, error) {
	if o.Primary == "" {
		o.Primary = evidence.SHA256
	}
	algs := []evidence.Algorithm{o.Primary}
	for _, a := range evidence.Algorithms() {
		if a != o.Primary {
			algs = append(algs, a)
		}
	}
	src := r
	var spill *spillFile
	isPDF := false
	if o.Inspect || o.Keep > 0 {
		br := bufio.NewReaderSize(r, 1024)
		head, _ := br.Peek(1024)
		src = br
		isPDF = o.Inspect && bytes.Contains(head, []byte("%PDF-"))
		if isPDF || o.Keep > 0 {
			limit := o.Keep
			if isPDF {
				limit = max(limit, MaxInspect)
			}
			var err error
			if spill, err = newSpill(limit); err != nil {
				return Content{}, err
			}
			src = io.TeeReader(br, spill)
		}
	}
	ds, n, err := evidence.HashReader(src, algs...)
	if err != nil {
		if spill != nil {
			spill.remove()
		}
		return Content{}, err
	}
	c := Content{Digests: ds, Size: n}
	if spill == nil {
		return c, nil
	}
	if isPDF {
		var ok bool
		c.Inspection, ok = spill.inspect(ctx, s.inspector, o.Platform)
		s.metrics.inspections.WithLabelValues(map[bool]string{true: "ok", false: "not_inspected"}[ok]).Inc()
	}
	if o.Keep <= 0 {
		spill.remove()
		return c, nil
	}
	if spill.over || n > o.Keep {
		spill.remove()
		return c, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLargeToKeep, n, o.Keep)
	}
	c.Kept = &Kept{spill: spill}
	return c, nil
}

// Kept is a kept copy of content, in a temporary file.
type Kept struct {
	spill *spillFile
}

// Head returns the copy's first n bytes (fewer if it is shorter).
func (k *Kept) Head(n int) ([]byte, error) {
	b := make([]byte, min(int64(n), k.spill.n))
	_, err := k.spill.f.ReadAt(b, 0)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return b, err
}

// Bytes reads the copy into memory.
func (k *Kept) Bytes() ([]byte, error) {
	b := make([]byte, k.spill.n)
	if _, err := k.spill.f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

func (k *Kept) remove() { k.spill.remove() }

// spillFile keeps a copy of streamed content on disk, up to a limit, for
// pdfcpu (which needs to seek) or for later use, while the content
// streams through the hash.
type spillFile struct {
	f    *os.File
	max  int64
	n    int64
	over bool
}

func newSpill(max int64) (*spillFile, error) {
	f, err := os.CreateTemp("", "evidence-upload-*")
	if err != nil {
		return nil, fmt.Errorf("%w: temporary file for uploaded content: %v", ErrUnavailable, err)
	}
	return &spillFile{f: f, max: max}, nil
}

func (s *spillFile) Write(p []byte) (int, error) {
	if s.over {
		return len(p), nil
	}
	if s.n+int64(len(p)) > s.max {
		s.over = true
		return len(p), nil
	}
	n, err := s.f.Write(p)
	s.n += int64(n)
	if err != nil {
		s.over = true // a full disk costs the inspection, not the evidence
	}
	return len(p), nil
}

// inspect reports on the spilled PDF as JSON, and whether it was
// inspected.
func (s *spillFile) inspect(ctx context.Context, in *pdf.Inspector, who string) ([]byte, bool) {
	var info any
	ok := false
	if s.over && s.n < MaxInspect {
		info = map[string]any{"pdf": nil, "error": "not inspected: the copy for inspection could not be written"}
	} else if s.over || s.n > MaxInspect {
		info = map[string]any{"pdf": nil, "error": fmt.Sprintf("not inspected: larger than %d MiB", MaxInspect>>20)}
	} else if i, err := in.InspectFile(ctx, who, s.f.Name(), s.n); err != nil {
		info = map[string]any{"pdf": nil, "error": "not inspected: " + err.Error()}
	} else {
		info, ok = i, true
	}
	b, _ := json.Marshal(info)
	return b, ok
}

func (s *spillFile) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}
