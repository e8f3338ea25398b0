package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// Found is one page of the records holding a digest (Lookup).
type Found struct {
	IDs      []string  `json:"ids"`
	Receipts []Receipt `json:"receipts"`
	// NextCursor, when not empty, is the cursor of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Lookup finds the records holding digest d (GET /api/v1/evidence?digest=…),
// limit at a time (0: the node's default page), from cursor (empty: the
// first page; else an earlier page's NextCursor). A digest nobody recorded
// gives an empty page, not an error.
func (c *Client) Lookup(ctx context.Context, d evidence.Digest, limit int, cursor string) (Found, error) {
	q := url.Values{"digest": {d.Hex()}, "algorithm": {string(d.Algorithm)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var f Found
	err := c.call(ctx, request{method: http.MethodGet, path: "/api/v1/evidence?" + q.Encode(), idempotent: true}, &f)
	return f, err
}

// VerifyRecord checks the record of an ID alone (GET /api/v1/verify?id=…):
// on_ledger and proof_intact; digest_match is not made, and the verdict is
// never pass (outcome "no_content" when the record holds).
func (c *Client) VerifyRecord(ctx context.Context, id string) (Verification, error) {
	var v Verification
	err := c.call(ctx, request{method: http.MethodGet, path: "/api/v1/verify?id=" + url.QueryEscape(id), idempotent: true}, &v)
	return v, err
}
