package node

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/view"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// The webhook outbox: events to deliver to platforms, kept in the node's
// store until delivered, so that none is lost to a crash (delivery is at
// least once; platforms de-duplicate by webhook-id). An event is queued in
// the same synced write as the submission it is about, before the record
// goes to the ledger; which event it is (committed, failed) is decided
// when it is delivered, from what the ledger and the queue then say.
var (
	prefHookDue    = []byte("S/w/q/") // + due (unix ms, 8 BE) + webhook-id: an event to deliver
	prefHookParked = []byte("S/w/p/") // + webhook-id: given up after the retry period
	prefHookLog    = []byte("S/w/l/") // + platform + 0 + (MaxUint64 - unix ns) (8 BE) + webhook-id: recent attempts, newest first
	prefFailed     = []byte("S/x/")   // + record ID: a queued record that can never be committed, and why
)

// Webhook delivery limits.
const (
	hookRetryFor    = 24 * time.Hour   // then parked
	hookMaxBackoff  = time.Hour        // between attempts
	hookTimeout     = 10 * time.Second // per request
	hookParallel    = 8
	hookGone        = 10 * time.Minute // a record never seen on the ledger nor queued: no event
	hookLogKeep     = 7 * 24 * time.Hour
	maxHookResponse = 64 << 10
)

// hookEntry is one event in the outbox.
type hookEntry struct {
	ID       string    `json:"id"` // webhook-id
	Platform string    `json:"platform"`
	Record   string    `json:"record"`
	Type     string    `json:"type,omitempty"` // set for evidence.timestamped; else decided at delivery
	First    time.Time `json:"first"`
	Attempts int       `json:"attempts"`
	Last     string    `json:"last_error,omitempty"`
}

// Delivery is one attempt to deliver an event (view.Delivery).
type Delivery = view.Delivery

// hookID is the webhook-id of a record's event: the same across retries
// and redeliveries, so the platform de-duplicates by it.
func hookID(record, kind string) string {
	if kind == view.EventTimestamped {
		return "msg_" + record + "_ts"
	}
	return "msg_" + record
}

func dueKey(due time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64(append([]byte(nil), prefHookDue...), uint64(due.UnixMilli()))
	return append(k, id...)
}

// enqueueHooks adds the events of new records of p to b (nothing if p
// has no webhook).
func enqueueHooks(b *store.Batch, p platform.Platform, recs []evidence.Record, kind string, now time.Time) {
	if p.Webhook == nil {
		return
	}
	for _, r := range recs {
		e := hookEntry{ID: hookID(r.ID.String(), kind), Platform: p.Name, Record: r.ID.String(), Type: kind, First: now.UTC()}
		v, _ := json.Marshal(e)
		b.Set(dueKey(now, e.ID), v)
	}
}

// forget removes the events enqueueHooks added at now for recs (their
// submission failed, and the platform was told in the answer).
func (h *hooks) forget(p platform.Platform, recs []evidence.Record, now time.Time) {
	if p.Webhook == nil {
		return
	}
	var b store.Batch
	for _, r := range recs {
		b.Delete(dueKey(now, hookID(r.ID.String(), "")))
		b.Delete(dueKey(now, hookID(r.ID.String(), view.EventTimestamped)))
	}
	if err := h.s.db.Write(&b); err != nil {
		h.s.logger.Error("webhooks: forgetting the events of a failed submission failed", "component", "webhooks", "err", err)
	}
}

// hooks delivers the outbox.
type hooks struct {
	s      *Service
	client *http.Client
	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	busy   map[string]bool // events being delivered
	failed map[string]int  // consecutive failed attempts, by platform
}

func newHooks(s *Service) *hooks {
	h := &hooks{s: s, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}), busy: map[string]bool{}, failed: map[string]int{},
		client: &http.Client{
			Timeout: hookTimeout,
			// Only the configured URL is called: redirects are not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{Proxy: nil, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
				MaxIdleConnsPerHost: hookParallel, ResponseHeaderTimeout: hookTimeout},
		}}
	go h.run()
	return h
}

