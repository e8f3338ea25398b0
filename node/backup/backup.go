// Package backup writes, checks and restores backups of a node's data
// directory. A backup is one tar file: a consistent snapshot of the store
// (badger's own backup stream, taken while the node serves), the embedded
// ledger's block files up to the head that snapshot records, and the
// node's own files (its key, certificate, platform registry), then a
// manifest naming every member with its size and SHA-256, then, last, the
// SHA-256 of every byte before it. A backup may be incremental: the
// store's changes and the block bytes appended since an earlier backup,
// which it names.
//
// The layout, member by member:
//
//	store/000000.badger …  the store's backup stream, in chunks of at most 8 MiB
//	store/live             incremental only: the live keys of the tracked prefixes, one hex key a line
//	blocks/seg-NNNNNN.dat  block file bytes, from the manifest's offset (0 in a full backup)
//	files/…                the data directory's other files, whole in every backup
//	manifest.json          Manifest
//	SHA256                 hex SHA-256 of every byte of the archive before this member's header, and "\n"
//
// The archive ends with tar's two zero blocks. Any changed byte is found:
// before the last member by the final hash; in the last member's header by
// tar's header checksum; in its content or the end by their fixed form.
package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/node/tsa"
)

// Format names this layout in the manifest.
const Format = "evidence-node-backup/v1"

// Kinds of backup.
const (
	KindFull        = "full"
	KindIncremental = "incremental"
)

// Member names.
const (
	manifestName = "manifest.json"
	sumName      = "SHA256"
	liveName     = "store/live"
	storePrefix  = "store/"
	blocksPrefix = "blocks/"
	filesPrefix  = "files/"
)

// Directories of the data directory that a backup copies its own way (the
// store by its stream, the block files up to the head), not as files.
const (
	StoreDir  = "store"
	BlocksDir = "blocks"
)

// Bounds on what a reader accepts.
const (
	chunkSize   = 8 << 20
	maxManifest = 64 << 20
	maxLive     = 1 << 30
	maxMembers  = 1 << 20
	trailerLen  = 512 + 512 + 1024 // the SHA256 member's header and block, tar's end
)

// Manifest describes a backup. Its JSON is the archive's manifest.json.
type Manifest struct {
	Format string `json:"format"`
	// Kind is KindFull or KindIncremental.
	Kind    string `json:"kind"`
	Created string `json:"created"`
	// Base is the ID of the backup an incremental one follows.
	Base string `json:"base,omitempty"`
	// Ledger is the embedded ledger's name; empty when the store holds
	// none (a Fabric node: its ledger is on the network).
	Ledger string `json:"ledger,omitempty"`
	// Head is the embedded ledger's head in the store's snapshot: the
	// block files are copied up to it. BaseHead is the base's head (the
	// block bytes an incremental backup starts from).
	Head     Head  `json:"head"`
	BaseHead *Head `json:"base_head,omitempty"`
	Store    Store `json:"store"`
	// Members are every member before the manifest, in archive order.
	Members []Member `json:"members"`
}

// Head is a ledger head as a manifest records it.
type Head struct {
	Height   uint64 `json:"height"`
	LastHash string `json:"last_hash,omitempty"`
	Segment  uint32 `json:"segment"`
	End      int64  `json:"end"`
}

// Store describes the store's stream.
type Store struct {
	// Since is the store version an incremental stream starts after (0:
	// a full stream); Version the version it reaches (the next backup's
	// Since).
	Since   uint64 `json:"since"`
	Version uint64 `json:"version"`
	// Keys is how many keys the stream holds.
	Keys int `json:"keys"`
	// Tracked are the key prefixes (hex) whose live keys store/live lists.
	Tracked []string `json:"tracked,omitempty"`
}

// Member is one member of the archive.
type Member struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Offset is where in its block file a blocks/ member's bytes go.
	Offset int64 `json:"offset,omitempty"`
	// Mode is a files/ member's permission bits.
	Mode uint32 `json:"mode,omitempty"`
}

// Info is a backup as written or read: its ID (the SHA-256 in its last
// member), its manifest and its size in bytes.
type Info struct {
	ID       string
	Manifest Manifest
	Size     int64
}

// ErrDamaged is wrapped by every error about a backup's bytes: a changed,
// missing or extra byte, or a member the manifest does not describe.
var ErrDamaged = errors.New("backup damaged")

