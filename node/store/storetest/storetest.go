// Package storetest gives tests a small file system of their own, to fill
// up: a tmpfs mounted on a temporary directory (Linux, root or
// CAP_SYS_ADMIN).
package storetest

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Tmpfs mounts a tmpfs of size bytes on a new temporary directory and
// returns it; it is unmounted when the test ends (after the test's later
// cleanups, so processes using it are stopped first). The test is skipped,
// saying why, where a tmpfs cannot be mounted (not root, no
// CAP_SYS_ADMIN, not Linux).
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("disk-full test skipped: cannot mount a %d MiB tmpfs to fill (%v): run the tests as root (make test does in CI) to run it", size>>20, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// Fill writes a file at path until the file system has at most leave bytes
// free (or it is full, if leave is 0), and returns how many bytes it
// wrote.
func Fill(t testing.TB, path string, leave int64) int64 {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		free := Free(t, filepath.Dir(path))
		if free <= leave {
			return n
		}
		chunk := min(int64(len(buf)), free-leave)
		k, err := f.Write(buf[:chunk])
		n += int64(k)
		if err != nil {
			return n // full
		}
	}
}

// Free returns the free bytes of the file system holding path.
func Free(t testing.TB, path string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