func (h *hooks) kick() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hooks) close() {
	close(h.quit)
	<-h.done
}

func (h *hooks) run() {
	defer close(h.done)
	sem := make(chan struct{}, hookParallel)
	var wg sync.WaitGroup
	defer wg.Wait()
	lastTrim := time.Time{}
	for {
		select {
		case <-h.quit:
			return
		case <-h.wake:
		case <-time.After(250 * time.Millisecond):
		}
		now := h.s.now()
		var due []hookEntry
		end := binary.BigEndian.AppendUint64(append([]byte(nil), prefHookDue...), uint64(now.UnixMilli())+1)
		err := h.s.db.Scan(prefHookDue, nil, func(k, v []byte) (bool, error) {
			if bytes.Compare(k, end) >= 0 {
				return false, nil
			}
			var e hookEntry
			if json.Unmarshal(v, &e) == nil {
				e.Last = string(k) // carries the key to the delivery
				due = append(due, e)
			}
			return len(due) < 256, nil
		})
		if err != nil {
			h.s.logger.Error("webhooks: reading the outbox failed", "component", "webhooks", "err", err)
			continue
		}
		for _, e := range due {
			h.mu.Lock()
			if h.busy[e.ID] {
				h.mu.Unlock()
				continue
			}
			h.busy[e.ID] = true
			h.mu.Unlock()
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				key := []byte(e.Last)
				e.Last = ""
				h.deliver(key, e)
				h.mu.Lock()
				delete(h.busy, e.ID)
				h.mu.Unlock()
			}()
		}
		if now.Sub(lastTrim) > time.Hour {
			lastTrim = now
			h.trim(now)
		}
	}
}

// deliver makes one attempt at the event stored under key.
func (h *hooks) deliver(key []byte, e hookEntry) {
	now := h.s.now()
	p, ok := h.s.platforms.Find(e.Platform)
	if !ok || p.Webhook == nil || !p.Revoked.IsZero() {
		h.drop(key) // no longer wanted: the webhook was removed
		return
	}
	kind, data, wait := h.event(e, p)
	switch {
	case wait > 0:
		h.reschedule(key, e, now.Add(wait), false, "")
		return
	case kind == "":
		h.drop(key) // the record was never acknowledged (or gets no trusted time): nothing to tell
		return
	}
	if kind == view.EventTimestamped && e.Attempts == 0 {
		// The retry period runs from the first attempt, not from the
		// submission: the wait for trusted time (a TSA down for a day) is
		// not the platform's failure.
		e.First = now
	}
	body, _ := json.Marshal(view.WebhookEvent{Type: kind, Timestamp: now.UTC().Format(time.RFC3339), Data: data})
	status, err := h.post(p.Webhook, e.ID, now, body)
	e.Attempts++
	d := Delivery{WebhookID: e.ID, Type: kind, Record: e.Record, At: now.UTC().Format(time.RFC3339Nano), Attempt: e.Attempts, HTTPStatus: status}
	if err == nil {
		d.Delivered = true
		var b store.Batch
		b.Delete(key)
		b.Set(h.logKey(e.Platform, now, e.ID), mustJSON(d))
		if werr := h.s.db.Write(&b); werr != nil {
			h.s.logger.Error("webhooks: recording a delivery failed", "component", "webhooks", "webhook_id", e.ID, "err", werr)
		}
		h.s.metrics.webhooks.WithLabelValues("delivered").Inc()
		h.mu.Lock()
		outage := h.failed[e.Platform] >= 3
		delete(h.failed, e.Platform)
		h.mu.Unlock()
		if outage {
			// The endpoint is back after an outage: what waits in backoff
			// for it goes now, not hours later.
			h.pullIn(e.Platform, now)
		}
		return
	}
	h.mu.Lock()
	h.failed[e.Platform]++
	streak := h.failed[e.Platform]
	h.mu.Unlock()
	d.Error = err.Error()
	h.s.metrics.webhooks.WithLabelValues("failed").Inc()
	if now.Sub(e.First) > hookRetryFor {
		d.Parked = true
		h.reschedule(key, e, time.Time{}, true, d.Error)
	} else {
		// Back off by the event's own failures, but no longer than the
		// endpoint's current streak of failures: an endpoint that accepts
		// other deliveries gets a refused one again soon.
		next := now.Add(backoff(min(e.Attempts, streak)))
		d.NextAttempt = next.UTC().Format(time.RFC3339)
		h.reschedule(key, e, next, false, d.Error)
	}
	h.s.db.Set(h.logKey(e.Platform, now, e.ID), mustJSON(d))
}

