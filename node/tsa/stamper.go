package tsa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

var _ node.Timestamper = (*Stamper)(nil)

// Store keys, all under "T/". An imprint is the SHA-256 of the stamped
// message (verifier.EmbeddedStampMessage, FabricStampMessage); a TSA is
// named by the first 8 bytes of the SHA-256 of its URL.
var (
	prefSubject = []byte("T/s/") // + imprint: a block or transaction the node stamps (JSON subject)
	prefAwait   = []byte("T/a/") // + TSA (8) + block number (8) + imprint (32): the stamped message, awaiting that TSA's token
	prefToken   = []byte("T/k/") // + imprint (32) + TSA (8): the token (JSON verifier.Timestamp)
)

// DeletedPrefixes are the store prefixes under which the stamper deletes
// keys (a request once its token is stored), for incremental backups
// (backup.DeletedPrefixes).
func DeletedPrefixes() [][]byte { return [][]byte{bytes.Clone(prefAwait)} }

// subject is what the node stamps for one block or transaction.
type subject struct {
	Block      uint64 `json:"block"`
	TxID       string `json:"tx_id,omitempty"`
	LedgerTime string `json:"ledger_time"`
}

// Config configures a Stamper.
type Config struct {
	DB *store.DB
	// TSAs are the URLs of the time-stamping authorities (RFC 3161 over
	// HTTP): every block gets a token from each.
	TSAs []string
	// Roots are the PEM certificates (CA or TSA) the tokens must chain to:
	// the node refuses others, and its trust roots list these (tsa_roots).
	Roots []string
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// HTTPClient (nil: one with a 10 s timeout per request).
	HTTPClient *http.Client
	// Concurrency is how many requests may be in flight per TSA
	// (default 4).
	Concurrency int
	// MinBackoff and MaxBackoff bound the wait before a TSA is asked
	// again after a failure (default 250 ms, doubling to 5 s).
	MinBackoff, MaxBackoff time.Duration
	// Poll is how often an idle fetcher looks at its queue unwoken
	// (default 2 s).
	Poll time.Duration
	// FlushDelay is how long a token may wait to be stored with others
	// (default 200 ms).
	FlushDelay time.Duration
}

// Validate checks the configuration: one to verifier.MaxTimestamps
// distinct http(s) URLs, and roots that parse.
func (c Config) Validate() error {
	if err := ValidateURLs(c.TSAs); err != nil {
		return err
	}
	if len(c.Roots) == 0 {
		return errors.New("tsa: no TSA root certificates: the node accepts no token without them")
	}
	if _, err := verifier.ParseTSARoots(c.Roots); err != nil {
		return fmt.Errorf("tsa: roots: %w", err)
	}
	return nil
}

// ValidateURLs checks a list of TSA URLs: one to verifier.MaxTimestamps
// distinct http(s) URLs.
func ValidateURLs(urls []string) error {
	if len(urls) == 0 {
		return errors.New("tsa: no TSA URL")
	}
	if len(urls) > verifier.MaxTimestamps {
		return fmt.Errorf("tsa: %d TSAs, at most %d", len(urls), verifier.MaxTimestamps)
	}
	for i, u := range urls {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.User != nil || p.Fragment != "" {
			return fmt.Errorf("tsa: %q: want an http(s) URL", u)
		}
		if slices.Contains(urls[:i], u) {
			return fmt.Errorf("tsa: %q given twice", u)
		}
	}
	return nil
}

// ParseRoots reads a PEM file of certificates into the form Config.Roots
// and the trust roots take: one PEM block per certificate, as
// encoding/pem writes it.
func ParseRoots(pemData []byte) ([]string, error) {
	var out []string
	rest := pemData
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("tsa: a PEM %q block, want CERTIFICATE", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return nil, fmt.Errorf("tsa: certificate %d: %w", len(out)+1, err)
		}
		out = append(out, string(pem.EncodeToMemory(&pem.Block{Type: b.Type, Bytes: b.Bytes})))
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("tsa: text that is not a PEM certificate")
	}
	if len(out) == 0 {
		return nil, errors.New("tsa: no PEM certificate")
	}
	return out, nil
}

