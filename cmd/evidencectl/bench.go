package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evidence-node/evidence-node/web/client"
)

// BenchResult is what a bench run measured.
type BenchResult struct {
	Mode       string         `json:"mode"`
	Clients    int            `json:"clients"`
	Batch      int            `json:"batch"`
	Seconds    float64        `json:"seconds"`
	Requests   int64          `json:"requests"`
	Records    int64          `json:"records"`
	Pending    int64          `json:"pending"` // records acknowledged 202 (queued, receipt later)
	Errors     map[string]int `json:"errors"`
	RecordsPS  float64        `json:"records_per_second"`
	RequestsPS float64        `json:"requests_per_second"`
	P50ms      float64        `json:"p50_ms"`
	P90ms      float64        `json:"p90_ms"`
	P99ms      float64        `json:"p99_ms"`
	Maxms      float64        `json:"max_ms"`
}

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf nodeFlags
	nf.add(fs)
	clients := fs.Int("clients", 20, "concurrent clients")
	duration := fs.Duration("duration", 10*time.Second, "run for this long (upper bound)")
	count := fs.Int64("count", 0, "stop after this many requests (0: no count bound)")
	batch := fs.Int("batch", 0, "records per request: 0 sends single POST /evidence, N sends POST /evidence/batch with N digests")
	mode := fs.String("mode", "submit", "submit; get (public GET /evidence/{id} of records it submits first); or health (GET /healthz: the HTTP baseline)")
	rate := fs.Float64("rate", 0, "open loop: send this many requests per second in all, spread over the clients (0: each client sends as fast as it can)")
	record := fs.String("record", "", "append each acknowledged receipt to this file as a JSON line")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 0:
		return usagef("bench takes no arguments")
	case *clients < 1 || *clients > 4096:
		return usagef("bench: --clients must be 1 to 4096")
	case *duration <= 0 || *duration > time.Hour:
		return usagef("bench: --duration must be in (0, 1h]")
	case *batch < 0 || *batch > 1000:
		return usagef("bench: --batch must be 0 to 1000")
	case *rate < 0 || *rate > 1e6:
		return usagef("bench: --rate must be 0 to 1000000")
	case *mode != "submit" && *mode != "get" && *mode != "health":
		return usagef("bench: --mode must be submit, get or health")
	}
	// A load generator measures the node: no retries, so no made-up
	// Idempotency-Keys either.
	c := client.New(nf.url, client.WithKey(nf.key), client.WithRetries(0, 0))
	var rec *recorder
	if *record != "" {
		f, err := os.OpenFile(*record, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		rec = &recorder{f: f}
	}
	var ids []string
	if *mode == "get" {
		items := make([]client.Submission, 1000)
		for i := range items {
			items[i] = client.Submission{Type: "file", Digest: digestOf(uint64(i), uint64(time.Now().UnixNano()))}
		}
		rcs, err := c.SubmitBatch(ctx, items, "")
		if err != nil {
			return fmt.Errorf("bench: seeding records for get: %w", wrapNode(err))
		}
		for _, r := range rcs {
			ids = append(ids, r.ID)
		}
		c = client.New(nf.url, client.WithRetries(0, 0)) // reads are public: no key
	}
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	var (
		issued  atomic.Int64
		records atomic.Int64
		pending atomic.Int64
		mu      sync.Mutex
		errs    = map[string]int{}
		lats    [][]time.Duration
		wg      sync.WaitGroup
		seed    = uint64(time.Now().UnixNano())
	)
	fmt.Fprintf(stderr, "bench: %s, %d clients, batch %d, up to %v%s against %s\n", *mode, *clients, *batch, *duration,
		map[bool]string{true: fmt.Sprintf(" or %d requests", *count), false: ""}[*count > 0], nf.url)
	start := time.Now()
	var tokens chan struct{}
	if *rate > 0 {
		tokens = make(chan struct{}, 1<<16)
		go func() {
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			sent := 0
			for {
				select {
				case <-ctx.Done():
					return
				case now := <-t.C:
					due := int(now.Sub(start).Seconds() * *rate)
					for ; sent < due; sent++ {
						select {
						case tokens <- struct{}{}:
						default: // clients cannot keep up: the rate is above capacity
						}
					}
				}
			}
		}()
	}
	// Plain-http nodes get the light transport (benchTransport).
	tr := newBenchTransport(nf.url, *clients)
	lats = make([][]time.Duration, *clients)
	for w := 0; w < *clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			var fast *benchClient
			if tr != nil {
				fast = &benchClient{t: tr, key: nf.key,
					mode: *mode, batch: *batch, seed: seed, ids: ids, acks: rec != nil}
			}
			for ctx.Err() == nil {
				if tokens != nil {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}
				n := issued.Add(1)
				if *count > 0 && n > *count {
					return
				}
				t0 := time.Now()
				var got []client.Ack
				var err error
				counted := 0 // records a 201 acknowledged without their Acks read (fast path)
				switch {
				case fast != nil:
					got, counted, err = fast.send(ctx, rng, uint64(n))
				case *mode == "get":
					_, err = c.Get(ctx, ids[rng.IntN(len(ids))])
				case *mode == "health":
					err = c.Health(ctx)
				case *batch == 0:
					var a client.Ack
					a, err = c.SubmitAck(ctx, client.Submission{Type: "file", Digest: digestOf(seed, uint64(n))}, "")
					got = []client.Ack{a}
				default:
					items := make([]client.Submission, *batch)
					for i := range items {
						items[i] = client.Submission{Type: "file", Digest: digestOf(seed, uint64(n)<<10|uint64(i))}
					}
					got, err = c.SubmitBatchAcks(ctx, items, "")
				}
				lat := time.Since(t0)
				if pe := (*client.PendingError)(nil); errors.As(err, &pe) {
					got, err, counted = got[:0], nil, 0 // accepted (202): acknowledged, receipt later
					for _, id := range pe.IDs {
						got = append(got, client.Ack{ID: id})
					}
					pending.Add(int64(len(pe.IDs)))
				}
				if err != nil {
					if ctx.Err() != nil {
						return // cut off by the time bound: not an error
					}
					code := "connection"
					var ae *client.APIError
					if errors.As(err, &ae) {
						code = ae.Code
					}
					mu.Lock()
					errs[code]++
					mu.Unlock()
					if code == "connection" {
						time.Sleep(20 * time.Millisecond)
					}
					continue
				}
				lats[w] = append(lats[w], lat)
				switch {
				case *mode != "submit":
					records.Add(1)
				case counted > 0:
					records.Add(int64(counted))
				default:
					records.Add(int64(len(got)))
					rec.write(got)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	res := BenchResult{Mode: *mode, Clients: *clients, Batch: *batch, Seconds: elapsed.Seconds(), Requests: int64(len(all)),
		Records: records.Load(), Pending: pending.Load(), Errors: errs}
	res.RecordsPS = float64(res.Records) / elapsed.Seconds()
	res.RequestsPS = float64(res.Requests) / elapsed.Seconds()
	res.P50ms, res.P90ms, res.P99ms = pct(all, 0.50), pct(all, 0.90), pct(all, 0.99)
	if len(all) > 0 {
		res.Maxms = ms(all[len(all)-1])
	}
	if rec != nil && rec.err != nil {
		return fmt.Errorf("bench: --record: %w", rec.err)
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	fmt.Fprintf(stdout, "mode %s, batch %d, %d clients, %.1fs", res.Mode, res.Batch, res.Clients, res.Seconds)
	if *rate > 0 {
		fmt.Fprintf(stdout, ", open loop at %.0f requests/s", *rate)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "requests ok %d, records %d (of which %d pending, 202), errors %d %v\n", res.Requests, res.Records, res.Pending, sum(errs), sortedErrs(errs))
	fmt.Fprintf(stdout, "throughput %.0f records/s, %.0f requests/s\n", res.RecordsPS, res.RequestsPS)
	fmt.Fprintf(stdout, "latency ms p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", res.P50ms, res.P90ms, res.P99ms, res.Maxms)
	return nil
}

func digestOf(a, b uint64) string {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], a)
	binary.BigEndian.PutUint64(buf[8:], b)
	s := sha256.Sum256(buf[:])
	return hex.EncodeToString(s[:])
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return ms(sorted[i])
}

func sum(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

func sortedErrs(m map[string]int) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return out
}

type recorder struct {
	mu  sync.Mutex
	f   *os.File
	err error
}

func (r *recorder) write(rcs []client.Ack) {
	if r == nil || len(rcs) == 0 {
		return
	}
	var buf []byte
	for _, rc := range rcs {
		b, _ := json.Marshal(rc)
		buf = append(append(buf, b...), '\n')
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.f.Write(buf); err != nil && r.err == nil {
		r.err = err
	}
}