// event decides what to tell of e's record now: the event type and its
// data, or how long to wait before deciding (still queued), or "" for
// nothing at all (never acknowledged).
func (h *hooks) event(e hookEntry, p platform.Platform) (string, any, time.Duration) {
	id, err := evidence.ParseID(e.Record)
	if err != nil {
		return "", nil, 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := h.s.ReceiptFor(ctx, id, p)
	switch {
	case err == nil && e.Type == view.EventTimestamped:
		switch rc.TrustedTime() {
		case verifier.TrustedStamped:
			return e.Type, rc, 0
		case verifier.TrustedPending:
			// Asked again every tenth of the wait so far, between 1 s and
			// 10 minutes: soon after a token arrives, cheap during a long
			// TSA outage.
			return "", nil, min(max(time.Second, h.s.now().Sub(e.First)/10), 10*time.Minute)
		}
		return "", nil, 0 // the node asks no TSA for this block (no longer)
	case err == nil:
		return view.EventCommitted, rc, 0
	case errors.Is(err, ErrPending):
		return "", nil, time.Second
	case errors.Is(err, ErrNotFound):
		if why, ferr := h.s.db.Get(key(prefFailed, id[:])); ferr == nil {
			return view.EventFailed, map[string]string{"id": e.Record, "reason": string(why)}, 0
		}
		if h.s.now().Sub(e.First) > hookGone {
			return "", nil, 0
		}
		return "", nil, 5 * time.Second
	}
	return "", nil, 10 * time.Second // the ledger cannot answer now
}

func (h *hooks) post(w *platform.Webhook, id string, now time.Time, body []byte) (int, error) {
	ts := now.Unix()
	sig, err := view.SignWebhook(w.Secret, id, ts, body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequest(http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "evidence-node-webhooks/1")
	req.Header.Set(view.HeaderWebhookID, id)
	req.Header.Set(view.HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(view.HeaderWebhookSignature, sig)
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxHookResponse))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the platform answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// reschedule moves the event from key to its next due time, or parks it.
func (h *hooks) reschedule(key []byte, e hookEntry, due time.Time, park bool, lastErr string) {
	e.Last = lastErr
	var b store.Batch
	b.Delete(key)
	if park {
		b.Set(append(append([]byte(nil), prefHookParked...), e.ID...), mustJSON(e))
	} else {
		b.Set(dueKey(due, e.ID), mustJSON(e))
	}
	if err := h.s.db.Write(&b); err != nil {
		h.s.logger.Error("webhooks: rescheduling an event failed", "component", "webhooks", "webhook_id", e.ID, "err", err)
	}
}

// pullIn makes every event of platformName due now.
func (h *hooks) pullIn(platformName string, now time.Time) {
	type moved struct {
		key []byte
		e   hookEntry
	}
	var ms []moved
	soon := binary.BigEndian.AppendUint64(append([]byte(nil), prefHookDue...), uint64(now.Add(time.Second).UnixMilli()))
	h.s.db.Scan(prefHookDue, soon, func(k, v []byte) (bool, error) {
		var e hookEntry
		if json.Unmarshal(v, &e) == nil && e.Platform == platformName {
			ms = append(ms, moved{append([]byte(nil), k...), e})
		}
		return len(ms) < 10000, nil
	})
	var b store.Batch
	for _, m := range ms {
		b.Delete(m.key)
		b.Set(dueKey(now, m.e.ID), mustJSON(m.e))
	}
	if b.Len() > 0 {
		if err := h.s.db.Write(&b); err != nil {
			h.s.logger.Error("webhooks: bringing events forward failed", "component", "webhooks", "events", len(ms), "platform", platformName, "err", err)
		}
		h.kick()
	}
}

func (h *hooks) drop(key []byte) {
	var b store.Batch
	b.Delete(key)
	if err := h.s.db.Write(&b); err != nil {
		h.s.logger.Error("webhooks: dropping an event failed", "component", "webhooks", "err", err)
	}
}

func (h *hooks) logKey(platformName string, at time.Time, id string) []byte {
	k := key(prefHookLog, []byte(platformName), nil)
	k = binary.BigEndian.AppendUint64(k, ^uint64(at.UnixNano()))
	return append(k, id...)
}

// trim drops delivery records older than hookLogKeep.
func (h *hooks) trim(now time.Time) {
	var b store.Batch
	cut := ^uint64(now.Add(-hookLogKeep).UnixNano())
	h.s.db.Scan(prefHookLog, nil, func(k, _ []byte) (bool, error) {
		i := bytes.IndexByte(k[len(prefHookLog):], 0)
		if i < 0 || len(k) < len(prefHookLog)+i+1+8 {
			return true, nil
		}
		if binary.BigEndian.Uint64(k[len(prefHookLog)+i+1:]) > cut {
			b.Delete(append([]byte(nil), k...))
		}
		return b.Len() < store.BulkOps, nil
	})
	if b.Len() > 0 {
		h.s.db.Write(&b)
	}
}

// backoff is the wait before attempt n+1: 1 s doubling to an hour, ±10 %.
func backoff(n int) time.Duration {
	d := time.Second << min(n-1, 12)
	d = min(d, hookMaxBackoff)
	return d + time.Duration((rand.Float64()-0.5)*0.2*float64(d))
}

// mustJSON encodes the node's own webhook state (plain structs of strings,
// numbers and times, which always encode); a failure is a programming
// error, so it panics rather than store an empty value.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("webhook: encoding %T: %v", v, err))
	}
	return b
}

