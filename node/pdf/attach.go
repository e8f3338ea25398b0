package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// File is a file attached to a PDF (an embedded file in the document's
// EmbeddedFiles name tree).
type File struct {
	Name        string
	Description string
	Data        []byte
	// ModTime is recorded as the file's modification date; zero leaves it
	// to pdfcpu (the current time).
	ModTime time.Time
}

// ErrDuplicateAttachment means two attachments have the same name.
var ErrDuplicateAttachment = errors.New("pdf: two attachments have the same name")

// AttachFiles returns doc with files attached, in order. It rewrites the
// document: never use it on a signed PDF (it would break the signature);
// put such a PDF inside a new one as an attachment instead.
func AttachFiles(doc []byte, files []File) ([]byte, error) {
	seen := map[string]bool{}
	for _, f := range files {
		if f.Name == "" {
			return nil, errors.New("pdf: attachment without a name")
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("%w: %s", ErrDuplicateAttachment, f.Name)
		}
		seen[f.Name] = true
	}
	state.RLock()
	defer state.RUnlock()
	conf := config()
	conf.Cmd = model.ADDATTACHMENTS
	ctx, err := api.ReadValidateAndOptimize(bytes.NewReader(doc), conf)
	if err != nil {
		return nil, fmt.Errorf("pdf: attach: %w", err)
	}
	for _, f := range files {
		a := model.Attachment{Reader: bytes.NewReader(f.Data), ID: f.Name, FileName: f.Name, Desc: f.Description}
		if !f.ModTime.IsZero() {
			t := f.ModTime
			a.ModTime = &t
		}
		if err := ctx.AddAttachment(a, false); err != nil {
			return nil, fmt.Errorf("pdf: attach %s: %w", f.Name, err)
		}
	}
	var out bytes.Buffer
	if err := api.Write(ctx, &out, conf); err != nil {
		return nil, fmt.Errorf("pdf: attach: write: %w", err)
	}
	return out.Bytes(), nil
}

// ExtractAttachments returns the files attached to a PDF, in the
// document's order (the EmbeddedFiles name tree is sorted by name).
// Two attachments of one name are an ErrDuplicateAttachment. Data is
// decoded exactly as stored: the extracted bytes are the attached bytes.
func ExtractAttachments(rs io.ReadSeeker) (files []File, err error) {
	// pdfcpu panics on some malformed input: report it as unreadable.
	defer func() {
		if r := recover(); r != nil {
			files, err = nil, fmt.Errorf("pdf: extract attachments: pdfcpu failed on this input: %v", r)
		}
	}()
	state.RLock()
	defer state.RUnlock()
	conf := config()
	conf.Cmd = model.EXTRACTATTACHMENTS
	ctx, err := api.ReadAndValidate(rs, conf)
	if err != nil {
		return nil, fmt.Errorf("pdf: extract attachments: %w", err)
	}
	if !ctx.XRefTable.Valid {
		if err := ctx.XRefTable.LocateNameTree("EmbeddedFiles", false); err != nil {
			return nil, fmt.Errorf("pdf: extract attachments: %w", err)
		}
	}
	if ctx.XRefTable.Names["EmbeddedFiles"] == nil {
		return nil, nil // no attachments
	}
	aa, err := ctx.ExtractAttachments(nil)
	if err != nil {
		return nil, fmt.Errorf("pdf: extract attachments: %w", err)
	}
	out := make([]File, 0, len(aa))
	seen := map[string]bool{}
	for _, a := range aa {
		name := a.FileName
		if name == "" {
			name = a.ID
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: %s", ErrDuplicateAttachment, name)
		}
		seen[name] = true
		f := File{Name: name, Description: a.Desc}
		if a.Reader != nil {
			b, err := io.ReadAll(a.Reader)
			if err != nil {
				return nil, fmt.Errorf("pdf: extract %s: %w", name, err)
			}
			f.Data = b
		}
		if a.ModTime != nil {
			f.ModTime = *a.ModTime
		}
		out = append(out, f)
	}
	return out, nil
}