// Stamper fetches and keeps the trusted timestamps of the node's blocks.
type Stamper struct {
	db       *store.DB
	cfg      Config
	certs    verifier.TSARoots
	fetchers []*fetcher
	m        metrics

	staged atomic.Int64 // subjects staged in block batches since the last Wake
	addMu  sync.Mutex

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type metrics struct {
	awaiting *prometheus.GaugeVec
	errors   *prometheus.CounterVec
	tokens   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// fetcher gets the tokens of one TSA.
type fetcher struct {
	s      *Stamper
	id     []byte // 8 bytes
	client *Client
	wake   chan struct{}
	count  atomic.Int64 // awaiting entries
}

// Open opens the stamper on cfg.DB and starts a fetcher per TSA, which
// resume the requests the store holds; requests awaiting TSAs no longer
// configured are dropped.
func Open(cfg Config) (*Stamper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(5*time.Second, cfg.MinBackoff)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.FlushDelay <= 0 {
		cfg.FlushDelay = 200 * time.Millisecond
	}
	certs, _ := verifier.ParseTSARoots(cfg.Roots)
	s := &Stamper{db: cfg.DB, cfg: cfg, certs: certs, m: metrics{
		awaiting: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "evidence_timestamps_awaiting",
			Help: "Blocks (Fabric: batch transactions) awaiting a trusted timestamp from each TSA."}, []string{"tsa"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_timestamp_errors_total",
			Help: "Failed requests for a trusted timestamp, by TSA and reason (unreachable, http, rejected, invalid)."}, []string{"tsa", "reason"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "evidence_timestamps_total",
			Help: "Trusted timestamps (RFC 3161 tokens) received, checked and stored, by TSA."}, []string{"tsa"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "evidence_timestamp_request_seconds",
			Help: "Time of a successful request for a token, by TSA.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}, []string{"tsa"}),
	}}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.m.awaiting, s.m.errors, s.m.tokens, s.m.latency} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("tsa: metrics: %w", err)
			}
		}
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, IdleConnTimeout: time.Minute}}
	}
	byID := map[string]*fetcher{}
	for _, u := range cfg.TSAs {
		f := &fetcher{s: s, id: tsaID(u), client: NewClient(u, certs, hc), wake: make(chan struct{}, 1)}
		s.fetchers = append(s.fetchers, f)
		byID[string(f.id)] = f
		// Every label exists from the start, so a dashboard sees zeros.
		s.m.errors.WithLabelValues(u, ReasonUnreachable)
		s.m.tokens.WithLabelValues(u)
	}
	// Count what each TSA owes; drop what TSAs no longer configured owed.
	var stale store.Batch
	err := cfg.DB.Scan(prefAwait, nil, func(k, _ []byte) (bool, error) {
		if len(k) != len(prefAwait)+8+8+32 {
			stale.Delete(bytes.Clone(k))
			return true, nil
		}
		if f := byID[string(k[len(prefAwait):len(prefAwait)+8])]; f != nil {
			f.count.Add(1)
		} else {
			stale.Delete(bytes.Clone(k))
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("tsa: %w", err)
	}
	if stale.Len() > 0 {
		cfg.Logger.Warn("dropping the requests for tokens of TSAs no longer configured", "component", "tsa", "requests", stale.Len())
		if err := cfg.DB.Write(&stale); err != nil {
			return nil, fmt.Errorf("tsa: %w", err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, f := range s.fetchers {
		s.m.awaiting.WithLabelValues(f.client.URL()).Set(float64(f.count.Load()))
		s.wg.Add(1)
		go f.run()
	}
	return s, nil
}

// Close stops the fetchers; what they had not fetched stays queued.
func (s *Stamper) Close() {
	s.cancel()
	s.wg.Wait()
}

// TSARoots implements node.Timestamper.
func (s *Stamper) TSARoots() []string { return slices.Clone(s.cfg.Roots) }

func tsaID(u string) []byte {
	h := sha256.Sum256([]byte(u))
	return h[:8]
}

func awaitKey(id []byte, blockNum uint64, imprint []byte) []byte {
	k := make([]byte, 0, len(prefAwait)+48)
	k = append(append(k, prefAwait...), id...)
	k = binary.BigEndian.AppendUint64(k, blockNum)
	return append(k, imprint...)
}

func subjectKey(imprint []byte) []byte { return append(bytes.Clone(prefSubject), imprint...) }

func tokenKey(imprint, id []byte) []byte {
	return append(append(bytes.Clone(prefToken), imprint...), id...)
}

// stage adds to b the writes that ask every TSA for a token over message.
func (s *Stamper) stage(b *store.Batch, message []byte, sub subject) {
	imprint := sha256.Sum256(message)
	v, _ := json.Marshal(sub)
	b.Set(subjectKey(imprint[:]), v)
	for _, f := range s.fetchers {
		b.Set(awaitKey(f.id, sub.Block, imprint[:]), message)
	}
}

// StageEmbedded adds to an embedded block's index batch b the requests
// for its trusted timestamps: they commit atomically with the block (no
// write of their own on the commit path). Call Wake after the batch is
// written.
func (s *Stamper) StageEmbedded(b *store.Batch, hdr block.Header, seal block.Seal) {
	s.stage(b, verifier.EmbeddedStampMessage(hdr.Hash()), subject{Block: hdr.Number, LedgerTime: seal.Time})
	s.staged.Add(1)
}

// Wake tells the fetchers that staged requests were committed.
func (s *Stamper) Wake() {
	if n := s.staged.Swap(0); n > 0 {
		for _, f := range s.fetchers {
			s.m.awaiting.WithLabelValues(f.client.URL()).Set(float64(f.count.Add(n)))
		}
	}
	for _, f := range s.fetchers {
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
}

// AddFabric asks every TSA for a token over a committed Fabric batch
// transaction (verifier.FabricStampMessage), durably, once: a transaction
// already asked for is left alone. It writes to the local store only.
func (s *Stamper) AddFabric(txID string, batchRoot []byte, blockNum uint64, ledgerTime string) error {
	msg := verifier.FabricStampMessage(txID, batchRoot)
	imprint := sha256.Sum256(msg)
	s.addMu.Lock()
	defer s.addMu.Unlock()
	if ok, err := s.db.Has(subjectKey(imprint[:])); err != nil || ok {
		return err
	}
	var b store.Batch
	s.stage(&b, msg, subject{Block: blockNum, TxID: txID, LedgerTime: ledgerTime})
	if err := s.db.Write(&b); err != nil {
		return fmt.Errorf("tsa: %w", err)
	}
	s.staged.Add(1)
	s.Wake()
	return nil
}

// held is the trusted time the node holds for one imprint.
type held struct {
	ts      []verifier.Timestamp
	pending bool
}

// lookup reads the tokens held for an imprint and whether the node asked
// for them at all.
func (s *Stamper) lookup(imprint []byte) (held, error) {
	var h held
	err := s.db.Scan(append(bytes.Clone(prefToken), imprint...), nil, func(_, v []byte) (bool, error) {
		var ts verifier.Timestamp
		if err := json.Unmarshal(v, &ts); err != nil {
			return false, fmt.Errorf("stored token: %w", err)
		}
		h.ts = append(h.ts, ts)
		return true, nil
	})
	if err != nil {
		return held{}, err
	}
	if len(h.ts) == 0 {
		if h.pending, err = s.db.Has(subjectKey(imprint)); err != nil {
			return held{}, err
		}
	}
	slices.SortFunc(h.ts, func(a, b verifier.Timestamp) int {
		return cmpOr(strings.Compare(a.GenTime, b.GenTime), strings.Compare(a.TSA, b.TSA), bytes.Compare(a.Token, b.Token))
	})
	return h, nil
}

func cmpOr(cs ...int) int {
	for _, c := range cs {
		if c != 0 {
			return c
		}
	}
	return 0
}

// Stamp implements node.Timestamper: each receipt gets the tokens held
// for its block or transaction; with none, time_source says pending when
// the node asked for them, else the ledger's plain text.
func (s *Stamper) Stamp(rcs []verifier.Receipt) error {
	// The receipts of one block (transaction) share their tokens, and
	// come one after the other.
	type batchKey struct{ kind, block, tx, root string }
	memo := map[batchKey]held{}
	var last *verifier.Receipt
	var lastHeld held
	for i := range rcs {
		rc := &rcs[i]
		if last != nil && rc.Proof.Kind == last.Proof.Kind && rc.BlockHash == last.BlockHash && rc.TxID == last.TxID && bytes.Equal(rc.Proof.BatchRoot, last.Proof.BatchRoot) {
			rc.SetTimestamps(lastHeld.ts, lastHeld.pending)
			continue
		}
		k := batchKey{kind: rc.Proof.Kind, block: rc.BlockHash}
		if rc.Proof.Kind != verifier.ProofEmbedded {
			k.tx, k.root = rc.TxID, string(rc.Proof.BatchRoot)
		}
		h, ok := memo[k]
		if !ok {
			msg, err := verifier.StampMessage(*rc)
			if err != nil {
				continue // not a receipt the node stamps
			}
			imprint := sha256.Sum256(msg)
			if h, err = s.lookup(imprint[:]); err != nil {
				return err
			}
			memo[k] = h
		}
		rc.SetTimestamps(h.ts, h.pending)
		last, lastHeld = rc, h
	}
	return nil
}

// BlockTimestamps implements node.Timestamper.
func (s *Stamper) BlockTimestamps(b node.Block, roots block.TrustRoots) ([]node.BatchTimestamps, error) {
	one := func(txID string, msg []byte) (node.BatchTimestamps, error) {
		imprint := sha256.Sum256(msg)
		h, err := s.lookup(imprint[:])
		if err != nil {
			return node.BatchTimestamps{}, err
		}
		bt := node.BatchTimestamps{TxID: txID, TrustedTime: verifier.TrustedNone, Timestamps: h.ts}
		switch {
		case len(h.ts) > 0:
			bt.TrustedTime = verifier.TrustedStamped
		case h.pending:
			bt.TrustedTime = verifier.TrustedPending
		}
		if bt.Timestamps == nil {
			bt.Timestamps = []verifier.Timestamp{}
		}
		return bt, nil
	}
	switch b.Kind {
	case block.KindEmbedded:
		bt, err := one("", verifier.EmbeddedStampMessage(b.Header.Hash()))
		return []node.BatchTimestamps{bt}, err
	case block.KindFabric:
		if roots.Fabric == nil {
			return nil, errors.New("no Fabric trust roots")
		}
		fb, err := fabricblock.Parse(b.Raw)
		if err != nil {
			return nil, err
		}
		txs, err := fb.Transactions()
		if err != nil {
			return nil, err
		}
		var out []node.BatchTimestamps
		for _, tx := range txs {
			if code, err := fb.ValidationCode(tx.Index); err != nil || code != 0 || tx.Chaincode != roots.Fabric.Chaincode {
				continue
			}
			v, ok := tx.Value(roots.Fabric.Chaincode, fabricblock.BatchKey(tx.ID))
			if !ok {
				continue
			}
			_, root, err := fabricblock.ParseBatch(v)
			if err != nil {
				continue
			}
			bt, err := one(tx.ID, verifier.FabricStampMessage(tx.ID, root))
			if err != nil {
				return nil, err
			}
			out = append(out, bt)
		}
		return out, nil
	}
	return nil, nil
}

// run fetches the TSA's tokens, oldest block first, Concurrency at a
// time, until the stamper closes. Tokens are stored in batches (at most
// FlushDelay after the first of a batch, or 64 at once): a synced write
// per token would double the node's syncs per block. A token lost in a
// crash before its batch is written is fetched again: its request goes
// in the same write.
func (f *fetcher) run() {
	defer f.s.wg.Done()
	s, u := f.s, f.client.URL()
	delay := s.cfg.MinBackoff
	var from []byte // where the next scan starts (nil: the queue's start)
	failing, lastLog := 0, time.Time{}
	prefix := append(bytes.Clone(prefAwait), f.id...)
	var buf store.Batch
	bufN, bufSince := 0, time.Time{}
	flush := func() {
		if bufN == 0 {
			return
		}
		if err := s.db.Write(&buf); err != nil {
			// Their requests stay queued: they are asked for again.
			s.cfg.Logger.Error("storing tokens failed", "component", "tsa", "tsa", u, "tokens", bufN, "err", err)
		} else {
			s.m.tokens.WithLabelValues(u).Add(float64(bufN))
			s.m.awaiting.WithLabelValues(u).Set(float64(max(0, f.count.Add(int64(-bufN)))))
		}
		buf, bufN = store.Batch{}, 0
	}
	defer flush()
	for s.ctx.Err() == nil {
		if bufN >= 64 || (bufN > 0 && time.Since(bufSince) >= s.cfg.FlushDelay) {
			flush()
		}
		batch, err := f.next(prefix, from, s.cfg.Concurrency)
		if err != nil {
			s.cfg.Logger.Error("reading the queue failed", "component", "tsa", "tsa", u, "err", err)
			f.sleep(delay)
			continue
		}
		if len(batch) == 0 {
			if from != nil && bufN == 0 {
				from = nil // look once more from the start
				continue
			}
			wait := s.cfg.Poll
			if bufN > 0 {
				wait = max(0, s.cfg.FlushDelay-time.Since(bufSince))
			} else {
				f.count.Store(0)
				s.m.awaiting.WithLabelValues(u).Set(0)
			}
			select {
			case <-f.wake:
			case <-time.After(wait):
			case <-s.ctx.Done():
			}
			continue
		}
		results := make([]error, len(batch))
		tokens := make([]verifier.Timestamp, len(batch))
		var wg sync.WaitGroup
		for i, e := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(s.ctx, 15*time.Second)
				defer cancel()
				start := time.Now()
				tokens[i], results[i] = f.client.Stamp(ctx, e.message)
				if results[i] == nil {
					s.m.latency.WithLabelValues(u).Observe(time.Since(start).Seconds())
				}
			}()
		}
		wg.Wait()
		var firstErr error
		for i, e := range batch {
			if err := results[i]; err != nil {
				if s.ctx.Err() != nil {
					return
				}
				reason := ReasonInvalid
				var re *RequestError
				if errors.As(err, &re) {
					reason = re.Reason
				}
				s.m.errors.WithLabelValues(u, reason).Inc()
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			v, _ := json.Marshal(tokens[i])
			if bufN == 0 {
				bufSince = time.Now()
			}
			buf.Set(tokenKey(e.imprint, f.id), v)
			buf.Delete(e.key)
			bufN++
		}
		if firstErr != nil {
			flush()
			failing++
			if time.Since(lastLog) > 30*time.Second {
				s.cfg.Logger.Warn(fmt.Sprintf("%v (%d failed attempts; retrying in %v)", firstErr, failing, delay), "component", "tsa", "tsa", u)
				lastLog = time.Now()
			}
			from = nil // the oldest first, once the TSA answers again
			f.sleep(delay + rand.N(delay/4+1))
			delay = min(2*delay, s.cfg.MaxBackoff)
			continue
		}
		if failing > 0 {
			s.cfg.Logger.Info("the TSA answers again", "component", "tsa", "tsa", u, "failed_attempts", failing)
			failing, lastLog = 0, time.Time{}
		}
		delay = s.cfg.MinBackoff
		from = append(bytes.Clone(batch[len(batch)-1].key), 0)
	}
}

func (f *fetcher) sleep(d time.Duration) {
	select {
	case <-time.After(d):
	case <-f.s.ctx.Done():
	}
}

// awaiting is one queued request.
type awaiting struct {
	key, imprint, message []byte
}

// next reads up to n queued requests from the key from (nil: the start).
func (f *fetcher) next(prefix, from []byte, n int) ([]awaiting, error) {
	var out []awaiting
	err := f.s.db.Scan(prefix, from, func(k, v []byte) (bool, error) {
		if len(k) != len(prefix)+8+32 {
			return true, nil
		}
		out = append(out, awaiting{key: bytes.Clone(k), imprint: bytes.Clone(k[len(prefix)+8:]), message: bytes.Clone(v)})
		return len(out) < n, nil
	})
	return out, err
}
