package backup

import (
	"archive/tar"
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidence-node/evidence-node/node/store"
)

// ErrNotEmpty means the directory to restore into holds something.
var ErrNotEmpty = errors.New("backup: the directory to restore into is not empty")

// ErrChain means the backups given to Restore do not follow one another.
var ErrChain = errors.New("backup: the backups do not follow one another")

// RestoreResult says what Restore did.
type RestoreResult struct {
	// Backups are the backups restored, in order.
	Backups []Info
	// Files is how many of the node's files were written; BlockBytes how
	// many bytes of block files; StoreKeys how many keys the store's
	// streams held; Pruned how many keys deleted after an incremental
	// backup's base were removed again.
	Files      int
	BlockBytes int64
	StoreKeys  int
	Pruned     int
}

// Restore restores the backups at paths, a full backup and then the
// incremental ones that follow it in order, into dir, which must be empty
// or not exist (ErrNotEmpty). Every backup is read whole and checked first
// (Verify), and the chain with it: nothing is written unless every backup
// is intact (else a *DamagedError, ErrDamaged) and each follows the one
// before (else ErrChain). The node's files are those of the last backup.
// The caller checks the ledger restored (embedded.Check).
func Restore(dir string, paths []string) (RestoreResult, error) {
	var res RestoreResult
	if len(paths) == 0 {
		return res, errors.New("backup: no backup to restore")
	}
	for i, p := range paths {
		info, err := Verify(p)
		if err != nil {
			return res, err
		}
		m := info.Manifest
		if i == 0 && m.Kind != KindFull {
			return res, fmt.Errorf("%w: %s is an incremental backup (of %s…); restore its full backup first, then the incremental ones in order", ErrChain, p, m.Base[:12])
		}
		if i > 0 {
			prev := res.Backups[i-1]
			switch {
			case m.Kind != KindIncremental:
				return res, fmt.Errorf("%w: %s is a full backup; only the first backup may be", ErrChain, p)
			case m.Base != prev.ID:
				return res, fmt.Errorf("%w: %s follows backup %s…, not %s (%s…)", ErrChain, p, m.Base[:12], paths[i-1], prev.ID[:12])
			case *m.BaseHead != prev.Manifest.Head || m.Store.Since != prev.Manifest.Store.Version || m.Ledger != prev.Manifest.Ledger:
				return res, fmt.Errorf("%w: %s does not start where %s ends", ErrChain, p, paths[i-1])
			}
		}
		res.Backups = append(res.Backups, info)
	}
	if err := emptyDir(dir); err != nil {
		return res, err
	}
	if err := os.MkdirAll(filepath.Join(dir, BlocksDir), 0o700); err != nil {
		return res, err
	}
	db, err := store.Open(filepath.Join(dir, StoreDir), store.Options{})
	if err != nil {
		return res, err
	}
	defer db.Close()
	for i, p := range paths {
		last := i == len(paths)-1
		if err := restoreOne(db, dir, p, res.Backups[i], last, &res); err != nil {
			return res, fmt.Errorf("backup: restoring %s: %w", p, err)
		}
	}
	if err := syncDir(filepath.Join(dir, BlocksDir)); err != nil {
		return res, err
	}
	return res, syncDir(dir)
}

// emptyDir accepts a directory that does not exist or is empty.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("%w: %s holds %s", ErrNotEmpty, dir, ents[0].Name())
	}
	return nil
}

func restoreOne(db *store.DB, dir, p string, info Info, last bool, res *RestoreResult) error {
	m := info.Manifest
	pr, pw := io.Pipe()
	loaded := make(chan error, 1)
	go func() {
		err := db.Load(pr)
		pr.CloseWithError(err)
		loaded <- err
	}()
	i := 0
	var live [][]byte
	_, err := scan(p, func(hdr *tar.Header, r io.Reader) error {
		mem := m.Members[i]
		i++
		switch name := hdr.Name; {
		case strings.HasPrefix(name, storePrefix) && strings.HasSuffix(name, ".badger"):
			_, err := io.Copy(pw, r)
			return err
		case name == liveName:
			if !last {
				return nil
			}
			sc := bufio.NewScanner(io.LimitReader(r, maxLive))
			for sc.Scan() {
				k, err := hex.DecodeString(sc.Text())
				if err != nil {
					return &DamagedError{Path: p, Reason: "store/live holds a line that is not hex"}
				}
				live = append(live, k)
			}
			return sc.Err()
		case strings.HasPrefix(name, blocksPrefix):
			n, err := writeAt(filepath.Join(dir, BlocksDir, name[len(blocksPrefix):]), mem.Offset, r)
			res.BlockBytes += n
			return err
		case strings.HasPrefix(name, filesPrefix):
			if !last {
				return nil
			}
			res.Files++
			return writeFile(filepath.Join(dir, filepath.FromSlash(name[len(filesPrefix):])), fs.FileMode(mem.Mode&0o777), r)
		}
		return nil
	})
	pw.Close()
	if lerr := <-loaded; err == nil && lerr != nil {
		err = lerr
	}
	if err != nil {
		return err
	}
	res.StoreKeys += m.Store.Keys
	if last && m.Kind == KindIncremental {
		var prefixes [][]byte
		for _, t := range m.Store.Tracked {
			b, err := hex.DecodeString(t)
			if err != nil {
				return &DamagedError{Path: p, Reason: "a tracked prefix is not hex"}
			}
			prefixes = append(prefixes, b)
		}
		n, err := db.Prune(prefixes, live)
		if err != nil {
			return err
		}
		res.Pruned = n
	}
	return nil
}

// writeAt writes r's bytes to the block file at path from offset, which
// must be where the file ends now (a block file grows only at its end).
func writeAt(path string, offset int64, r io.Reader) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Size() != offset {
		return 0, fmt.Errorf("%w: the backup's bytes of %s start at %d, the restored file ends at %d", ErrChain, filepath.Base(path), offset, fi.Size())
	}
	n, err := io.Copy(io.NewOffsetWriter(f, offset), r)
	if err != nil {
		return n, err
	}
	return n, f.Sync()
}

func writeFile(path string, mode fs.FileMode, r io.Reader) error {
	if mode == 0 {
		mode = 0o600
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
