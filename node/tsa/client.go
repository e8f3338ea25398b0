// Package tsa gets trusted timestamps for the node's blocks: RFC 3161
// tokens from independent time-stamping authorities (TSAs), fetched in
// the background and kept in the node's store, never on the commit path.
//
// After a block is sealed (embedded: Stamper.StageEmbedded adds the
// request to the block's own index batch, so it is durable with the block)
// or a batch transaction committed (Fabric: Stamper.AddFabric), one request
// per configured TSA waits in a durable queue in the store (key prefix
// "T/"). A fetcher per TSA sends them, a few at a time, with a nonce and
// certReq; it checks every token with the verifier's own check
// (verifier.VerifyToken, against the node's TSA roots) before it stores
// it; a failure (the TSA down, an error answer, a token that does not
// verify) is counted and retried with exponential backoff. The queue
// survives restarts and kill -9: a fetcher resumes where it stopped.
// Stamp puts the tokens held into receipts (verifier.Receipt.WithTimestamps).
//
// Request and response encoding is github.com/digitorus/timestamp.
package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"

	"github.com/evidence-node/evidence-node/verifier"
)

// Reasons a request for a token fails (RequestError.Reason): the metric
// label of evidence_timestamp_errors_total.
const (
	ReasonUnreachable = "unreachable" // no HTTP answer (connection refused, timeout)
	ReasonHTTP        = "http"        // an HTTP status other than 200, or not a timestamp reply
	ReasonRejected    = "rejected"    // the TSA answered with a PKIStatus other than granted
	ReasonInvalid     = "invalid"     // the answer does not parse, or the token does not verify
)

// maxResponse bounds a TSA's answer.
const maxResponse = verifier.MaxTokenSize + 4096

// RequestError is a failed request for a token to one TSA.
type RequestError struct {
	TSA    string // the TSA's URL
	Reason string // ReasonUnreachable, ReasonHTTP, ReasonRejected or ReasonInvalid
	Err    error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("tsa %s: %s: %v", e.TSA, e.Reason, e.Err)
}
func (e *RequestError) Unwrap() error { return e.Err }

// ErrNonce means a token does not carry the nonce of its request.
var ErrNonce = errors.New("the token's nonce is not the request's")

// Client asks one TSA for tokens over RFC 3161's HTTP transport (RFC 3161
// §3.4: POST application/timestamp-query, answer
// application/timestamp-reply).
type Client struct {
	url   string
	http  *http.Client
	roots verifier.TSARoots
}

// NewClient returns a client of the TSA at url whose tokens must verify
// against roots (nil hc: a client with a 10 s timeout).
func NewClient(url string, roots verifier.TSARoots, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	return &Client{url: url, http: hc, roots: roots}
}

// URL is the TSA's URL.
func (c *Client) URL() string { return c.url }

// Stamp asks for a token whose imprint is the SHA-256 of message, with a
// random 64-bit nonce and certReq set, and returns it as a receipt's
// timestamp once it verifies for message against the client's roots
// (verifier.VerifyToken) and carries the nonce. Errors are *RequestError.
func (c *Client) Stamp(ctx context.Context, message []byte) (verifier.Timestamp, error) {
	fail := func(reason string, err error) (verifier.Timestamp, error) {
		return verifier.Timestamp{}, &RequestError{TSA: c.url, Reason: reason, Err: err}
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return fail(ReasonInvalid, err)
	}
	imprint := sha256.Sum256(message)
	req := &timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: imprint[:], Nonce: nonce, Certificates: true}
	der, err := req.Marshal()
	if err != nil {
		return fail(ReasonInvalid, err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(der))
	if err != nil {
		return fail(ReasonInvalid, err)
	}
	hreq.Header.Set("Content-Type", "application/timestamp-query")
	resp, err := c.http.Do(hreq)
	if err != nil {
		return fail(ReasonUnreachable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fail(ReasonUnreachable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fail(ReasonHTTP, fmt.Errorf("%s: %.200s", resp.Status, body))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/timestamp-reply" {
		return fail(ReasonHTTP, fmt.Errorf("Content-Type %q, not application/timestamp-reply", ct))
	}
	if len(body) > maxResponse {
		return fail(ReasonInvalid, fmt.Errorf("an answer of more than %d bytes", maxResponse))
	}
	st, token, err := parseResponse(body)
	if err != nil {
		return fail(ReasonInvalid, err)
	}
	if st > 1 { // neither granted (0) nor grantedWithMods (1)
		_, err := timestamp.ParseResponse(body) // its error names the status and failure
		return fail(ReasonRejected, fmt.Errorf("PKIStatus %d: %v", st, err))
	}
	tok, err := verifier.VerifyToken(token, message, c.roots)
	if err != nil {
		return fail(ReasonInvalid, err)
	}
	if tok.Nonce == nil || tok.Nonce.Cmp(nonce) != 0 {
		return fail(ReasonInvalid, ErrNonce)
	}
	return verifier.Timestamp{Kind: verifier.TimestampRFC3161, TSA: tok.TSA(), GenTime: verifier.FormatTime(tok.GenTime), Token: token}, nil
}

// parseResponse reads a DER TimeStampResp (RFC 3161 §2.4.2): its
// PKIStatus and its TimeStampToken (nil when absent). The token is checked
// by verifier.VerifyToken.
func parseResponse(der []byte) (int, []byte, error) {
	var resp struct {
		Status asn1.RawValue
		Token  asn1.RawValue `asn1:"optional"`
	}
	if rest, err := asn1.Unmarshal(der, &resp); err != nil || len(rest) > 0 {
		return 0, nil, fmt.Errorf("not a TimeStampResp: %v", err)
	}
	var st struct {
		Status int
		Text   asn1.RawValue  `asn1:"optional"`
		Fail   asn1.BitString `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(resp.Status.FullBytes, &st); err != nil {
		return 0, nil, fmt.Errorf("not a PKIStatusInfo: %v", err)
	}
	if st.Status <= 1 && len(resp.Token.FullBytes) == 0 {
		return st.Status, nil, errors.New("granted, but no token")
	}
	return st.Status, resp.Token.FullBytes, nil
}
