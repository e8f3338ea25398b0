package web

import (
	"strconv"

	"github.com/gofiber/fiber/v3"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// The public read routes the portal uses besides GET /evidence/{id} and
// POST /verify:
//
//	GET /api/v1/evidence?digest=HEX&algorithm=sha256|sm3[&limit=N][&cursor=C]
//	    every record of a digest (verify without an ID), a page at a time;
//	GET /api/v1/verify?id=ID
//	    the record checked alone (on_ledger, proof_intact); digest_match is
//	    not made and the verdict is never pass. Without a query, GET
//	    /verify stays 405 (verifying content is POST).
//
// Both are public and anonymous, rate-limited per client address like the
// other public routes (classPublic, server.go), and callable from other
// origins.

// LookupResponse is the answer to GET /evidence?digest=….
type LookupResponse struct {
	IDs      []string       `json:"ids"`
	Receipts []node.Receipt `json:"receipts"`
	// NextCursor, when set, asks for the next page (&cursor=…).
	NextCursor string `json:"next_cursor,omitempty"`
}

// queryOnly refuses query parameters other than those named, so that a
// misspelt one is an error rather than silently ignored.
func queryOnly(c fiber.Ctx, names ...string) error {
	var bad string
	for k := range c.Request().URI().QueryArgs().All() {
		known := false
		for _, n := range names {
			known = known || string(k) == n
		}
		if !known && bad == "" {
			bad = string(k)
		}
	}
	if bad != "" {
		return badRequest("unknown query parameter %q", bad)
	}
	return nil
}

// lookup handles GET /evidence?digest=…: the public receipts of every
// record holding the digest. An unknown digest is 200 with none.
func (s *server) lookup(c fiber.Ctx) error {
	if err := queryOnly(c, "digest", "algorithm", "limit", "cursor"); err != nil {
		return err
	}
	raw := c.Query("digest")
	if raw == "" {
		return badRequest("give ?digest=HEX (and &algorithm=sha256 or sm3) to find the records of a digest")
	}
	alg, err := evidence.ParseAlgorithm(c.Query("algorithm"))
	if err != nil {
		return badRequest("%v", err)
	}
	d, err := evidence.ParseDigest(alg, raw)
	if err != nil {
		return badRequest("digest: %v", err)
	}
	limit := 0
	if v := c.Query("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > node.MaxLookup {
			return badRequest("limit %q: want a number from 1 to %d", v, node.MaxLookup)
		}
	}
	f, err := s.svc.Lookup(c.Context(), d, limit, c.Query("cursor"))
	if err != nil {
		return err
	}
	out := LookupResponse{IDs: make([]string, len(f.IDs)), Receipts: f.Receipts, NextCursor: f.Next}
	for i, id := range f.IDs {
		out.IDs[i] = id.String()
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

// verifyRecord handles GET /verify?id=…: the record alone, checked.
func (s *server) verifyRecord(c fiber.Ctx) error {
	if len(c.Request().URI().QueryString()) == 0 {
		return c.Next() // a bare GET /verify: the method is wrong (405)
	}
	if err := queryOnly(c, "id"); err != nil {
		return err
	}
	if c.Query("id") == "" {
		return badRequest("give ?id=EVIDENCE_ID to check a record, or POST /api/v1/verify with the content's digest to verify content")
	}
	id, err := evidence.ParseID(c.Query("id"))
	if err != nil {
		return err
	}
	v, err := s.svc.VerifyRecord(c.Context(), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(v)
}
