// Package client is the Go client of the evidence node's HTTP API, for
// signing platforms and auditors. It depends only on the verifier and the
// node's receipt view (node/view), so it pulls neither the server nor its
// storage into a program.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evidence-node/evidence-node/node/view"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Client talks to one node.
type Client struct {
	base string
	key  string
	http *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithKey sets the platform API key sent as a bearer token.
func WithKey(key string) Option { return func(c *Client) { c.key = key } }

// WithHTTPClient replaces the HTTP client.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New returns a client for the node at base (e.g. http://127.0.0.1:8080).
func New(base string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(base, "/"), http: &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
		},
	}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// APIError is an error answer from the node.
type APIError struct {
	Status    int
	Code      string
	Message   string
	MessageZH string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("node answered %d %s: %s", e.Status, e.Code, e.Message)
}

// PendingError is a 202 answer: the node durably queued the records but
// they are not on the ledger yet; Get shows their receipts once they are.
type PendingError struct {
	IDs []string
}

func (e *PendingError) Error() string {
	return fmt.Sprintf("accepted and queued, not yet on the ledger: %s", strings.Join(e.IDs, ", "))
}

// Verification is the node's answer to a verification.
type Verification = verifier.Verification

// Submission is one item of a JSON submission.
type Submission struct {
	Type      string          `json:"type,omitempty"`
	Algorithm string          `json:"algorithm,omitempty"`
	Digest    string          `json:"digest,omitempty"`
	Text      *string         `json:"text,omitempty"`
	DocRef    string          `json:"doc_ref,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// Receipt is a receipt as the node shows it: with the node's inspection
// of the content, and the private metadata when the submitting platform
// asks for it.
type Receipt = view.Receipt

func (c *Client) do(ctx context.Context, method, path string, hdr http.Header, body io.Reader, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 400 {
		var eb struct {
			Error struct {
				Code, Message string
				MessageZH     string `json:"message_zh"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
			return resp.StatusCode, &APIError{Status: resp.StatusCode, Code: "http_" + fmt.Sprint(resp.StatusCode), Message: strings.TrimSpace(string(b))}
		}
		return resp.StatusCode, &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, MessageZH: eb.Error.MessageZH}
	}
	if resp.StatusCode == http.StatusAccepted {
		var p struct {
			ID  string   `json:"id"`
			IDs []string `json:"ids"`
		}
		json.Unmarshal(b, &p)
		if p.ID != "" {
			p.IDs = []string{p.ID}
		}
		return resp.StatusCode, &PendingError{IDs: p.IDs}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decoding the node's answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}

func jsonBody(v any) (io.Reader, http.Header) {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b), http.Header{"Content-Type": {"application/json"}}
}

// SubmitOptions are optional fields of a submission.
type SubmitOptions struct {
	Algorithm      string
	DocRef         string
	Metadata       json.RawMessage
	IdempotencyKey string
}

// Submit sends one JSON submission (a digest or a text).
func (c *Client) Submit(ctx context.Context, s Submission, idempotencyKey string) (verifier.Receipt, error) {
	body, hdr := jsonBody(s)
	if idempotencyKey != "" {
		hdr.Set("Idempotency-Key", idempotencyKey)
	}
	var rc verifier.Receipt
	_, err := c.do(ctx, http.MethodPost, "/api/v1/evidence", hdr, body, &rc)
	return rc, err
}

// SubmitBatch sends up to 1000 submissions in one request.
func (c *Client) SubmitBatch(ctx context.Context, items []Submission, idempotencyKey string) ([]verifier.Receipt, error) {
	return submitBatch[verifier.Receipt](ctx, c, items, idempotencyKey)
}

func submitBatch[T any](ctx context.Context, c *Client, items []Submission, idempotencyKey string) ([]T, error) {
	body, hdr := jsonBody(struct {
		Items []Submission `json:"items"`
	}{items})
	if idempotencyKey != "" {
		hdr.Set("Idempotency-Key", idempotencyKey)
	}
	var out struct {
		Receipts []T `json:"receipts"`
	}
	_, err := c.do(ctx, http.MethodPost, "/api/v1/evidence/batch", hdr, body, &out)
	return out.Receipts, err
}

