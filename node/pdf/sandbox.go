package pdf

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
)

// InspectorConfig bounds the inspection of submitted PDFs.
type InspectorConfig struct {
	// Concurrency is how many documents are inspected at once
	// (DefaultConcurrency if 0). Waiting documents are served in turn by
	// submitter, so that one platform's documents cannot hold up another's.
	Concurrency int
	// Timeout bounds one inspection (default 20s); MaxMemory its memory
	// (default 256 MiB): a document that needs more is reported not
	// inspected.
	Timeout   time.Duration
	MaxMemory int64
	// Command runs each inspection in a child process (the command, then
	// the file's path; evidenced's is "evidenced inspect-pdf"), killed when
	// it passes Timeout or its resident memory passes MaxMemory. Empty:
	// inspections run in this process, bounded in time only (for tests).
	Command []string
}

// Inspector inspects submitted PDFs in a bounded sandbox, fairly between
// submitters.
type Inspector struct {
	cfg   InspectorConfig
	queue *fairQueue
}

// NewInspector returns an Inspector.
func NewInspector(cfg InspectorConfig) *Inspector {
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 20 * time.Second
	}
	if cfg.MaxMemory <= 0 {
		cfg.MaxMemory = 256 << 20
	}
	return &Inspector{cfg: cfg, queue: newFairQueue(cfg.Concurrency)}
}

// Errors of a sandboxed inspection.
var (
	ErrInspectTimeout = errors.New("the inspection took too long")
	ErrInspectMemory  = errors.New("the inspection needed too much memory (a stream that expands without bound?)")
)

// InspectFile inspects the PDF at path (size bytes) in who's turn: see
// Inspect. It fails with ErrInspectTimeout or ErrInspectMemory when the
// document passes a bound, or ctx's error if ctx ends while it waits.
func (in *Inspector) InspectFile(ctx context.Context, who, path string, size int64) (Info, error) {
	if err := in.queue.acquire(ctx, who); err != nil {
		return Info{}, err
	}
	if len(in.cfg.Command) == 0 {
		return in.inProcess(who, path)
	}
	defer in.queue.release(who)
	return in.child(path)
}

// inProcess inspects in a goroutine; after Timeout the caller is
// answered, and the slot stays taken until pdfcpu is done.
func (in *Inspector) inProcess(who, path string) (Info, error) {
	type result struct {
		info Info
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer in.queue.release(who)
		f, err := os.Open(path)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer f.Close()
		i, err := Inspect(f)
		done <- result{i, err}
	}()
	select {
	case r := <-done:
		return r.info, r.err
	case <-time.After(in.cfg.Timeout):
		return Info{}, fmt.Errorf("%w (more than %v)", ErrInspectTimeout, in.cfg.Timeout)
	}
}

// maxChildOutput bounds what a child may print.
const maxChildOutput = 1 << 20

// child runs the inspection command on path, watching its memory.
func (in *Inspector) child(path string) (Info, error) {
	ctx, cancel := context.WithTimeout(context.Background(), in.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, in.cfg.Command[0], append(in.cfg.Command[1:], path)...)
	cmd.Env = append(os.Environ(), "EVIDENCE_INSPECT_MAX_MEMORY="+strconv.FormatInt(in.cfg.MaxMemory, 10))
	var out, errb limitedBuffer
	out.max, errb.max = maxChildOutput, 4096
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return Info{}, fmt.Errorf("pdf: inspector: %w", err)
	}
	var overMemory bool
	stop := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			if rss(cmd.Process.Pid) > in.cfg.MaxMemory {
				overMemory = true
				cmd.Process.Kill()
				return
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	watch.Wait()
	switch {
	case overMemory:
		return Info{}, fmt.Errorf("%w (more than %d MiB)", ErrInspectMemory, in.cfg.MaxMemory>>20)
	case ctx.Err() != nil:
		return Info{}, fmt.Errorf("%w (more than %v)", ErrInspectTimeout, in.cfg.Timeout)
	case err != nil:
		return Info{}, fmt.Errorf("pdf: inspector: %v: %s", err, strings.TrimSpace(errb.String()))
	}
	var info Info
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		return Info{}, fmt.Errorf("pdf: inspector output: %w", err)
	}
	return info, nil
}