// DamagedError says what is wrong with a backup.
type DamagedError struct {
	Path   string
	Reason string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("backup %s is damaged or not a backup: %s", e.Path, e.Reason)
}

// Unwrap returns ErrDamaged.
func (e *DamagedError) Unwrap() error { return ErrDamaged }

// ErrBase means an incremental backup cannot follow the base it was given.
var ErrBase = errors.New("backup: not a base of this node's data")

// DeletedPrefixes are the store prefixes under which the node deletes
// keys, for Options.Track: the node's own (node.DeletedPrefixes) and the
// trusted-time queue's (tsa.DeletedPrefixes). The embedded ledger's first
// digest index (L/d/, L/dix) is not tracked: its keys are deleted once,
// when they are converted, and any that a restore brings back are
// converted again when the ledger is opened.
func DeletedPrefixes() [][]byte { return append(node.DeletedPrefixes(), tsa.DeletedPrefixes()...) }

// Options say what Write backs up.
type Options struct {
	// DB is the node's open store (the node may be serving: the backup is
	// a snapshot).
	DB *store.DB
	// DataDir is the node's data directory: the block files are in
	// DataDir/blocks, the store in DataDir/store; every other file in it
	// is copied whole.
	DataDir string
	// Base, if set, makes the backup incremental: what changed since it.
	Base *Info
	// Track are the store prefixes under which the node deletes keys
	// (DeletedPrefixes): an incremental backup lists their live keys
	// so that a restore drops what was deleted (store.Prune).
	Track [][]byte
	// Now is the clock (time.Now if nil).
	Now func() time.Time
}

// hashWriter counts and hashes what passes through it.
type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (h *hashWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// writer writes an archive's members and records them.
type writer struct {
	out  *hashWriter
	tw   *tar.Writer
	mod  time.Time
	mems []Member
}

func (w *writer) member(name string, size int64, mode uint32, offset int64, body io.Reader) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: w.mod, Format: tar.FormatUSTAR}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(w.tw, io.TeeReader(io.LimitReader(body, size), h))
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("backup: %s: %d bytes, expected %d", name, n, size)
	}
	w.mems = append(w.mems, Member{Name: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil)), Offset: offset, Mode: mode})
	return nil
}

// chunker cuts the store's stream into members of at most chunkSize.
type chunker struct {
	w   *writer
	buf bytes.Buffer
	n   int
	err error
}

func (c *chunker) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	c.buf.Write(p)
	for c.buf.Len() >= chunkSize && c.err == nil {
		c.err = c.flush(chunkSize)
	}
	return len(p), c.err
}

func (c *chunker) flush(n int) error {
	if n == 0 {
		return nil
	}
	name := fmt.Sprintf("%s%06d.badger", storePrefix, c.n)
	c.n++
	return c.w.member(name, int64(n), 0, 0, bytes.NewReader(c.buf.Next(n)))
}