// UploadFile streams a file to the node as multipart/form-data; the node
// hashes it (SHA-256 and SM3) as it arrives.
func (c *Client) UploadFile(ctx context.Context, path string, o SubmitOptions) (verifier.Receipt, error) {
	f, err := os.Open(path)
	if err != nil {
		return verifier.Receipt{}, err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for k, v := range map[string]string{"algorithm": o.Algorithm, "doc_ref": o.DocRef, "metadata": string(o.Metadata)} {
				if v != "" {
					if err := mw.WriteField(k, v); err != nil {
						return err
					}
				}
			}
			part, err := mw.CreateFormFile("file", filepath.Base(path))
			if err != nil {
				return err
			}
			if _, err := io.CopyBuffer(part, f, make([]byte, 1<<20)); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	hdr := http.Header{"Content-Type": {mw.FormDataContentType()}}
	if o.IdempotencyKey != "" {
		hdr.Set("Idempotency-Key", o.IdempotencyKey)
	}
	var rc verifier.Receipt
	_, err = c.do(ctx, http.MethodPost, "/api/v1/evidence", hdr, pr, &rc)
	pr.Close()
	return rc, err
}

// Get returns the receipt for an ID (with private metadata if this
// client's key belongs to the submitting platform).
func (c *Client) Get(ctx context.Context, id string) (Receipt, error) {
	var rc Receipt
	_, err := c.do(ctx, http.MethodGet, "/api/v1/evidence/"+url.PathEscape(id), nil, nil, &rc)
	return rc, err
}

// Verify asks the node to verify a digest against an ID.
func (c *Client) Verify(ctx context.Context, id string, d evidence.Digest) (Verification, error) {
	body, hdr := jsonBody(map[string]string{"id": id, "algorithm": string(d.Algorithm), "digest": d.Hex()})
	var v Verification
	_, err := c.do(ctx, http.MethodPost, "/api/v1/verify", hdr, body, &v)
	return v, err
}

// VerifyText asks the node to verify a text against an ID.
func (c *Client) VerifyText(ctx context.Context, id, text string) (Verification, error) {
	body, hdr := jsonBody(map[string]any{"id": id, "text": text})
	var v Verification
	_, err := c.do(ctx, http.MethodPost, "/api/v1/verify", hdr, body, &v)
	return v, err
}

// VerifyFile hashes a local file here (it never leaves this machine) with
// the algorithm of the record and asks the node to verify the digest.
func (c *Client) VerifyFile(ctx context.Context, id, path string) (Verification, error) {
	alg := evidence.SHA256
	if rc, err := c.Get(ctx, id); err == nil {
		alg = rc.Algorithm
	} else {
		var ae *APIError
		if !errors.As(err, &ae) || ae.Code != "not_found" {
			return Verification{}, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return Verification{}, err
	}
	defer f.Close()
	ds, _, err := evidence.HashReader(f, alg)
	if err != nil {
		return Verification{}, err
	}
	return c.Verify(ctx, id, ds[0])
}

// Ledger is the node's answer to GET /ledger.
type Ledger struct {
	Name       string          `json:"name"`
	Kind       string          `json:"kind"`
	Height     uint64          `json:"height"`
	TrustRoots json.RawMessage `json:"trust_roots"`
}

// LedgerInfo returns the ledger's name, height and trust roots.
func (c *Client) LedgerInfo(ctx context.Context) (Ledger, error) {
	var l Ledger
	_, err := c.do(ctx, http.MethodGet, "/api/v1/ledger", nil, nil, &l)
	return l, err
}

// Block returns GET /blocks/{n} as raw JSON.
func (c *Client) Block(ctx context.Context, n uint64) (json.RawMessage, error) {
	var b json.RawMessage
	_, err := c.do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/blocks/%d", n), nil, nil, &b)
	return b, err
}

// Ack is the part of a receipt that says where a record landed; decoding
// only it is much cheaper than decoding whole receipts.
type Ack struct {
	ID          string `json:"id"`
	TxID        string `json:"tx_id"`
	BlockNumber uint64 `json:"block_number"`
	BlockHash   string `json:"block_hash"`
	LedgerTime  string `json:"ledger_time"`
	DigestHex   string `json:"digest_hex"`
}

// SubmitAck is Submit returning only the Ack.
func (c *Client) SubmitAck(ctx context.Context, s Submission, idempotencyKey string) (Ack, error) {
	body, hdr := jsonBody(s)
	if idempotencyKey != "" {
		hdr.Set("Idempotency-Key", idempotencyKey)
	}
	var a Ack
	_, err := c.do(ctx, http.MethodPost, "/api/v1/evidence", hdr, body, &a)
	return a, err
}

// SubmitBatchAcks is SubmitBatch returning only the Acks.
func (c *Client) SubmitBatchAcks(ctx context.Context, items []Submission, idempotencyKey string) ([]Ack, error) {
	return submitBatch[Ack](ctx, c, items, idempotencyKey)
}

// Health calls GET /healthz.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/healthz", nil, nil, nil)
	return err
}
