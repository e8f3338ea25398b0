package node

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrDiskFull means the disk that holds the node's data is full, or so
// nearly full that the node stopped writing to it: submissions are refused
// (an ErrUnavailable: 503 ledger_unavailable) until space is freed, and
// accepted again by themselves once it is. Reads go on.
var ErrDiskFull = errors.New("the node's data disk is full")

// Space watches the free space of the file systems that hold the node's
// data, and refuses writes while any has less than a floor free. The
// floor is what badger needs to finish what it has started: the store
// writes its log and tables through memory-mapped files, and a write to a
// mapped page the file system has no room for kills the process (SIGBUS)
// rather than returning ENOSPC. Below the floor the node writes nothing
// new, so badger never meets a full disk; a write that meets one anyway
// (another process filled it) fails cleanly where it is a write(2): the
// block files.
type Space struct {
	paths []string
	min   uint64
	every time.Duration

	mu      sync.Mutex
	checked time.Time
	free    atomic.Uint64
	where   atomic.Value // string: the path with the least space
	full    atomic.Bool

	freeGauge, minGauge, fullGauge prometheus.Gauge
	quit                           chan struct{}
	done                           chan struct{}
}

// NewSpace watches the file systems of paths, refusing writes while one
// has less than min bytes free (0: never refuses, only measures). It
// measures at most every 100 ms when asked, and every 5 s in the
// background for the metrics. Close stops it.
func NewSpace(min int64, reg prometheus.Registerer, paths ...string) *Space {
	s := &Space{paths: paths, min: uint64(max(min, 0)), every: 100 * time.Millisecond,
		freeGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "evidence_disk_free_bytes",
			Help: "Free bytes (for the node's user) on the fullest file system holding the node's data."}),
		minGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "evidence_disk_min_free_bytes",
			Help: "The free space below which the node refuses new submissions (--min-free-space)."}),
		fullGauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "evidence_disk_full",
			Help: "1 while submissions are refused because the data disk is (nearly) full, else 0."}),
		quit: make(chan struct{}), done: make(chan struct{})}
	s.minGauge.Set(float64(s.min))
	if reg != nil {
		reg.MustRegister(s.freeGauge, s.minGauge, s.fullGauge)
	}
	s.measure(time.Now())
	go s.run()
	return s
}

func (s *Space) run() {
	defer close(s.done)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case now := <-t.C:
			s.mu.Lock()
			s.measure(now)
			s.mu.Unlock()
		}
	}
}

// Close stops the background measurement.
func (s *Space) Close() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
		<-s.done
	}
}

// measure reads the free space of every path.
func (s *Space) measure(now time.Time) {
	s.checked = now
	least, where := uint64(1<<63), ""
	for _, p := range s.paths {
		var st syscall.Statfs_t
		if err := syscall.Statfs(p, &st); err != nil {
			continue // a path not there yet holds nothing to protect
		}
		if free := st.Bavail * uint64(st.Bsize); free < least {
			least, where = free, p
		}
	}
	if where == "" {
		return
	}
	s.free.Store(least)
	s.where.Store(where)
	s.freeGauge.Set(float64(least))
	full := least < s.min
	s.full.Store(full)
	if full {
		s.fullGauge.Set(1)
	} else {
		s.fullGauge.Set(0)
	}
}

// Check returns nil if the node may write, else an error that is both
// ErrUnavailable and ErrDiskFull, saying where space is short. A nil
// Space never refuses.
func (s *Space) Check() error {
	if s == nil {
		return nil
	}
	now := time.Now()
	s.mu.Lock()
	if now.Sub(s.checked) >= s.every {
		s.measure(now)
	}
	s.mu.Unlock()
	if !s.full.Load() {
		return nil
	}
	where, _ := s.where.Load().(string)
	return fmt.Errorf("%w: %w: %s has %d bytes free, the node stops writing below %d (--min-free-space): free space there and it resumes by itself",
		ErrUnavailable, ErrDiskFull, where, s.free.Load(), s.min)
}

// Free returns the free bytes last measured on the fullest file system.
func (s *Space) Free() uint64 { return s.free.Load() }