// Write writes a backup of o.DB and o.DataDir to w and returns what it
// wrote. The node may be running: the store is read as one snapshot, and
// the block files up to the head that snapshot records (their bytes
// before it never change).
func Write(w io.Writer, o Options) (Info, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	now := o.Now().UTC().Truncate(time.Second)
	m := Manifest{Format: Format, Kind: KindFull, Created: now.Format(time.RFC3339)}
	var since uint64
	if o.Base != nil {
		m.Kind, m.Base, since = KindIncremental, o.Base.ID, o.Base.Manifest.Store.Version
		bh := o.Base.Manifest.Head
		m.BaseHead = &bh
		for _, p := range o.Track {
			m.Store.Tracked = append(m.Store.Tracked, hex.EncodeToString(p))
		}
	}
	name, err := embedded.LedgerName(o.DB)
	switch {
	case errors.Is(err, embedded.ErrNoLedger):
	case err != nil:
		return Info{}, err
	default:
		m.Ledger = name
	}
	if o.Base != nil {
		if err := checkBase(o.DB, o.Base.Manifest, m.Ledger); err != nil {
			return Info{}, err
		}
	}

	out := &hashWriter{w: w, h: sha256.New()}
	bw := &writer{out: out, tw: tar.NewWriter(out), mod: now}

	// The store first: its snapshot fixes the head the block files are
	// copied to.
	ch := &chunker{w: bw}
	bo := store.BackupOptions{Since: since, Watch: [][]byte{embedded.HeadKey()}}
	if o.Base != nil {
		bo.Track = o.Track
	}
	res, err := o.DB.Backup(ch, bo)
	if err == nil {
		err = ch.err
	}
	if err == nil {
		err = ch.flush(ch.buf.Len())
	}
	if err != nil {
		return Info{}, err
	}
	m.Store.Since, m.Store.Version, m.Store.Keys = since, res.Version, res.Keys
	if hb, ok := res.Watched[string(embedded.HeadKey())]; ok {
		h, err := embedded.ParseHead(hb)
		if err != nil {
			return Info{}, err
		}
		m.Head = Head{Height: h.Height, LastHash: hex.EncodeToString(h.LastHash), Segment: h.Segment, End: h.End}
	} else if o.Base != nil {
		m.Head = o.Base.Manifest.Head // unchanged since the base
	}
	if o.Base != nil {
		var live bytes.Buffer
		for _, k := range res.Live {
			live.WriteString(hex.EncodeToString(k))
			live.WriteByte('\n')
		}
		if err := bw.member(liveName, int64(live.Len()), 0, 0, &live); err != nil {
			return Info{}, err
		}
	}
	if err := writeBlocks(bw, filepath.Join(o.DataDir, BlocksDir), m.BaseHead, m.Head); err != nil {
		return Info{}, err
	}
	if err := writeFiles(bw, o.DataDir); err != nil {
		return Info{}, err
	}

	m.Members = bw.mems
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Info{}, err
	}
	mb = append(mb, '\n')
	if err := bw.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: manifestName, Size: int64(len(mb)), Mode: 0o600, ModTime: now, Format: tar.FormatUSTAR}); err != nil {
		return Info{}, err
	}
	if _, err := bw.tw.Write(mb); err != nil {
		return Info{}, err
	}
	// Everything up to here (the manifest's padding too) is what the
	// final hash covers.
	if err := bw.tw.Flush(); err != nil {
		return Info{}, err
	}
	id := hex.EncodeToString(out.h.Sum(nil))
	if _, err := out.Write(trailer(now, id)); err != nil {
		return Info{}, err
	}
	return Info{ID: id, Manifest: m, Size: out.n}, nil
}

// trailer is the archive's last trailerLen bytes: the SHA256 member
// holding sum, and tar's end. A reader compares them byte for byte, as
// tar's own checks ignore some bytes of a header.
func trailer(mod time.Time, sum string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	body := []byte(sum + "\n")
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: sumName, Size: int64(len(body)), Mode: 0o600, ModTime: mod, Format: tar.FormatUSTAR})
	tw.Write(body)
	tw.Close() // into memory: cannot fail
	return b.Bytes()
}

// checkBase refuses a base that is not an earlier state of this store's
// ledger: another ledger, a head past this one's, or a block hash that
// differs.
func checkBase(db *store.DB, base Manifest, ledger string) error {
	if base.Ledger != ledger {
		return fmt.Errorf("%w: the base backup is of ledger %q, this node's is %q", ErrBase, base.Ledger, ledger)
	}
	if ledger == "" {
		return nil
	}
	h, err := embedded.ReadHead(db)
	if err != nil {
		return err
	}
	if base.Head.Height > h.Height || base.Head.Segment > h.Segment || (base.Head.Segment == h.Segment && base.Head.End > h.End) {
		return fmt.Errorf("%w: the base backup has %d blocks, this ledger %d: it is of another copy of the ledger", ErrBase, base.Head.Height, h.Height)
	}
	if base.Head.Height > 0 {
		got, err := embedded.StoredBlockHash(db, base.Head.Height-1)
		if err != nil {
			return err
		}
		if hex.EncodeToString(got) != base.Head.LastHash {
			return fmt.Errorf("%w: block %d has hash %x here, %s in the base backup", ErrBase, base.Head.Height-1, got, base.Head.LastHash)
		}
	}
	return nil
}

// writeBlocks copies the block files from base (nil: the start) up to
// head. Block files before the head's are complete and never change; the
// head's is copied up to the head's end, the bytes a block being written
// meanwhile may be adding after it left out.
func writeBlocks(w *writer, dir string, base *Head, head Head) error {
	if head.Height == 0 && head.End == 0 && head.Segment == 0 {
		return nil
	}
	from := Head{}
	if base != nil {
		from = *base
	}
	for seg := from.Segment; seg <= head.Segment; seg++ {
		p := filepath.Join(dir, embedded.SegmentFile(seg))
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		start, end := int64(0), head.End
		if seg == from.Segment {
			start = from.End
		}
		if seg < head.Segment {
			fi, err := f.Stat()
			if err != nil {
				f.Close()
				return err
			}
			end = fi.Size()
		}
		if end > start {
			err = w.member(blocksPrefix+embedded.SegmentFile(seg), end-start, 0, start, io.NewSectionReader(f, start, end-start))
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("backup: block file %s: %w", p, err)
		}
	}
	return nil
}

