package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// segments is the append-only block file store: blocks and per-record
// entries are appended to numbered segment files with plain writes and
// fsync, and read back with pread. Nothing is memory-mapped, so the data
// does not count against the node's resident memory. Only the small
// index (where each block and record lies) lives in badger.
type segments struct {
	dir     string
	maxSize int64

	mu    sync.RWMutex
	files map[uint32]*os.File
	cur   uint32 // segment being appended to
	end   int64  // committed end of the current segment
}

// loc is where a piece of data lies.
type loc struct {
	Seg uint32
	Off int64
	Len uint32
}

const locSize = 4 + 8 + 4

func (l loc) bytes() []byte {
	b := make([]byte, locSize)
	binary.BigEndian.PutUint32(b[0:4], l.Seg)
	binary.BigEndian.PutUint64(b[4:12], uint64(l.Off))
	binary.BigEndian.PutUint32(b[12:16], l.Len)
	return b
}

func parseLoc(b []byte) (loc, error) {
	if len(b) != locSize {
		return loc{}, fmt.Errorf("location of %d bytes", len(b))
	}
	return loc{Seg: binary.BigEndian.Uint32(b[0:4]), Off: int64(binary.BigEndian.Uint64(b[4:12])), Len: binary.BigEndian.Uint32(b[12:16])}, nil
}

func segName(dir string, n uint32) string { return filepath.Join(dir, SegmentFile(n)) }

// openSegments opens the store whose committed end is (cur, end), as the
// index last recorded it (after recoverTail has indexed the whole blocks
// past it). Bytes past that end (a write cut short by a crash) are cut
// off, and later segments removed.
func openSegments(dir string, maxSize int64, cur uint32, end int64) (*segments, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &segments{dir: dir, maxSize: maxSize, files: map[uint32]*os.File{}, cur: cur, end: end}
	f, err := os.OpenFile(segName(dir, cur), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.Size() < end {
		f.Close()
		return nil, &truncatedError{path: segName(dir, cur), size: fi.Size(), end: end}
	}
	if fi.Size() > end {
		if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, err
		}
	}
	s.files[cur] = f
	for n := cur + 1; ; n++ {
		err := os.Remove(segName(dir, n))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// truncatedError: the current block file is shorter than the index says.
type truncatedError struct {
	path      string
	size, end int64
}

func (e *truncatedError) Error() string {
	return fmt.Sprintf("block file %s has %d bytes, the index says %d: the block files were truncated or replaced", e.path, e.size, e.end)
}

// file returns the open segment n (opening an older one for reading).
func (s *segments) file(n uint32) (*os.File, error) {
	s.mu.RLock()
	f := s.files[n]
	s.mu.RUnlock()
	if f != nil {
		return f, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f = s.files[n]; f != nil {
		return f, nil
	}
	f, err := os.Open(segName(s.dir, n))
	if err != nil {
		return nil, err
	}
	s.files[n] = f
	return f, nil
}

// append writes data at the end of the current segment (starting a new one
// when it would grow past maxSize) and syncs it. It returns where data
// starts. The new end is only committed by commit, after the index has it.
func (s *segments) append(data []byte) (loc, error) {
	s.mu.Lock()
	cur, end := s.cur, s.end
	if end > 0 && end+int64(len(data)) > s.maxSize {
		f, err := os.OpenFile(segName(s.dir, cur+1), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			s.mu.Unlock()
			return loc{}, err
		}
		cur, end = cur+1, 0
		s.files[cur] = f
		if d, err := os.Open(s.dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	f := s.files[cur]
	s.mu.Unlock()
	if _, err := f.WriteAt(data, end); err != nil {
		// A write cut short (the disk is full) leaves bytes past the
		// committed end: give their space back. The next block is written
		// at end again; a restart would cut them off too.
		f.Truncate(end)
		return loc{}, err
	}
	if err := f.Sync(); err != nil {
		f.Truncate(end)
		return loc{}, err
	}
	return loc{Seg: cur, Off: end, Len: uint32(len(data))}, nil
}

// commit records that the data appended up to l's end is indexed.
func (s *segments) commit(l loc) {
	s.mu.Lock()
	s.cur, s.end = l.Seg, l.Off+int64(l.Len)
	s.mu.Unlock()
}

// read returns the bytes at l.
func (s *segments) read(l loc) ([]byte, error) {
	f, err := s.file(l.Seg)
	if err != nil {
		return nil, err
	}
	b := make([]byte, l.Len)
	if _, err := f.ReadAt(b, l.Off); err != nil {
		return nil, fmt.Errorf("reading %s at %d: %w", segName(s.dir, l.Seg), l.Off, err)
	}
	return b, nil
}

func (s *segments) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	for _, f := range s.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.files = map[uint32]*os.File{}
	return first
}