// rss is a process's resident memory in bytes (0 if unknown).
func rss(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// InspectChild is the inspection command's body (evidenced inspect-pdf
// FILE): it inspects the file and writes the Info as JSON to w, with the
// Go heap held under the limit the parent passes
// (EVIDENCE_INSPECT_MAX_MEMORY) so it collects hard before it is killed.
func InspectChild(path string, w io.Writer) error {
	if n, err := strconv.ParseInt(os.Getenv("EVIDENCE_INSPECT_MAX_MEMORY"), 10, 64); err == nil && n > 0 {
		debug.SetMemoryLimit(n * 3 / 4)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := Inspect(f)
	if err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(info)
}

// inspectLimits are pdfcpu's resource limits for inspection: far below
// its defaults, which allow half a gigabyte per stream.
func inspectLimits() model.ResourceLimits {
	l := model.DefaultResourceLimits()
	l.MaxStreamBytes = 64 << 20
	l.MaxDecodeBytes = 64 << 20
	l.MaxImagePixels = 50 << 20
	l.MaxImageBytes = 64 << 20
	l.MaxObjectCount = 1_000_000
	l.MaxObjectStreamCount = 100_000
	l.MaxXRefEntries = 1_000_000
	return l
}

var (
	startxref = regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF`)
	objStart  = regexp.MustCompile(`^\d+\s+\d+\s+obj`)
)

// damaged says why a document that claims to be a PDF is cut short or
// damaged at its end, or "" when its end is sound: it must end (within
// its last KiB) with "startxref N %%EOF", N pointing inside the file at a
// cross-reference table or stream. pdfcpu repairs files without one; a
// repaired file is not the file that was signed or sent.
func damaged(rs io.ReadSeeker) string {
	size, err := rs.Seek(0, io.SeekEnd)
	if err != nil {
		return ""
	}
	tail := make([]byte, min(size, 1024))
	if _, err := rs.Seek(size-int64(len(tail)), io.SeekStart); err != nil {
		return ""
	}
	if _, err := io.ReadFull(rs, tail); err != nil {
		return ""
	}
	ms := startxref.FindAllSubmatch(tail, -1)
	if len(ms) == 0 {
		return "a damaged or truncated PDF: it does not end with startxref and %%EOF (the file is incomplete)"
	}
	off, err := strconv.ParseInt(string(ms[len(ms)-1][1]), 10, 64)
	if err != nil || off >= size {
		return fmt.Sprintf("a damaged PDF: its cross-reference offset %s is past its end (%d bytes)", ms[len(ms)-1][1], size)
	}
	head := make([]byte, min(64, size-off))
	if _, err := rs.Seek(off, io.SeekStart); err == nil {
		io.ReadFull(rs, head)
	}
	// Writers differ by a byte or two of white space around the offset.
	head = bytes.TrimLeft(head, "\x00\t\n\f\r ")
	if !bytes.HasPrefix(head, []byte("xref")) && !objStart.Match(head) {
		return fmt.Sprintf("a damaged PDF: no cross-reference table or stream at offset %d", off)
	}
	return ""
}

// limitedBuffer keeps at most max bytes.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// fairQueue hands out a fixed number of slots, in turn between keys:
// waiters of one key are served in order, keys round-robin, and no key
// holds every slot (one is always left for the others), so that one
// submitter's slow documents never hold up another's.
type fairQueue struct {
	mu      sync.Mutex
	free    int
	perKey  int            // most slots one key may hold
	held    map[string]int // slots held, by key
	order   []string       // keys with waiters, in turn
	waiting map[string][]chan struct{}
}

func newFairQueue(n int) *fairQueue {
	return &fairQueue{free: n, perKey: max(1, n-1), held: map[string]int{}, waiting: map[string][]chan struct{}{}}
}

func (q *fairQueue) acquire(ctx context.Context, key string) error {
	q.mu.Lock()
	if q.free > 0 && len(q.waiting[key]) == 0 && q.held[key] < q.perKey {
		q.free--
		q.held[key]++
		q.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	if len(q.waiting[key]) == 0 {
		q.order = append(q.order, key)
	}
	q.waiting[key] = append(q.waiting[key], ch)
	q.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	w := q.waiting[key]
	for i, c := range w {
		if c == ch {
			q.waiting[key] = append(w[:i:i], w[i+1:]...)
			if len(q.waiting[key]) == 0 {
				delete(q.waiting, key)
				for j, k := range q.order {
					if k == key {
						q.order = append(q.order[:j:j], q.order[j+1:]...)
						break
					}
				}
			}
			return ctx.Err()
		}
	}
	// Granted as ctx ended: give the slot on.
	q.releaseLocked(key)
	return ctx.Err()
}

// release gives back a slot key held.
func (q *fairQueue) release(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked(key)
}

func (q *fairQueue) releaseLocked(key string) {
	if q.held[key]--; q.held[key] <= 0 {
		delete(q.held, key)
	}
	q.free++
	q.grantLocked()
}

// grantLocked hands free slots to waiters, keys in turn, skipping keys at
// their cap.
func (q *fairQueue) grantLocked() {
	for i := 0; q.free > 0 && i < len(q.order); {
		key := q.order[i]
		if q.held[key] >= q.perKey {
			i++
			continue
		}
		q.order = append(q.order[:i:i], q.order[i+1:]...)
		w := q.waiting[key]
		ch := w[0]
		if len(w) > 1 {
			q.waiting[key] = w[1:]
			q.order = append(q.order, key)
		} else {
			delete(q.waiting, key)
		}
		q.free--
		q.held[key]++
		close(ch)
	}
}
