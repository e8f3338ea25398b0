package tlog

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-node/evidence-node/node/store"
)

// Witness is a C2SP tlog-witness the log submits its checkpoints to.
type Witness struct {
	// URL is the witness's prefix: it answers POST URL+"/add-checkpoint".
	URL string
	// Key is its cosignature/v1 verifier key (c2sp.org/tlog-cosignature);
	// Name the key's name, the name on its cosignature lines.
	Key  string
	Name string

	verifier note.Verifier
}

// ParseWitness reads a witness as --witness gives it: "URL KEY", the
// witness's http(s) prefix and its cosignature/v1 verifier key (an
// Ed25519 note verifier key is taken as its cosignature/v1 form).
func ParseWitness(s string) (Witness, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Witness{}, fmt.Errorf("witness %q: want \"URL VERIFIER_KEY\" (the witness's prefix and its cosignature/v1 key)", clip(s))
	}
	u, err := url.Parse(f[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Witness{}, fmt.Errorf("witness URL %q: want http(s)://host[:port][/prefix], no user, query or fragment", clip(f[0]))
	}
	v, err := fnote.NewVerifierForCosignatureV1(f[1])
	if err != nil {
		return Witness{}, fmt.Errorf("witness key %q: %v", clip(f[1]), err)
	}
	return Witness{URL: strings.TrimRight(f[0], "/"), Key: f[1], Name: v.Name(), verifier: v}, nil
}

// Cosignature store keys: T/w/<size>/<witness name> → the witness's
// signature line; T/ws/<witness name> → the size it last cosigned.
var (
	prefCosig   = []byte("T/w/")
	prefWitness = []byte("T/ws/")
)

func cosigKey(size uint64, name string) []byte { return append(numKey(prefCosig, size), name...) }

// Witness outcomes, the label of evidence_tlog_witness_total.
const (
	outcomeCosigned = "cosigned"
	outcomeRefused  = "refused"
	outcomeDown     = "unreachable"
)

// ErrRefused means a witness refused a checkpoint: its proof or signature
// did not convince it (422, 403), or it has seen a larger tree (a fork or
// a rolled-back log).
var ErrRefused = errors.New("the witness refused the checkpoint")

// witnesser submits the log's checkpoints to one witness, one request at
// a time, always the latest checkpoint (those that arrive while a request
// is out are skipped).
type witnesser struct {
	l    *Log
	w    Witness
	mu   sync.Mutex // one round at a time
	wake chan struct{}
	http *http.Client
	// size is the tree size the witness is known to hold (0: not known).
	size uint64
}

// maxWitnessAnswer bounds a witness's answer.
const maxWitnessAnswer = 16 << 10

func (l *Log) startWitnesses() {
	for _, w := range l.cfg.Witnesses {
		ws := &witnesser{l: l, w: w, wake: make(chan struct{}, 1), http: &http.Client{Timeout: 10 * time.Second}}
		if v, err := l.cfg.DB.Get(append(bytes.Clone(prefWitness), w.Name...)); err == nil && len(v) == 8 {
			ws.size = binary.BigEndian.Uint64(v)
		}
		l.witnessers = append(l.witnessers, ws)
		l.wg.Add(1)
		go ws.run()
	}
}

func (ws *witnesser) run() {
	defer ws.l.wg.Done()
	retry := time.NewTicker(5 * time.Second)
	defer retry.Stop()
	var last time.Time
	for {
		select {
		case <-ws.l.stop:
			return
		case <-ws.wake:
		case <-retry.C:
			if ws.l.Size() == ws.cosigned() {
				continue
			}
		}
		// At most one submission an interval: the latest checkpoint when
		// it is over.
		if d := ws.l.cfg.WitnessInterval - time.Since(last); d > 0 {
			select {
			case <-ws.l.stop:
				return
			case <-time.After(d):
			}
		}
		last = time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-ws.l.stop:
			case <-ctx.Done():
			}
			cancel()
		}()
		ws.round(ctx)
		cancel()
	}
}

func (ws *witnesser) cosigned() uint64 {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.size
}

// round submits the latest checkpoint if the witness has not cosigned it.
func (ws *witnesser) round(ctx context.Context) error {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	cp, err := ws.l.Latest()
	if err != nil || ws.has(cp.Size) {
		return nil
	}
	err = ws.submit(ctx, cp)
	outcome := outcomeCosigned
	switch {
	case err == nil:
	case errors.Is(err, ErrRefused):
		outcome = outcomeRefused
		ws.l.log.Error("a witness refused the transparency log's checkpoint", "witness", ws.w.Name, "url", ws.w.URL, "size", cp.Size, "err", err)
	default:
		outcome = outcomeDown
		ws.l.log.Warn("witness not reachable (retried; receipts are not held up)", "witness", ws.w.Name, "url", ws.w.URL, "size", cp.Size, "err", err)
	}
	ws.l.witnessed.WithLabelValues(ws.w.Name, outcome).Inc()
	return err
}

func (ws *witnesser) has(size uint64) bool {
	ok, _ := ws.l.cfg.DB.Has(cosigKey(size, ws.w.Name))
	return ok
}