// writeFiles copies every regular file of the data directory but the
// store and the block files, whole, in name order; atomic writes' temporary
// files, lock files and the transparency log's stored hashes are left out.
func writeFiles(w *writer, dataDir string) error {
	var names []string
	err := filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dataDir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == StoreDir || rel == BlocksDir {
				return fs.SkipDir
			}
			return nil
		}
		base := path.Base(rel)
		// The transparency log's stored hashes are derived data, computed
		// again from the ledger when the restored node starts.
		if !d.Type().IsRegular() || strings.HasPrefix(base, ".tmp-") || strings.HasSuffix(base, ".lock") || rel == tlog.HashesFile {
			return nil
		}
		names = append(names, rel)
		return nil
	})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	sort.Strings(names)
	for _, rel := range names {
		p := filepath.Join(dataDir, filepath.FromSlash(rel))
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile (an atomic write renamed over it)
		}
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		fi, err := f.Stat()
		if err == nil {
			err = w.member(filesPrefix+rel, fi.Size(), uint32(fi.Mode().Perm()), 0, f)
		}
		f.Close()
		if err != nil {
			return fmt.Errorf("backup: %s: %w", p, err)
		}
	}
	return nil
}

// prefixReader hashes the first left bytes read through it and keeps
// (up to trailerLen of) those after.
type prefixReader struct {
	r    io.Reader
	h    hash.Hash
	left int64
	read int64
	tail []byte
}

func (p *prefixReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	k := int64(0)
	if p.left > 0 {
		k = min(int64(n), p.left)
		p.h.Write(b[:k])
		p.left -= k
	}
	if rest := b[k:n]; len(rest) > 0 && len(p.tail) < trailerLen {
		p.tail = append(p.tail, rest[:min(len(rest), trailerLen-len(p.tail))]...)
	}
	p.read += int64(n)
	return n, err
}

// member is one member as a reader met it.
type visit func(hdr *tar.Header, r io.Reader) error

// scan reads the backup at path in one pass, checks every byte of it
// (the final hash, the manifest against every member) and calls each
// (if not nil) for every member before the manifest, with its bytes. It
// returns the backup's Info, or a *DamagedError.
func scan(p string, each visit) (Info, error) {
	f, err := os.Open(p)
	if err != nil {
		return Info{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	return scanReader(p, bufio.NewReaderSize(f, 1<<20), fi.Size(), each)
}

// scanReader is scan of the size bytes of r, named p in errors.
func scanReader(p string, r io.Reader, size int64, each visit) (Info, error) {
	bad := func(format string, a ...any) (Info, error) {
		return Info{}, &DamagedError{Path: p, Reason: fmt.Sprintf(format, a...)}
	}
	if size < trailerLen+512 || size%512 != 0 {
		return bad("%d bytes: not a backup archive", size)
	}
	pr := &prefixReader{r: r, h: sha256.New(), left: size - trailerLen}
	tr := tar.NewReader(pr)
	var (
		m       *Manifest
		seen    []Member
		sum     string
		sumMod  time.Time
		members int
	)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return bad("reading the archive: %v", err)
		}
		members++
		if members > maxMembers {
			return bad("more than %d members", maxMembers)
		}
		if hdr.Typeflag != tar.TypeReg {
			return bad("member %q is not a regular file", hdr.Name)
		}
		if sum != "" {
			return bad("member %q after %s", hdr.Name, sumName)
		}
		switch hdr.Name {
		case manifestName:
			if m != nil {
				return bad("two manifests")
			}
			if hdr.Size > maxManifest {
				return bad("manifest of %d bytes", hdr.Size)
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				return bad("reading the manifest: %v", err)
			}
			m = new(Manifest)
			if err := json.Unmarshal(b, m); err != nil {
				return bad("the manifest does not parse: %v", err)
			}
			if err := m.check(seen); err != nil {
				return bad("%v", err)
			}
		case sumName:
			sumMod = hdr.ModTime
			if m == nil {
				return bad("%s before the manifest", sumName)
			}
			if pr.left != 0 || pr.read != size-trailerLen+512 {
				return bad("%s is not where the archive's last member belongs", sumName)
			}
			b, err := io.ReadAll(io.LimitReader(tr, 128))
			if err != nil {
				return bad("reading %s: %v", sumName, err)
			}
			want := hex.EncodeToString(pr.h.Sum(nil))
			if string(b) != want+"\n" {
				return bad("its bytes hash to %s, its %s member says %q: a byte was changed", want, sumName, strings.TrimSpace(string(b)))
			}
			sum = want
		default:
			if m != nil {
				return bad("member %q after the manifest", hdr.Name)
			}
			if err := checkName(hdr.Name); err != nil {
				return bad("%v", err)
			}
			h := sha256.New()
			var r io.Reader = io.TeeReader(tr, h)
			if each != nil {
				if err := each(hdr, r); err != nil {
					return Info{}, err
				}
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				return bad("reading %s: %v", hdr.Name, err)
			}
			seen = append(seen, Member{Name: hdr.Name, Size: hdr.Size, SHA256: hex.EncodeToString(h.Sum(nil))})
		}
	}
	if sum == "" {
		return bad("no %s member at the end: the archive is cut short", sumName)
	}
	// tar has read its two zero blocks: nothing may follow them.
	consumed := pr.read
	rest, err := io.ReadAll(pr)
	if err != nil {
		return bad("reading the end: %v", err)
	}
	if len(rest) > 0 || consumed != size {
		return bad("%d bytes after the archive's end", int64(len(rest))+size-consumed)
	}
	if !bytes.Equal(pr.tail, trailer(sumMod, sum)) {
		return bad("its last member or its end is not as written")
	}
	return Info{ID: sum, Manifest: *m, Size: size}, nil
}

