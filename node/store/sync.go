package store

import "sync"

// groupSync runs fn (an fsync) for the writers that ask at once: a writer
// waits for the next round that starts after it asked, so one round
// covers every write committed before it began, and concurrent writers
// share one fsync instead of queueing for one each.
type groupSync struct {
	fn func() error

	mu      sync.Mutex
	cond    *sync.Cond
	running bool
	begun   uint64 // rounds started
	done    uint64 // rounds finished
	failed  uint64 // the last round that failed
	err     error  // its error
}

// do returns once a round that began after the call has finished: nil if
// every such round up to then succeeded.
func (g *groupSync) do() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	want := g.begun + 1 // the next round to begin covers this writer's data
	for g.done < want {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.begun++
		round := g.begun
		g.mu.Unlock()
		err := g.fn()
		g.mu.Lock()
		g.running = false
		g.done = round
		if err != nil {
			g.failed, g.err = round, err
		}
		g.cond.Broadcast()
	}
	if g.failed >= want {
		return g.err
	}
	return nil
}
