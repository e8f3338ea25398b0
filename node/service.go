package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/evidence-node/evidence-node/node/pdf"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/view"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Service errors (besides the Ledger's).
var (
	// ErrQuotaExceeded: the platform has used its quota for the period.
	ErrQuotaExceeded = errors.New("quota exceeded")
	// ErrIdempotencyMismatch: an Idempotency-Key was reused for a
	// different request.
	ErrIdempotencyMismatch = errors.New("idempotency key reused with a different request")
	// ErrInvalid wraps every invalid-input error: of a submission, a
	// verification, a look-up, a proof or tile request.
	ErrInvalid = errors.New("invalid request")
)

// Submission is one piece of evidence as a platform submits it.
type Submission struct {
	Type evidence.Type
	// Digests: the primary digest first; the node adds SM3 next to
	// SHA-256 when it hashed the content itself.
	Digests []evidence.Digest
	DocRef  string
	// Metadata is private JSON kept off-ledger in this node, as
	// CompactMetadata returns it; only a salted commitment to it
	// (evidence.MetaCommitment) goes on the ledger, the salt kept with it.
	Metadata []byte
	// Inspection is the node's JSON report on the content (a PDF's pages
	// and signatures), kept off-ledger and shown in receipts as "pdf".
	Inspection []byte
}

// Config configures a Service.
type Config struct {
	Ledger    Ledger
	DB        *store.DB
	Platforms *platform.Registry
	// Now is the clock (time.Now if nil).
	Now     func() time.Time
	Metrics *Metrics
	// Queue makes every submission durable in the node's store before it
	// goes to the ledger. When the ledger does not commit within
	// CommitWait, or cannot commit, Submit returns a *PendingError: the
	// records are queued and a background drainer appends them, in order,
	// when the ledger can. For a remote ledger (Fabric); the embedded
	// ledger's commit is itself durable.
	Queue      bool
	CommitWait time.Duration
	Logger     *slog.Logger
	// PDFDir is where certificates are rendered from (pdfcpu's
	// configuration and the installed font); empty: DefaultPDFDir().
	PDFDir string
	// SigningKey signs every certificate and package the node makes (a PDF
	// signature binding every byte), with SigningChain, its certificate
	// first. The key is listed in the trust roots the node serves as a
	// document signer. Nil: a key and a self-signed certificate made for
	// this process alone (tests).
	SigningKey   *ecdsa.PrivateKey
	SigningChain []*x509.Certificate
	// Inspection bounds the inspection of submitted PDFs (a sandboxed
	// child process per document, fair between platforms).
	Inspection pdf.InspectorConfig
	// Space, if set, refuses submissions while the data disk is (nearly)
	// full (ErrDiskFull), before anything is written.
	Space *Space
	// Timestamps, if set, fills receipts and blocks with the trusted
	// timestamps the node holds, and its TSA roots join the trust roots.
	Timestamps Timestamper
	// Log, if set, gives receipts their transparency-log proofs, and its
	// key joins the trust roots.
	Log TransparencyLog
}

// Service is the submission pipeline and the read side of the node.
type Service struct {
	ledger    Ledger
	db        *store.DB
	platforms *platform.Registry
	now       func() time.Time
	ids       *evidence.IDGenerator
	metrics   *Metrics

	queue      *queue
	commitWait time.Duration
	inspector  *pdf.Inspector
	renderer   *renderer
	hooks      *hooks
	logger     *slog.Logger
	signer     pdf.Signer
	signerKey  block.Key
	signers    []block.Key   // every document signing key used, oldest first
	originals  chan struct{} // packages with an original being built
	documents  *documentCache
	stamps     Timestamper
	tlog       TransparencyLog

	idemLocks [64]sync.Mutex
	closeOnce sync.Once
	quotaMu   sync.Mutex
	quotas    map[string]*quotaState
	space     *Space
}

// NewService returns a Service; Close stops it.
func NewService(c Config) (*Service, error) {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics(nil)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.CommitWait <= 0 {
		c.CommitWait = 3 * time.Second
	}
	s := &Service{
		ledger: c.Ledger, db: c.DB, platforms: c.Platforms, now: c.Now, metrics: c.Metrics,
		ids:        evidence.NewIDGenerator(c.Now, nil),
		quotas:     map[string]*quotaState{},
		commitWait: c.CommitWait,
		inspector:  pdf.NewInspector(c.Inspection),
		renderer:   &renderer{dir: c.PDFDir},
		originals:  make(chan struct{}, 1),
		documents:  newDocumentCache(64<<20, c.Metrics.documents),
		logger:     c.Logger,
		space:      c.Space,
		stamps:     c.Timestamps,
		tlog:       c.Log,
	}
	if s.renderer.dir == "" {
		s.renderer.dir = DefaultPDFDir()
	}
	if err := s.setSigner(c.SigningKey, c.SigningChain); err != nil {
		return nil, err
	}
	// A key made for this process alone (no SigningKey) is not recorded.
	if err := s.loadSigners(c.SigningKey != nil); err != nil {
		return nil, err
	}
	if c.Queue {
		q, err := openQueue(c.DB, c.Ledger, c.Logger, func(n int) { c.Metrics.queueDepth.Set(float64(n)) })
		if err != nil {
			return nil, fmt.Errorf("submission queue: %w", err)
		}
		s.queue = q
	}
	s.hooks = newHooks(s)
	return s, nil
}

// Close stops the queue drainer (queued records stay queued on disk) and
// the webhook deliveries (undelivered events stay in the outbox). A second
// Close does nothing.
func (s *Service) Close() {
	s.closeOnce.Do(func() {
		if s.queue != nil {
			s.queue.close()
		}
		s.hooks.close()
	})
}

// Info describes the service's ledger (Ledger.Info), its trust roots
// naming the node's document signing keys: every one it has used, the
// current one last.
func (s *Service) Info(ctx context.Context) (Info, error) {
	info, err := s.ledger.Info(ctx)
	if err != nil {
		return info, err
	}
	info.TrustRoots.Signers = append(slices.Clip(info.TrustRoots.Signers), s.signers...)
	if s.stamps != nil {
		info.TrustRoots.TSARoots = s.stamps.TSARoots()
	}
	if s.tlog != nil {
		info.TrustRoots.Log = s.tlog.TrustRoot()
	}
	return info, nil
}

// Block returns block n as the ledger stores it (Ledger.Block), with the
// trusted timestamps the node holds for it.
func (s *Service) Block(ctx context.Context, n uint64) (Block, error) {
	b, err := s.ledger.Block(ctx, n)
	if err != nil || s.stamps == nil {
		return b, err
	}
	var roots block.TrustRoots
	if b.Kind == block.KindFabric { // the evidence chaincode's name, to find its transactions
		info, err := s.ledger.Info(ctx)
		if err != nil {
			return b, err
		}
		roots = info.TrustRoots
	}
	if b.Timestamps, err = s.stamps.BlockTimestamps(b, roots); err != nil {
		return Block{}, fmt.Errorf("%w: trusted timestamps of block %d: %v", ErrUnavailable, n, err)
	}
	return b, nil
}

// stamp gives receipts the trusted timestamps the node holds.
func (s *Service) stamp(rcs []verifier.Receipt) error {
	if s.stamps == nil || len(rcs) == 0 {
		return nil
	}
	if err := s.stamps.Stamp(rcs); err != nil {
		return fmt.Errorf("%w: trusted timestamps: %v", ErrUnavailable, err)
	}
	return nil
}

// Authenticate returns the platform an API key belongs to
// (platform.ErrUnknownKey for an unknown or revoked key).
func (s *Service) Authenticate(key string) (platform.Platform, error) {
	return s.platforms.Authenticate(key)
}

// Store keys.
var (
	prefIdem = []byte("S/i/") // + platform + 0 + sha256(key)
	prefMeta = []byte("S/m/") // + id
	prefQuot = []byte("S/q/") // + platform + 0 + window start (unix s)
	prefInsp = []byte("S/f/") // + id: content inspection
	prefSalt = []byte("S/s/") // + id: the salt of the metadata commitment (records of version 2)
)

func key(prefix []byte, parts ...[]byte) []byte {
	k := append([]byte(nil), prefix...)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

type idemEntry struct {
	Fingerprint []byte   `json:"fp"`
	Records     [][]byte `json:"records"`
}

// Validate checks a submission.
func (sub Submission) Validate() error {
	if !sub.Type.Valid() {
		return fmt.Errorf("%w: type %q (want file or text)", ErrInvalid, sub.Type)
	}
	if len(sub.Digests) == 0 {
		return fmt.Errorf("%w: no digest", ErrInvalid)
	}
	for _, d := range sub.Digests {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if err := evidence.ValidateDocRef(sub.DocRef); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(sub.Metadata) > 0 {
		c, err := CompactMetadata(sub.Metadata)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if !bytes.Equal(c, sub.Metadata) {
			return fmt.Errorf("%w: metadata is not compact (use CompactMetadata)", ErrInvalid)
		}
	}
	return nil
}

// Submit records submissions for a platform and returns their receipts in
// order once the ledger has committed them. With an idempotency key, a
// repeat of the same request (same fingerprint) returns the same receipts
// instead of new records; the same key with another fingerprint fails with
// ErrIdempotencyMismatch.
func (s *Service) Submit(ctx context.Context, p platform.Platform, idemKey string, fingerprint []byte, subs []Submission) ([]Receipt, error) {
	start := time.Now()
	rcs, err := s.submit(ctx, p, idemKey, fingerprint, subs)
	if err == nil {
		err = s.stamp(rcs)
	}
	s.metrics.observeSubmit(len(subs), err, time.Since(start))
	if err != nil {
		return nil, err
	}
	out := make([]Receipt, len(rcs))
	for i := range rcs {
		out[i].Receipt = rcs[i]
		if i < len(subs) && len(subs[i].Metadata) > 0 {
			// The submitting platform gets its metadata and the salt of
			// the commitment at once.
			if out[i], err = s.withPrivate(p, out[i]); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
		}
	}
	if len(out) == 1 && len(subs) == 1 {
		out[0].PDF = subs[0].Inspection
	}
	return out, nil
}

func (s *Service) submit(ctx context.Context, p platform.Platform, idemKey string, fingerprint []byte, subs []Submission) ([]verifier.Receipt, error) {
	if len(subs) == 0 {
		return nil, fmt.Errorf("%w: nothing to submit", ErrInvalid)
	}
	for i, sub := range subs {
		if err := sub.Validate(); err != nil {
			if len(subs) > 1 {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			return nil, err
		}
	}
	var ikey []byte
	if idemKey != "" {
		h := sha256.Sum256([]byte(idemKey))
		ikey = key(prefIdem, []byte(p.Name), h[:])
		l := &s.idemLocks[h[0]%byte(len(s.idemLocks))]
		l.Lock()
		defer l.Unlock()
		if v, err := s.db.Get(ikey); err == nil {
			var e idemEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return nil, fmt.Errorf("%w: idempotency record: %v", ErrUnavailable, err)
			}
			if !bytes.Equal(e.Fingerprint, fingerprint) {
				return nil, ErrIdempotencyMismatch
			}
			recs := make([]evidence.Record, len(e.Records))
			for i, b := range e.Records {
				if recs[i], err = evidence.ParseRecord(b); err != nil {
					return nil, fmt.Errorf("%w: idempotency record: %v", ErrUnavailable, err)
				}
			}
			if s.queue != nil {
				if pending, err := s.queue.isPending(recs[0].ID); err == nil && pending {
					return nil, &PendingError{IDs: idsOf(recs)}
				}
			}
			// Append is idempotent for identical records: this returns the
			// original receipts, or finishes a submission a crash cut short.
			return s.ledger.Append(ctx, recs)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	// A full disk refuses new records before anything is written for
	// them (a retry above finishes on the ledger, which checks too).
	if err := s.space.Check(); err != nil {
		return nil, err
	}
	quota, err := s.reserveQuota(p, len(subs))
	if err != nil {
		return nil, err
	}
	// Every way out before the records are committed or durably queued
	// gives the reservation back.
	defer quota.release()
	now := s.now()
	recs := make([]evidence.Record, len(subs))
	var b store.Batch
	var ie idemEntry
	ie.Fingerprint = fingerprint
	for i, sub := range subs {
		id, err := s.ids.New()
		if err != nil {
			return nil, err
		}
		recs[i] = evidence.Record{Version: evidence.RecordVersion, ID: id, Type: sub.Type, Digests: sub.Digests, Platform: p.Name, DocRef: sub.DocRef, SubmittedAt: now}
		if len(sub.Inspection) > 0 {
			b.Set(key(prefInsp, id[:]), sub.Inspection)
		}
		if len(sub.Metadata) > 0 {
			salt, err := newMetaSalt()
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
			}
			if recs[i].MetaDigest, err = evidence.MetaCommitment(salt, sub.Metadata); err != nil {
				return nil, err
			}
			b.Set(key(prefMeta, id[:]), sub.Metadata)
			b.Set(key(prefSalt, id[:]), salt)
		}
		if ikey != nil || s.queue != nil {
			c, err := recs[i].Canonical()
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			ie.Records = append(ie.Records, c)
		}
	}
	if ikey != nil {
		v, _ := json.Marshal(ie)
		b.Set(ikey, v)
	}
	enqueueHooks(&b, p, recs, "", now)
	if s.stamps != nil {
		// Trusted time arrives after the block: the event waits for it.
		enqueueHooks(&b, p, recs, view.EventTimestamped, now)
	}
	var seq uint64
	if s.queue != nil {
		seq = s.queue.add(&b, ie.Records, idsOf(recs))
	}
	if b.Len() > 0 {
		if err := s.db.Write(&b); err != nil {
			if s.queue != nil {
				s.queue.release(seq)
			}
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
	}
	if p.Webhook != nil {
		defer s.hooks.kick()
	}
	if s.queue == nil {
		rcs, err := s.ledger.Append(ctx, recs)
		if err != nil {
			s.hooks.forget(p, recs, now) // the platform is told of the failure itself
			return nil, err
		}
		quota.keep()
		return rcs, nil
	}
	// Durably queued: the records will reach the ledger, and count.
	quota.keep()
	return s.commitQueued(seq, recs)
}

// commitQueued appends a queued submission and waits up to commitWait. A
// slow or failed append leaves it to the drainer and answers pending: the
// records are on disk and counted against the quota either way.
func (s *Service) commitQueued(seq uint64, recs []evidence.Record) ([]verifier.Receipt, error) {
	type result struct {
		rcs []verifier.Receipt
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rcs, err := s.queue.commit(ctx, seq, recs)
		if err != nil {
			s.queue.release(seq)
		} else {
			s.queue.finished(seq)
		}
		done <- result{rcs, err}
	}()
	t := time.NewTimer(s.commitWait)
	defer t.Stop()
	select {
	case r := <-done:
		if r.err == nil {
			return r.rcs, nil
		}
		if errors.Is(r.err, ErrConflict) || errors.Is(r.err, evidence.ErrRecord) {
			return nil, r.err
		}
		return nil, &PendingError{IDs: idsOf(recs)}
	case <-t.C:
		return nil, &PendingError{IDs: idsOf(recs)}
	}
}

func idsOf(recs []evidence.Record) []evidence.ID {
	ids := make([]evidence.ID, len(recs))
	for i, r := range recs {
		ids[i] = r.ID
	}
	return ids
}

// Receipt returns the receipt for id; a *PendingError if it is queued in
// this node and not yet on the ledger.
func (s *Service) Receipt(ctx context.Context, id evidence.ID) (Receipt, error) {
	// The pending mark goes before the append and away only after the
	// commit, so asking it first never misses a record in between.
	if s.queue != nil {
		if pending, err := s.queue.isPending(id); err == nil && pending {
			return Receipt{}, &PendingError{IDs: []evidence.ID{id}}
		}
	}
	rc, err := s.ledger.Receipt(ctx, id)
	if err != nil {
		return Receipt{}, err
	}
	one := []verifier.Receipt{rc}
	if err := s.stamp(one); err != nil {
		return Receipt{}, err
	}
	if s.tlog != nil {
		if err := s.tlog.Prove(one); err != nil {
			if errors.Is(err, ErrCorrupted) {
				return Receipt{}, err
			}
			return Receipt{}, fmt.Errorf("%w: transparency log: %v", ErrUnavailable, err)
		}
	}
	out := Receipt{Receipt: one[0]}
	if v, ierr := s.db.Get(key(prefInsp, id[:])); ierr == nil {
		out.PDF = v
	}
	return out, nil
}

// ReceiptFor is Receipt as platform p sees it: with the private metadata
// and the salt of its commitment when p submitted the record.
func (s *Service) ReceiptFor(ctx context.Context, id evidence.ID, p platform.Platform) (Receipt, error) {
	rc, err := s.Receipt(ctx, id)
	if err != nil {
		return rc, err
	}
	return s.withPrivate(p, rc)
}

// withPrivate adds the private metadata and its salt to rc when p
// submitted the record.
func (s *Service) withPrivate(p platform.Platform, rc Receipt) (Receipt, error) {
	md, salt, err := s.Metadata(p, rc.Receipt)
	switch {
	case err == nil:
		rc.Metadata, rc.MetaSalt = md, hex.EncodeToString(salt)
	case !errors.Is(err, ErrNotFound):
		return Receipt{}, err
	}
	return rc, nil
}

// Metadata returns the private metadata of the record rc and the salt of
// its commitment (nil for a version 1 record, committed by SHA-256 alone),
// only to the platform that submitted it (ErrNotFound otherwise, so its
// existence is not told). With them the platform can check the record's
// commitment (evidence.Record.CheckMetadata); without the salt nobody can
// test a guess of the metadata against the public record.
func (s *Service) Metadata(p platform.Platform, rc verifier.Receipt) (metadata, salt []byte, err error) {
	if rc.Platform != p.Name {
		return nil, nil, ErrNotFound
	}
	id, err := evidence.ParseID(rc.ID)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.db.Get(key(prefMeta, id[:]))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	salt, err = s.db.Get(key(prefSalt, id[:]))
	if errors.Is(err, store.ErrNotFound) {
		return v, nil, nil
	}
	return v, salt, err
}

// quotaState tracks one platform's use in its current window. Usage is
// counted in memory and reserved on disk in steps, so a crash can cost a
// platform at most quotaStep records of its quota, never give it more.
type quotaState struct {
	windowStart time.Time
	used        int64
	reserved    int64
}

const quotaStep = 64

// Usage reports a platform's use of its quota in the current period.
func (s *Service) Usage(p platform.Platform) (view.Usage, error) {
	u := view.Usage{Platform: p.Name, Quota: p.Quota}
	s.quotaMu.Lock()
	defer s.quotaMu.Unlock()
	st, end, err := s.quotaLocked(p)
	if err != nil || st == nil {
		return u, err
	}
	left := max(0, p.Quota-st.used)
	u.Used, u.Left, u.Period = st.used, &left, p.Period
	u.PeriodStart, u.PeriodEnd = st.windowStart.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339)
	return u, nil
}

func (s *Service) quotaLocked(p platform.Platform) (*quotaState, time.Time, error) {
	if p.Quota <= 0 {
		return nil, time.Time{}, nil
	}
	per, err := platform.ParsePeriod(p.Period)
	if err != nil {
		return nil, time.Time{}, err
	}
	created, err := time.Parse(time.RFC3339, p.Created)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("platform %s: created: %w", p.Name, err)
	}
	start, end := per.Window(created, s.now())
	st := s.quotas[p.Name]
	if st == nil || !st.windowStart.Equal(start) {
		st = &quotaState{windowStart: start}
		v, err := s.db.Get(s.quotaKey(p.Name, start))
		switch {
		case err == nil && len(v) == 8:
			st.reserved = int64(binary.BigEndian.Uint64(v))
			st.used = st.reserved // what was reserved before a restart counts as used
		case err == nil || errors.Is(err, store.ErrNotFound):
		default:
			return nil, end, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		s.quotas[p.Name] = st
	}
	return st, end, nil
}

func (s *Service) quotaKey(name string, start time.Time) []byte {
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(start.Unix()))
	return key(prefQuot, []byte(name), t[:])
}

// reservation is records reserved against a platform's quota: given back
// by release unless keep was called first.
type reservation struct {
	s    *Service
	p    platform.Platform
	n    int
	kept bool
}

func (r *reservation) keep() { r.kept = true }

func (r *reservation) release() {
	if r.kept || r.n == 0 {
		return
	}
	r.kept = true
	r.s.releaseQuota(r.p, r.n)
}

// reserveQuota reserves n records of p's quota for a submission.
func (s *Service) reserveQuota(p platform.Platform, n int) (*reservation, error) {
	if err := s.reserveLocked(p, n); err != nil {
		return nil, err
	}
	return &reservation{s: s, p: p, n: n}, nil
}

func (s *Service) reserveLocked(p platform.Platform, n int) error {
	s.quotaMu.Lock()
	defer s.quotaMu.Unlock()
	st, end, err := s.quotaLocked(p)
	if err != nil || st == nil {
		return err
	}
	if st.used+int64(n) > p.Quota {
		return fmt.Errorf("%w: platform %s has used %d of %d records until %s", ErrQuotaExceeded, p.Name, st.used, p.Quota, end.UTC().Format(time.RFC3339))
	}
	st.used += int64(n)
	if st.used > st.reserved {
		r := min(st.used+quotaStep, p.Quota)
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], uint64(r))
		if err := s.db.Set(s.quotaKey(p.Name, st.windowStart), v[:]); err != nil {
			st.used -= int64(n)
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		st.reserved = r
	}
	return nil
}

func (s *Service) releaseQuota(p platform.Platform, n int) {
	s.quotaMu.Lock()
	defer s.quotaMu.Unlock()
	if st := s.quotas[p.Name]; st != nil && p.Quota > 0 {
		st.used = max(0, st.used-int64(n))
	}
}

// Receipt is a receipt as the node shows it (view.Receipt): the ledger's
// receipt, the node's inspection of the content, and private metadata for
// the submitting platform.
type Receipt = view.Receipt