// check checks a manifest against the members read before it (their
// names, sizes and hashes, in order) and on its own.
func (m *Manifest) check(seen []Member) error {
	if m.Format != Format {
		return fmt.Errorf("format %q, want %q", m.Format, Format)
	}
	switch m.Kind {
	case KindFull:
		if m.Base != "" || m.BaseHead != nil || m.Store.Since != 0 {
			return errors.New("a full backup with a base")
		}
	case KindIncremental:
		if len(m.Base) != 64 || m.BaseHead == nil {
			return errors.New("an incremental backup without its base")
		}
	default:
		return fmt.Errorf("kind %q", m.Kind)
	}
	if len(m.Members) != len(seen) {
		return fmt.Errorf("the manifest lists %d members, the archive holds %d", len(m.Members), len(seen))
	}
	for i, s := range seen {
		w := m.Members[i]
		if w.Name != s.Name || w.Size != s.Size || w.SHA256 != s.SHA256 {
			return fmt.Errorf("member %s (%d bytes, SHA-256 %s) is not what the manifest lists (%s, %d bytes, SHA-256 %s)", s.Name, s.Size, s.SHA256, w.Name, w.Size, w.SHA256)
		}
	}
	return nil
}

// checkName accepts the member names Write writes, nothing that could
// reach outside the directory restored to.
func checkName(name string) error {
	if name != path.Clean(name) || path.IsAbs(name) || strings.HasPrefix(name, "../") || strings.Contains(name, "\\") {
		return fmt.Errorf("member name %q is not a clean relative path", name)
	}
	switch {
	case name == liveName:
	case strings.HasPrefix(name, storePrefix) && strings.HasSuffix(name, ".badger") && !strings.Contains(name[len(storePrefix):], "/"):
	case strings.HasPrefix(name, blocksPrefix) && !strings.Contains(name[len(blocksPrefix):], "/"):
		var n uint32
		if _, err := fmt.Sscanf(name[len(blocksPrefix):], "seg-%06d.dat", &n); err != nil || embedded.SegmentFile(n) != name[len(blocksPrefix):] {
			return fmt.Errorf("member %q is not a block file", name)
		}
	case strings.HasPrefix(name, filesPrefix) && len(name) > len(filesPrefix):
		rel := name[len(filesPrefix):]
		if top := strings.SplitN(rel, "/", 2)[0]; top == StoreDir || top == BlocksDir {
			return fmt.Errorf("member %q would overwrite the %s directory", name, top)
		}
	default:
		return fmt.Errorf("unknown member %q", name)
	}
	return nil
}

// Verify reads the backup at path whole and checks every byte of it. It
// returns its Info, or a *DamagedError (ErrDamaged) saying what is wrong.
func Verify(path string) (Info, error) { return scan(path, nil) }