// submit sends cp with a consistency proof from the size the witness
// holds, once more from the size it answers if that was not the one
// (409), and stores the cosignature.
func (ws *witnesser) submit(ctx context.Context, cp Checkpoint) error {
	for attempt := 0; ; attempt++ {
		old := ws.size
		if old > cp.Size {
			return fmt.Errorf("%w: the witness holds a tree of size %d, larger than the log's %d (was the log rolled back?)", ErrRefused, old, cp.Size)
		}
		var body bytes.Buffer
		fmt.Fprintf(&body, "old %d\n", old)
		if old > 0 && old < cp.Size {
			p, err := ws.l.Consistency(old, cp.Size)
			if err != nil {
				return err
			}
			for _, h := range p {
				body.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
			}
		}
		body.WriteString("\n")
		body.Write(cp.Note)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, ws.w.URL+"/add-checkpoint", &body)
		if err != nil {
			return err
		}
		resp, err := ws.http.Do(req)
		if err != nil {
			return fmt.Errorf("add-checkpoint: %w", err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxWitnessAnswer+1))
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("add-checkpoint: %w", err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			return ws.store(cp, b)
		case http.StatusConflict:
			n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
			if err != nil || resp.Header.Get("Content-Type") != "text/x.tlog.size" {
				return fmt.Errorf("add-checkpoint: 409 with %q", clip(string(b)))
			}
			if n == old || attempt > 0 {
				return fmt.Errorf("%w: 409 at old size %d (the witness holds %d)", ErrRefused, old, n)
			}
			// Again from the size the witness holds (after a restart
			// that lost our record of it, or its first checkpoint of
			// ours).
			ws.size = n
		case http.StatusUnprocessableEntity, http.StatusForbidden, http.StatusNotFound, http.StatusBadRequest:
			return fmt.Errorf("%w: %d %s", ErrRefused, resp.StatusCode, clip(strings.TrimSpace(string(b))))
		default:
			return fmt.Errorf("add-checkpoint: %d %s", resp.StatusCode, clip(strings.TrimSpace(string(b))))
		}
	}
}

// store checks the witness's answer (its cosignature lines over cp) and
// keeps its line.
func (ws *witnesser) store(cp Checkpoint, answer []byte) error {
	if len(answer) > maxWitnessAnswer || !bytes.HasSuffix(answer, []byte("\n")) {
		return fmt.Errorf("add-checkpoint: an answer of %d bytes", len(answer))
	}
	lv, err := note.NewVerifier(ws.l.cfg.Key.VerifierKey)
	if err != nil {
		return err
	}
	var line []byte
	for _, l := range bytes.SplitAfter(answer, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		n, err := note.Open(append(bytes.Clone(cp.Note), l...), note.VerifierList(lv, ws.w.verifier))
		if err != nil {
			continue
		}
		for _, s := range n.Sigs {
			if s.Name == ws.w.Name && s.Hash == ws.w.verifier.KeyHash() {
				line = l
			}
		}
	}
	if line == nil {
		return fmt.Errorf("add-checkpoint: no valid cosignature by %s in the answer %q", ws.w.Name, clip(string(answer)))
	}
	var b store.Batch
	b.Set(cosigKey(cp.Size, ws.w.Name), line)
	b.Set(append(bytes.Clone(prefWitness), ws.w.Name...), binary.BigEndian.AppendUint64(nil, cp.Size))
	if err := ws.l.cfg.DB.Write(&b); err != nil {
		return fmt.Errorf("tlog: store cosignature: %w", err)
	}
	ws.size = cp.Size
	ws.l.noteCosigned(cp.Size)
	if !cp.made.IsZero() {
		ws.l.cosignDelay.Observe(time.Since(cp.made).Seconds())
	}
	return nil
}

// Cosignatures returns the cosignature lines the log holds for the
// checkpoint of size, by witness name order.
func (l *Log) Cosignatures(size uint64) ([][]byte, error) {
	var out [][]byte
	err := l.cfg.DB.Scan(numKey(prefCosig, size), nil, func(_, v []byte) (bool, error) {
		out = append(out, bytes.Clone(v))
		return true, nil
	})
	return out, err
}

// Cosigned returns the checkpoint of size with every cosignature line
// the log holds for it.
func (l *Log) Cosigned(size uint64) ([]byte, error) {
	n, err := l.cfg.DB.Get(numKey(prefCP, size))
	if err != nil {
		return nil, fmt.Errorf("tlog: checkpoint %d: %w", size, err)
	}
	sigs, err := l.Cosignatures(size)
	if err != nil {
		return nil, err
	}
	for _, s := range sigs {
		n = append(n, s...)
	}
	return n, nil
}

// WitnessNow submits the latest checkpoint to every witness that has not
// cosigned it and waits for their answers (the log's goroutines do this
// after each checkpoint; tests call it to wait for them).
func (l *Log) WitnessNow(ctx context.Context) error {
	var errs []error
	for _, ws := range l.witnessers {
		if err := ws.round(ctx); err != nil {
			errs = append(errs, fmt.Errorf("witness %s: %w", ws.w.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (l *Log) wakeWitnesses() {
	for _, ws := range l.witnessers {
		select {
		case ws.wake <- struct{}{}:
		default:
		}
	}
}
