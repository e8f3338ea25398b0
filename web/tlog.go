package web

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v3"
)

// TransparencyLog is what the HTTP surface serves of the node's
// transparency log (*tlog.Log is it): its checkpoint, its tiles
// (c2sp.org/tlog-tiles) and consistency proofs. Errors are node's
// (ErrNotFound, ErrInvalid).
type TransparencyLog interface {
	// CheckpointNote is the latest checkpoint as a signed note, with the
	// witnesses' cosignature lines the node holds for it.
	CheckpointNote() ([]byte, error)
	// Tile is the tile at a tlog-tiles path ("tile/0/x001/234"); full
	// says it is complete (immutable).
	Tile(ctx context.Context, path string) ([]byte, bool, error)
	// Consistency is the RFC 6962 consistency proof between two sizes.
	Consistency(old, new uint64) ([][]byte, error)
}

// ConsistencyView is the answer to GET /api/v1/proof/consistency.
type ConsistencyView struct {
	Old uint64 `json:"old"`
	New uint64 `json:"new"`
	// Proof is the RFC 6962 consistency proof, base64 hashes.
	Proof []string `json:"proof"`
}

var errNoLog = apiErr(http.StatusNotFound, CodeNotFound, "this node keeps no transparency log", "本节点未开启透明日志")

func (s *server) checkpoint(c fiber.Ctx) error {
	if s.tlog == nil {
		return errNoLog
	}
	n, err := s.tlog.CheckpointNote()
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(n)
}

func (s *server) tile(c fiber.Ctx) error {
	if s.tlog == nil {
		return errNoLog
	}
	data, full, err := s.tlog.Tile(c.Context(), "tile/"+c.Params("*"))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEOctetStream)
	if full {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	return c.Send(data)
}

func (s *server) consistency(c fiber.Ctx) error {
	if s.tlog == nil {
		return errNoLog
	}
	size := func(name string) (uint64, error) {
		v := c.Query(name)
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || strconv.FormatUint(n, 10) != v {
			return 0, badRequest("%s=%q: want a tree size, a decimal integer without leading zeros", name, clip(v))
		}
		return n, nil
	}
	old, err := size("old")
	if err != nil {
		return err
	}
	nw, err := size("new")
	if err != nil {
		return err
	}
	p, err := s.tlog.Consistency(old, nw)
	if err != nil {
		return err
	}
	v := ConsistencyView{Old: old, New: nw, Proof: make([]string, len(p))}
	for i, h := range p {
		v.Proof[i] = base64.StdEncoding.EncodeToString(h)
	}
	return c.JSON(v)
}