// Deliveries returns p's most recent delivery attempts, newest first.
func (s *Service) Deliveries(p platform.Platform, limit int) ([]Delivery, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	out := []Delivery{}
	err := s.db.Scan(key(prefHookLog, []byte(p.Name), nil), nil, func(_, v []byte) (bool, error) {
		var d Delivery
		if json.Unmarshal(v, &d) == nil {
			out = append(out, d)
		}
		return len(out) < limit, nil
	})
	return out, err
}

// ErrNoDelivery: no event of that webhook-id for the platform.
var ErrNoDelivery = fmt.Errorf("%w: no such webhook delivery", ErrNotFound)

// Redeliver queues the event webhookID of p again, now, as it was (a
// parked one too): the platform gets it once more under the same
// webhook-id.
func (s *Service) Redeliver(p platform.Platform, webhookID string) error {
	if p.Webhook == nil {
		return fmt.Errorf("%w: the platform has no webhook (evidencectl platform webhook)", ErrInvalid)
	}
	record, ts := "", ""
	if r, ok := strings.CutSuffix(webhookID, "_ts"); ok {
		record, ts = r, view.EventTimestamped
	} else {
		record = webhookID
	}
	record, ok := strings.CutPrefix(record, "msg_")
	if !ok {
		return ErrNoDelivery
	}
	id, err := evidence.ParseID(record)
	if err != nil {
		return ErrNoDelivery
	}
	rc, err := s.ledger.Receipt(context.Background(), id)
	if err == nil && rc.Platform != p.Name {
		return ErrNoDelivery
	}
	if err != nil {
		if _, ferr := s.db.Get(key(prefFailed, id[:])); ferr != nil {
			return ErrNoDelivery
		}
	}
	var b store.Batch
	b.Delete(append(append([]byte(nil), prefHookParked...), webhookID...))
	e := hookEntry{ID: webhookID, Platform: p.Name, Record: record, Type: ts, First: s.now().UTC()}
	b.Set(dueKey(s.now(), webhookID), mustJSON(e))
	if err := s.db.Write(&b); err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	s.hooks.kick()
	return nil
}
