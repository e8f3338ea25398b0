// Package client is the Go client of the evidence node's HTTP API, for
// signing platforms and auditors: every endpoint of docs/openapi.yaml, with
// typed errors and safe retries. It depends only on the verifier and the
// node's receipt view (node/view), so it pulls neither the server nor its
// storage into a program.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"strconv"
	"strings"
	"time"

	"github.com/evidence-node/evidence-node/node/view"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
)

// Client talks to one node.
type Client struct {
	base    string
	key     string
	http    *http.Client
	retries int
	backoff time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithKey sets the platform API key sent as a bearer token.
func WithKey(key string) Option { return func(c *Client) { c.key = key } }

// WithHTTPClient replaces the HTTP client.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRetries retries a call up to n more times when the node cannot be
// reached or answers 429, 502, 503 or 504, waiting base, then twice as
// long each time (or the node's Retry-After). Submissions are retried
// under one Idempotency-Key (made up when the caller gave none), so a
// retry never records twice. Default: 2 retries from 200ms; 0 disables.
func WithRetries(n int, base time.Duration) Option {
	return func(c *Client) { c.retries, c.backoff = n, base }
}

// New returns a client for the node at base (e.g. http://127.0.0.1:8080).
func New(base string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(base, "/"), retries: 2, backoff: 200 * time.Millisecond, http: &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
		},
		// Redirects are not part of the API: report them, never follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Error codes of the API (docs/openapi.yaml), matched by errors.Is against
// an *APIError: errors.Is(err, client.ErrNotFound).
var (
	ErrBadRequest          = codeError("bad_request")
	ErrIDChecksum          = codeError("id_checksum")
	ErrIDInvalid           = codeError("id_invalid")
	ErrUnauthorized        = codeError("unauthorized")
	ErrNotFound            = codeError("not_found")
	ErrTooLarge            = codeError("too_large")
	ErrQuotaExceeded       = codeError("quota_exceeded")
	ErrConflict            = codeError("conflict")
	ErrIdempotencyMismatch = codeError("idempotency_mismatch")
	ErrUnsupportedMedia    = codeError("unsupported_media_type")
	ErrMethodNotAllowed    = codeError("method_not_allowed")
	ErrLedgerUnavailable   = codeError("ledger_unavailable")
	ErrInternal            = codeError("internal")
)

// codeError is an API error code as a sentinel.
type codeError string

func (e codeError) Error() string { return "node error " + string(e) }

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

// Is matches the sentinel of the error's code (ErrNotFound, …).
func (e *APIError) Is(target error) bool {
	c, ok := target.(codeError)
	return ok && string(c) == e.Code
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

// Receipt is a receipt as the node shows it: with the node's inspection
// of the content, and the private metadata when the submitting platform
// asks for it.
type Receipt = view.Receipt

// Submission is one item of a JSON submission.
type Submission struct {
	Type      string          `json:"type,omitempty"`
	Algorithm string          `json:"algorithm,omitempty"`
	Digest    string          `json:"digest,omitempty"`
	Text      *string         `json:"text,omitempty"`
	DocRef    string          `json:"doc_ref,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// request is one API call; body makes a fresh body for every attempt.
type request struct {
	method, path string
	header       http.Header
	body         func() (io.Reader, error)
	// idempotent: safe to retry (reads, and writes under an
	// Idempotency-Key).
	idempotent bool
}

// response is a successful answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// maxAnswer bounds what the client reads of an answer (packages are the
// largest: up to the 32 MiB original plus the certificate).
const maxAnswer = 256 << 20

func (c *Client) do(ctx context.Context, r request) (response, error) {
	delay := c.backoff
	for attempt := 0; ; attempt++ {
		res, err, wait := c.once(ctx, r)
		if err == nil || !r.idempotent || attempt >= c.retries || wait < 0 {
			return res, err
		}
		if wait == 0 {
			wait = delay
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return res, err
		}
		delay *= 2
	}
}

// once makes one attempt; wait is how long to wait before a retry makes
// sense (0: the client's backoff; negative: never retry this answer).
func (c *Client) once(ctx context.Context, r request) (response, error, time.Duration) {
	var body io.Reader
	if r.body != nil {
		b, err := r.body()
		if err != nil {
			return response{}, err, -1
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		if cl, ok := body.(io.Closer); ok {
			cl.Close()
		}
		return response{}, err, -1
	}
	if fb, ok := body.(fileBody); ok && fb.n >= 0 {
		req.ContentLength = fb.n
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return response{}, err, -1
		}
		return response{}, err, 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return response{}, err, 0
	}
	if len(b) > maxAnswer {
		return response{}, fmt.Errorf("the node's answer is larger than %d bytes", maxAnswer), -1
	}
	res := response{status: resp.StatusCode, header: resp.Header, body: b}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return res, &APIError{Status: resp.StatusCode, Code: "http_" + strconv.Itoa(resp.StatusCode),
			Message: "the node answered with a redirect to " + resp.Header.Get("Location") + "; use that URL as the node's address"}, -1
	case resp.StatusCode >= 400:
		wait := time.Duration(-1)
		switch resp.StatusCode {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			wait = 0
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 && s < 60 {
				wait = time.Duration(s) * time.Second
			}
		}
		return res, apiError(resp.StatusCode, b), wait
	case resp.StatusCode == http.StatusAccepted:
		return res, pending(b), -1
	}
	return res, nil, 0
}

// AnswerError is the error a call returns for an answer of status with
// body b: an *APIError for 4xx and 5xx, a *PendingError for 202, nil for
// any other 2xx. (The client reports a redirect itself, naming its
// Location.) For callers that make requests of their own, such as a load
// generator.
func AnswerError(status int, b []byte) error {
	switch {
	case status >= 400:
		return apiError(status, b)
	case status == http.StatusAccepted:
		return pending(b)
	case status < 200 || status >= 300:
		return &APIError{Status: status, Code: "http_" + strconv.Itoa(status), Message: strings.TrimSpace(string(b))}
	}
	return nil
}

// pending reads a 202 answer.
func pending(b []byte) *PendingError {
	var p struct {
		ID  string   `json:"id"`
		IDs []string `json:"ids"`
	}
	json.Unmarshal(b, &p)
	if p.ID != "" {
		p.IDs = []string{p.ID}
	}
	return &PendingError{IDs: p.IDs}
}

func apiError(status int, b []byte) *APIError {
	var eb struct {
		Error struct {
			Code, Message string
			MessageZH     string `json:"message_zh"`
		} `json:"error"`
	}
	if json.Unmarshal(b, &eb) != nil || eb.Error.Code == "" {
		return &APIError{Status: status, Code: "http_" + strconv.Itoa(status), Message: strings.TrimSpace(string(b))}
	}
	return &APIError{Status: status, Code: eb.Error.Code, Message: eb.Error.Message, MessageZH: eb.Error.MessageZH}
}

// call makes a request and decodes a JSON answer into out (if not nil).
func (c *Client) call(ctx context.Context, r request, out any) error {
	res, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(res.body, out); err != nil {
			return fmt.Errorf("decoding the node's answer to %s %s: %w", r.method, r.path, err)
		}
	}
	return nil
}

func jsonRequest(method, path string, v any) request {
	b, _ := json.Marshal(v)
	return request{method: method, path: path, header: http.Header{"Content-Type": {"application/json"}},
		body: func() (io.Reader, error) { return bytes.NewReader(b), nil }}
}

// submission is a write under an Idempotency-Key: the caller's, or one
// made up here when retries are on, so that retrying is safe.
func (c *Client) submission(r request, key string) request {
	if key == "" && c.retries > 0 {
		var b [16]byte
		rand.Read(b[:])
		key = "client-" + hex.EncodeToString(b[:])
	}
	if key != "" {
		r.header.Set("Idempotency-Key", key)
		r.idempotent = true
	}
	return r
}

func evidencePath(id string, rest ...string) string {
	p := "/api/v1/evidence/" + url.PathEscape(id)
	for _, s := range rest {
		p += "/" + s
	}
	return p
}

// SubmitOptions are optional fields of a submission.
type SubmitOptions struct {
	Algorithm      string
	DocRef         string
	Metadata       json.RawMessage
	IdempotencyKey string
}

// Submit sends one JSON submission (a digest or a text).
func (c *Client) Submit(ctx context.Context, s Submission, idempotencyKey string) (Receipt, error) {
	var rc Receipt
	err := c.call(ctx, c.submission(jsonRequest(http.MethodPost, "/api/v1/evidence", s), idempotencyKey), &rc)
	return rc, err
}

// SubmitBatch sends up to 1000 submissions in one request.
func (c *Client) SubmitBatch(ctx context.Context, items []Submission, idempotencyKey string) ([]Receipt, error) {
	return submitBatch[Receipt](ctx, c, items, idempotencyKey)
}

func submitBatch[T any](ctx context.Context, c *Client, items []Submission, idempotencyKey string) ([]T, error) {
	r := c.submission(jsonRequest(http.MethodPost, "/api/v1/evidence/batch", struct {
		Items []Submission `json:"items"`
	}{items}), idempotencyKey)
	var out struct {
		Receipts []T `json:"receipts"`
	}
	err := c.call(ctx, r, &out)
	return out.Receipts, err
}

// multipartFile streams fields, then the file at path as part "file".
// A regular file's upload has its length known up front (Content-Length:
// the node keeps the connection after a body it read to its end, and
// closes it after a chunked one); anything else (a pipe, a device) is
// sent chunked, to its end.
func multipartFile(path string, fields [][2]string) (func() (io.Reader, error), string) {
	boundary := multipart.NewWriter(nil).Boundary()
	return func() (io.Reader, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		var head, tail bytes.Buffer
		mw := multipart.NewWriter(&head)
		mw.SetBoundary(boundary)
		for _, kv := range fields {
			if kv[1] != "" {
				mw.WriteField(kv[0], kv[1]) // into a buffer: no error
			}
		}
		mw.CreateFormFile("file", filepath.Base(path))
		end := multipart.NewWriter(&tail)
		end.SetBoundary(boundary)
		end.Close() // the closing boundary alone
		if !st.Mode().IsRegular() {
			return fileBody{Reader: io.MultiReader(&head, f, &tail), Closer: f, n: -1}, nil
		}
		n := int64(head.Len()) + st.Size() + int64(tail.Len())
		return fileBody{Reader: io.MultiReader(&head, &exactFile{f: f, left: st.Size()}, &tail), Closer: f, n: n}, nil
	}, "multipart/form-data; boundary=" + boundary
}

// fileBody is a request body that closes its file once sent, n bytes
// long (-1: not known before it is read, sent chunked).
type fileBody struct {
	io.Reader
	io.Closer
	n int64
}

// exactFile reads the left bytes of f that its stat promised, and fails
// if f ends sooner or holds more: a file that changed while it was sent
// is not the file.
type exactFile struct {
	f    *os.File
	left int64
}

// errFileChanged means an uploaded file changed size while it was sent.
var errFileChanged = errors.New("client: the file changed size while it was being sent")

func (e *exactFile) Read(p []byte) (int, error) {
	if e.left == 0 {
		var one [1]byte
		if n, _ := e.f.Read(one[:]); n > 0 {
			return 0, errFileChanged
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.f.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = errFileChanged
	}
	return n, err
}

// UploadFile streams a file to the node as multipart/form-data; the node
// hashes it (SHA-256 and SM3) as it arrives, and inspects a PDF.
func (c *Client) UploadFile(ctx context.Context, path string, o SubmitOptions) (Receipt, error) {
	if _, err := os.Stat(path); err != nil {
		return Receipt{}, err
	}
	body, ct := multipartFile(path, [][2]string{{"algorithm", o.Algorithm}, {"doc_ref", o.DocRef}, {"metadata", string(o.Metadata)}})
	r := c.submission(request{method: http.MethodPost, path: "/api/v1/evidence", header: http.Header{"Content-Type": {ct}}, body: body}, o.IdempotencyKey)
	var rc Receipt
	err := c.call(ctx, r, &rc)
	return rc, err
}

// Get returns the receipt for an ID (with private metadata if this
// client's key belongs to the submitting platform).
func (c *Client) Get(ctx context.Context, id string) (Receipt, error) {
	var rc Receipt
	err := c.call(ctx, request{method: http.MethodGet, path: evidencePath(id), idempotent: true}, &rc)
	return rc, err
}

// Verify asks the node to verify a digest against an ID.
func (c *Client) Verify(ctx context.Context, id string, d evidence.Digest) (Verification, error) {
	r := jsonRequest(http.MethodPost, "/api/v1/verify", map[string]string{"id": id, "algorithm": string(d.Algorithm), "digest": d.Hex()})
	r.idempotent = true
	var v Verification
	err := c.call(ctx, r, &v)
	return v, err
}

// VerifyText asks the node to verify a text against an ID.
func (c *Client) VerifyText(ctx context.Context, id, text string) (Verification, error) {
	r := jsonRequest(http.MethodPost, "/api/v1/verify", map[string]any{"id": id, "text": text})
	r.idempotent = true
	var v Verification
	err := c.call(ctx, r, &v)
	return v, err
}

// VerifyFile hashes a local file here (it never leaves this machine) with
// the algorithm of the record and asks the node to verify the digest.
func (c *Client) VerifyFile(ctx context.Context, id, path string) (Verification, error) {
	alg := evidence.SHA256
	if rc, err := c.Get(ctx, id); err == nil {
		alg = rc.Algorithm
	} else if !errors.Is(err, ErrNotFound) {
		return Verification{}, err
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

// VerifyUpload sends the file itself to the node to verify (multipart
// POST /verify): for when the node should hash it.
func (c *Client) VerifyUpload(ctx context.Context, id, path string) (Verification, error) {
	if _, err := os.Stat(path); err != nil {
		return Verification{}, err
	}
	body, ct := multipartFile(path, [][2]string{{"id", id}})
	var v Verification
	err := c.call(ctx, request{method: http.MethodPost, path: "/api/v1/verify", header: http.Header{"Content-Type": {ct}}, body: body, idempotent: true}, &v)
	return v, err
}

// Document is a PDF the node rendered: a certificate, or an evidence
// package with its fingerprint (证据数字指纹, the hex SHA-256 of the file),
// checked against the one the node announced.
type Document struct {
	PDF         []byte
	Fingerprint string
}

// Certificate downloads the evidence certificate (存证证书) of an ID.
func (c *Client) Certificate(ctx context.Context, id string) (Document, error) {
	return c.document(ctx, request{method: http.MethodGet, path: evidencePath(id, "certificate.pdf"), idempotent: true})
}

// Package downloads the evidence package (电子证据包) of an ID; with
// original set, that file is uploaded and embedded unchanged (the node
// refuses a file without the recorded digest).
func (c *Client) Package(ctx context.Context, id, original string) (Document, error) {
	r := request{method: http.MethodGet, path: evidencePath(id, "package.pdf"), idempotent: true}
	if original != "" {
		if _, err := os.Stat(original); err != nil {
			return Document{}, err
		}
		body, ct := multipartFile(original, nil)
		r.method, r.header, r.body = http.MethodPost, http.Header{"Content-Type": {ct}}, body
	}
	return c.document(ctx, r)
}

// Report verifies a digest against an ID now and downloads the node's
// signed verification report (核验报告) on it: the verdict, the three
// checks with their reasons, what was compared (r.Content, r.FileName and
// r.Size, printed as the caller's statement) and the record's
// coordinates. An unknown ID is reported too; a record still queued is
// a *PendingError.
func (c *Client) Report(ctx context.Context, r view.ReportRequest) (Document, error) {
	req := jsonRequest(http.MethodPost, "/api/v1/verify/report.pdf", r)
	req.idempotent = true
	return c.document(ctx, req)
}

// ErrDamaged means a download's SHA-256 is not the fingerprint the node
// announced.
var ErrDamaged = errors.New("the download is damaged")

func (c *Client) document(ctx context.Context, r request) (Document, error) {
	res, err := c.do(ctx, r)
	if err != nil {
		return Document{}, err
	}
	d := Document{PDF: res.body, Fingerprint: evpkg.Digest(res.body)}
	if want := res.header.Get("X-Evidence-Fingerprint"); want != "" && want != d.Fingerprint {
		return Document{}, fmt.Errorf("%w: its SHA-256 is %s, the node announced %s", ErrDamaged, d.Fingerprint, want)
	}
	return d, nil
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
	err := c.call(ctx, request{method: http.MethodGet, path: "/api/v1/ledger", idempotent: true}, &l)
	return l, err
}

// Block returns GET /blocks/{n} as raw JSON.
func (c *Client) Block(ctx context.Context, n uint64) (json.RawMessage, error) {
	var b json.RawMessage
	err := c.call(ctx, request{method: http.MethodGet, path: fmt.Sprintf("/api/v1/blocks/%d", n), idempotent: true}, &b)
	return b, err
}

// Usage is a platform's use of its quota (GET /platform/usage).
type Usage = view.Usage

// Usage returns the quota use of this client's platform.
func (c *Client) Usage(ctx context.Context) (Usage, error) {
	var u Usage
	err := c.call(ctx, request{method: http.MethodGet, path: "/api/v1/platform/usage", idempotent: true}, &u)
	return u, err
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
	var a Ack
	err := c.call(ctx, c.submission(jsonRequest(http.MethodPost, "/api/v1/evidence", s), idempotencyKey), &a)
	return a, err
}

// SubmitBatchAcks is SubmitBatch returning only the Acks.
func (c *Client) SubmitBatchAcks(ctx context.Context, items []Submission, idempotencyKey string) ([]Ack, error) {
	return submitBatch[Ack](ctx, c, items, idempotencyKey)
}

// Health calls GET /healthz.
func (c *Client) Health(ctx context.Context) error {
	return c.call(ctx, request{method: http.MethodGet, path: "/healthz", idempotent: true}, nil)
}

// Ready calls GET /readyz: nil once the node reaches its ledger.
func (c *Client) Ready(ctx context.Context) error {
	return c.call(ctx, request{method: http.MethodGet, path: "/readyz"}, nil)
}

// Delivery is one webhook delivery attempt.
type Delivery = view.Delivery

// Deliveries lists this platform's recent webhook deliveries, newest
// first.
func (c *Client) Deliveries(ctx context.Context, limit int) ([]Delivery, error) {
	var out struct {
		Deliveries []Delivery `json:"deliveries"`
	}
	err := c.call(ctx, request{method: http.MethodGet, path: fmt.Sprintf("/api/v1/platform/webhook/deliveries?limit=%d", limit), idempotent: true}, &out)
	return out.Deliveries, err
}

// Redeliver queues a webhook event of this platform for delivery again.
func (c *Client) Redeliver(ctx context.Context, webhookID string) error {
	return c.call(ctx, request{method: http.MethodPost, path: "/api/v1/platform/webhook/deliveries/" + url.PathEscape(webhookID) + "/redeliver", idempotent: true}, nil)
}

// VerifyWebhook checks a webhook delivery the node made to this
// platform: the signature under the secret evidencectl platform webhook
// printed, and a timestamp within tolerance of now (5 minutes is usual).
// It returns the webhook-id to de-duplicate deliveries by.
func VerifyWebhook(secret string, h http.Header, body []byte, tolerance time.Duration) (string, error) {
	return view.VerifyWebhook(secret, h, body, tolerance, time.Now())
}
