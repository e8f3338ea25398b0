package node

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// MaxInspect is the largest PDF inspected at submission; a larger one is
// recorded all the same, with a note that it was not inspected.
const MaxInspect = 256 << 20

// Content is what the node learned from submitted content as it streamed
// past: its digests (the primary algorithm first, then every other the
// node supports), its size, and, for a PDF when asked, the inspection
// report (JSON) kept off-ledger with the record.
type Content struct {
	Digests    []evidence.Digest
	Size       int64
	Inspection []byte
}

// ReadContent hashes r (SHA-256 and SM3 at once, primary first) without
// holding it in memory. With inspect, content that starts like a PDF is
// copied to a temporary file as it streams (up to MaxInspect) and
// inspected afterwards. Errors are r's.
func (s *Service) ReadContent(r io.Reader, primary evidence.Algorithm, inspect bool) (Content, error) {
	algs := []evidence.Algorithm{primary}
	for _, a := range evidence.Algorithms() {
		if a != primary {
			algs = append(algs, a)
		}
	}
	src := r
	var spill *spillFile
	if inspect {
		br := bufio.NewReaderSize(r, 1024)
		head, _ := br.Peek(1024)
		src = br
		if bytes.Contains(head, []byte("%PDF-")) {
			var err error
			if spill, err = newSpill(MaxInspect); err != nil {
				return Content{}, err
			}
			defer spill.remove()
			src = io.TeeReader(br, spill)
		}
	}
	ds, n, err := evidence.HashReader(src, algs...)
	if err != nil {
		return Content{}, err
	}
	c := Content{Digests: ds, Size: n}
	if spill != nil {
		c.Inspection = spill.inspect(s.inspector)
	}
	return c, nil
}

// spillFile keeps a copy of an uploaded PDF on disk, up to a limit, for
// pdfcpu (which needs to seek) while the upload streams through the hash.
type spillFile struct {
	f    *os.File
	max  int64
	n    int64
	over bool
}

func newSpill(max int64) (*spillFile, error) {
	f, err := os.CreateTemp("", "evidence-upload-*.pdf")
	if err != nil {
		return nil, fmt.Errorf("%w: temporary file for PDF inspection: %v", ErrUnavailable, err)
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

// inspect reports on the spilled PDF as JSON.
func (s *spillFile) inspect(in *pdf.Inspector) []byte {
	var info any
	if s.over {
		info = map[string]any{"pdf": nil, "error": fmt.Sprintf("not inspected: larger than %d MiB", s.max>>20)}
	} else if i, err := in.Inspect(s.f); err != nil {
		info = map[string]any{"pdf": nil, "error": "not inspected: " + err.Error()}
	} else {
		info = i
	}
	b, _ := json.Marshal(info)
	return b
}

func (s *spillFile) remove() {
	s.f.Close()
	os.Remove(s.f.Name())
}
