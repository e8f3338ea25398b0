package store

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestGroupSync: writers asking at once share rounds (fewer fsyncs than
// writers), every writer waits for a round that began after it asked, and
// a failed round fails the writers it covered.
func TestGroupSync(t *testing.T) {
	var rounds atomic.Int64
	g := groupSync{fn: func() error {
		rounds.Add(1)
		time.Sleep(2 * time.Millisecond)
		return nil
	}}
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			before := rounds.Load()
			if err := g.do(); err != nil {
				t.Error(err)
			}
			if rounds.Load() <= before {
				t.Errorf("writer %d returned without a round after it asked", w)
			}
		}()
	}
	wg.Wait()
	if n := rounds.Load(); n >= 64 || n == 0 {
		t.Fatalf("%d rounds for 64 writers at once", n)
	}

	boom := errors.New("disk gone")
	g = groupSync{fn: func() error { return boom }}
	if err := g.do(); !errors.Is(err, boom) {
		t.Fatalf("failed round: %v", err)
	}
	g.fn = func() error { return nil }
	if err := g.do(); err != nil {
		t.Fatalf("a later round that succeeded: %v", err)
	}
}
