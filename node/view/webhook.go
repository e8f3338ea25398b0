package view

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook events the node delivers to a platform (Standard Webhooks).
const (
	EventCommitted   = "evidence.committed"   // the record is on the ledger: data is its receipt
	EventTimestamped = "evidence.timestamped" // trusted time arrived for its block: data is the receipt with it
	EventFailed      = "evidence.failed"      // a queued record can never be committed: data names it and why
)

// WebhookEvent is the body of a delivery.
type WebhookEvent struct {
	Type      string `json:"type"`
	Timestamp string `json:"timestamp"` // RFC 3339, when the event happened
	Data      any    `json:"data"`
}

// Webhook headers (Standard Webhooks).
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// SignWebhook is the "v1,<base64>" signature of a delivery: HMAC-SHA256
// with the secret's key over "<id>.<timestamp>.<body>" (Standard Webhooks).
func SignWebhook(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := webhookKey(secret)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, timestamp)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

func webhookKey(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New("webhook secret must start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < 24 {
		return nil, errors.New("webhook secret: not a base64 key of at least 24 bytes")
	}
	return key, nil
}

// Errors of VerifyWebhook.
var (
	ErrWebhookSignature = errors.New("webhook signature does not verify")
	ErrWebhookStale     = errors.New("webhook timestamp is too far from now")
)

// VerifyWebhook checks a delivery as a platform receives it: one of the
// space-separated "v1,<sig>" signatures in webhook-signature must be the
// HMAC of id, timestamp and body under the secret, and the timestamp
// within tolerance of now (replays of old deliveries are refused). It
// returns the webhook-id, the key to de-duplicate deliveries by.
func VerifyWebhook(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) (string, error) {
	id, ts := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp)
	t, err := strconv.ParseInt(ts, 10, 64)
	if id == "" || err != nil {
		return "", fmt.Errorf("%w: missing %s or %s", ErrWebhookSignature, HeaderWebhookID, HeaderWebhookTimestamp)
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return "", fmt.Errorf("%w: %s", ErrWebhookStale, d.Round(time.Second))
	}
	want, err := SignWebhook(secret, id, t, body)
	if err != nil {
		return "", err
	}
	for _, sig := range strings.Fields(h.Get(HeaderWebhookSignature)) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return id, nil
		}
	}
	return "", ErrWebhookSignature
}

// Delivery is one attempt to deliver an event, as
// GET /api/v1/platform/webhook/deliveries shows it.
type Delivery struct {
	WebhookID  string `json:"webhook_id"`
	Type       string `json:"type"`
	Record     string `json:"record"`
	At         string `json:"at"`
	Attempt    int    `json:"attempt"`
	Delivered  bool   `json:"delivered"`
	HTTPStatus int    `json:"http_status,omitempty"`
	Error      string `json:"error,omitempty"`
	// NextAttempt is when it is tried again; Parked that it no longer is
	// (redeliver it).
	NextAttempt string `json:"next_attempt,omitempty"`
	Parked      bool   `json:"parked,omitempty"`
}
