package view

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestWebhookSignature: the Standard Webhooks test vector, and what
// VerifyWebhook refuses.
func TestWebhookSignature(t *testing.T) {
	// From the Standard Webhooks specification's examples.
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	id, ts := "msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330)
	body := []byte(`{"test": 2432232314}`)
	sig, err := SignWebhook(secret, id, ts, body)
	if err != nil || sig != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Fatalf("signature %q, %v", sig, err)
	}
	h := http.Header{}
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderWebhookSignature, "v1,bm90IGl0 "+sig)
	at := time.Unix(ts, 0).Add(time.Minute)
	if got, err := VerifyWebhook(secret, h, body, 5*time.Minute, at); err != nil || got != id {
		t.Fatalf("a good delivery: %q %v", got, err)
	}
	if _, err := VerifyWebhook(secret, h, []byte(`{"test": 2432232315}`), 5*time.Minute, at); !errors.Is(err, ErrWebhookSignature) {
		t.Errorf("another body: %v", err)
	}
	if _, err := VerifyWebhook("whsec_"+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", h, body, 5*time.Minute, at); !errors.Is(err, ErrWebhookSignature) {
		t.Errorf("another secret: %v", err)
	}
	if _, err := VerifyWebhook(secret, h, body, 5*time.Minute, at.Add(time.Hour)); !errors.Is(err, ErrWebhookStale) {
		t.Errorf("an old delivery replayed: %v", err)
	}
	h.Del(HeaderWebhookID)
	if _, err := VerifyWebhook(secret, h, body, 5*time.Minute, at); !errors.Is(err, ErrWebhookSignature) {
		t.Errorf("no webhook-id: %v", err)
	}
}
