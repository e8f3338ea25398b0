package web

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v3"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

func (s *server) healthz(c fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

func (s *server) readyz(c fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.Context(), 2*time.Second)
	defer cancel()
	info, err := s.svc.Info(ctx)
	if err != nil {
		return &Error{Status: 503, Code: CodeLedgerUnavailable, Message: "ledger not ready: " + err.Error(), MessageZH: "账本未就绪", Err: err}
	}
	return c.JSON(fiber.Map{"status": "ready", "ledger": info.Name, "kind": info.Kind, "height": info.Height})
}

func idempotencyKey(c fiber.Ctx) (string, error) {
	k := c.Get("Idempotency-Key")
	if len(k) > MaxIdempotencyKey {
		return "", badRequest("Idempotency-Key longer than %d characters", MaxIdempotencyKey)
	}
	return k, nil
}

// submitter returns the platform guard authenticated and the
// Idempotency-Key.
func (s *server) submitter(c fiber.Ctx) (platform.Platform, string, error) {
	p, ok := platformOf(c)
	if !ok {
		return p, "", apiErr(401, CodeUnauthorized, "missing API key: send Authorization: Bearer KEY", "缺少 API 密钥")
	}
	ikey, err := idempotencyKey(c)
	return p, ikey, err
}

// submit handles POST /evidence: multipart upload, hash only, or text.
func (s *server) submit(c fiber.Ctx) error {
	p, ikey, err := s.submitter(c)
	if err != nil {
		return err
	}
	var sub node.Submission
	if isMultipart(c) {
		sub, err = s.readUpload(c)
	} else {
		var b []byte
		if b, err = body(c, MaxJSONBody); err == nil {
			sub, err = DecodeSubmit(b)
		}
	}
	if err != nil {
		return err
	}
	var fp []byte
	if ikey != "" {
		fp = submissionFingerprint(sub)
	}
	rcs, err := s.svc.Submit(c.Context(), p, ikey, fp, []node.Submission{sub})
	if pe := (*node.PendingError)(nil); errors.As(err, &pe) {
		return c.Status(202).JSON(Pending{ID: pe.IDs[0].String(), Status: "pending"})
	}
	if err != nil {
		return err
	}
	return sendReceipt(c, 201, &rcs[0])
}

// Pending is the 202 answer for a submission durably queued in the node
// but not yet on the ledger; GET /evidence/{id} shows the receipt once it
// is.
type Pending struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// BatchPending is the 202 answer to a batch still queued.
type BatchPending struct {
	Status string   `json:"status"`
	IDs    []string `json:"ids"`
}

// BatchResponse is the answer to POST /evidence/batch.
type BatchResponse struct {
	Receipts []node.Receipt `json:"receipts"`
}

func (s *server) submitBatch(c fiber.Ctx) error {
	p, ikey, err := s.submitter(c)
	if err != nil {
		return err
	}
	b, err := body(c, MaxBatchBody)
	if err != nil {
		return err
	}
	subs, err := DecodeBatch(b)
	if err != nil {
		return err
	}
	var fp []byte
	if ikey != "" {
		parts := make([][]byte, len(subs))
		for i, sub := range subs {
			parts[i] = submissionFingerprint(sub)
		}
		fp = fingerprint(parts...)
	}
	rcs, err := s.svc.Submit(c.Context(), p, ikey, fp, subs)
	if pe := (*node.PendingError)(nil); errors.As(err, &pe) {
		ids := make([]string, len(pe.IDs))
		for i, id := range pe.IDs {
			ids[i] = id.String()
		}
		return c.Status(202).JSON(BatchPending{Status: "pending", IDs: ids})
	}
	if err != nil {
		return err
	}
	b = make([]byte, 0, 2048*len(rcs))
	b = append(b, `{"receipts":[`...)
	for i, rc := range rcs {
		if i > 0 {
			b = append(b, ',')
		}
		b = rc.AppendJSON(b)
	}
	return sendJSON(c, 201, append(b, ']', '}'))
}

func submissionFingerprint(sub node.Submission) []byte {
	parts := [][]byte{[]byte(sub.Type), []byte(sub.DocRef), sub.Metadata}
	for _, d := range sub.Digests {
		parts = append(parts, []byte(d.String()))
	}
	return fingerprint(parts...)
}

func isMultipart(c fiber.Ctx) bool {
	return strings.HasPrefix(strings.ToLower(string(c.Request().Header.ContentType())), "multipart/form-data")
}

// upload is what a multipart request carried: what the node learned
// from the file part, and the text fields.
type upload struct {
	node.Content
	fields map[string]string
}

// multipartOptions say how to read a multipart body.
type multipartOptions struct {
	// max is the largest file part (the body may be 1 MiB more).
	max int64
	// beforeFile checks the text fields read so far when the file part
	// starts (so an invalid field is refused before any byte is hashed)
	// and names the file's primary algorithm.
	beforeFile func(fields map[string]string) (evidence.Algorithm, error)
	inspect    bool  // inspect a PDF file part
	keep       int64 // keep a copy of the file part (see node.ReadOptions)
	// named, if set, is told the file part's file name.
	named func(string)
}

// readMultipart streams a multipart body: the part named "file" is hashed
// (SHA-256 and SM3 at once) as it arrives, never held in memory; other
// parts are small text fields, before it.
func (s *server) readMultipart(c fiber.Ctx, mo multipartOptions) (up upload, err error) {
	tooLarge := apiErr(413, CodeTooLarge, fmt.Sprintf("upload larger than %d bytes", mo.max), "上传文件过大")
	if cl := c.Request().Header.ContentLength(); cl > 0 && int64(cl) > mo.max+1<<20 {
		c.Set(fiber.HeaderConnection, "close")
		return up, tooLarge
	}
	_, params, err := mime.ParseMediaType(string(c.Request().Header.ContentType()))
	if err != nil || params["boundary"] == "" {
		return up, badRequest("multipart/form-data without a boundary")
	}
	var r io.Reader = c.Request().BodyStream()
	if r == nil {
		r = bytes.NewReader(c.Body())
	}
	lr := &limitedReader{r: r, n: mo.max + 1<<20}
	mr := multipart.NewReader(lr, params["boundary"])
	up.fields = map[string]string{}
	defer func() {
		if err != nil {
			up.Close()
		}
	}()
	gotFile := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if lr.exceeded {
				return up, tooLarge
			}
			return up, badRequest("malformed multipart body: %v", err)
		}
		name := part.FormName()
		if gotFile && (name == "algorithm" || name == "id") {
			return up, badRequest("the %q field must come before the \"file\" part", name)
		}
		if name == "file" {
			if gotFile {
				return up, badRequest("more than one file part; upload one file per request (use /evidence/batch with digests for many)")
			}
			gotFile = true
			alg, err := mo.beforeFile(up.fields)
			if err != nil {
				return up, err
			}
			if mo.named != nil {
				mo.named(part.FileName())
			}
			o := node.ReadOptions{Primary: alg, Inspect: mo.inspect, Keep: mo.keep}
			if p, ok := platformOf(c); ok {
				o.Platform = p.Name
			}
			content, err := s.svc.ReadContent(c.Context(), part, o)
			up.Content = content
			switch {
			case lr.exceeded || errors.Is(err, node.ErrTooLargeToKeep) || content.Size > mo.max:
				c.Set(fiber.HeaderConnection, "close")
				return up, tooLarge
			case err != nil:
				return up, badRequest("reading the file: %v", err)
			}
			continue
		}
		if len(up.fields) >= 16 {
			return up, badRequest("too many form fields")
		}
		v, err := io.ReadAll(io.LimitReader(part, node.MaxMetadata+1))
		if err != nil {
			return up, badRequest("reading field %q: %v", quote(name), err)
		}
		if len(v) > node.MaxMetadata {
			return up, apiErr(413, CodeTooLarge, fmt.Sprintf("field %q larger than %d bytes", quote(name), node.MaxMetadata), "表单字段过大")
		}
		if !utf8.Valid(v) {
			return up, badRequest("field %q is not valid UTF-8: nothing is replaced or normalised, send UTF-8", name)
		}
		up.fields[name] = string(v)
	}
	// Read to the end of the body (an epilogue, a chunked encoding's last
	// chunk) so the connection can serve the next request; a body that
	// goes on is not read further, and the connection closes.
	if n, err := io.Copy(io.Discard, io.LimitReader(lr, 1<<20)); err != nil || n == 1<<20 {
		c.Set(fiber.HeaderConnection, "close")
		if err != nil && !lr.exceeded {
			return up, badRequest("reading the body: %v", err)
		}
	}
	if !gotFile {
		return up, badRequest(`multipart body has no part named "file"`)
	}
	return up, nil
}

type limitedReader struct {
	r        io.Reader
	n        int64
	exceeded bool
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		l.exceeded = true
		return 0, errors.New("body exceeds the upload limit")
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

func fieldAlgorithm(fields map[string]string) (evidence.Algorithm, error) {
	a, err := evidence.ParseAlgorithm(fields["algorithm"])
	if err != nil {
		return a, badRequest("%v", err)
	}
	return a, nil
}

// fieldID requires a valid evidence ID in field "id" before the file part,
// so that a bad ID is refused before any byte is hashed.
func fieldID(fields map[string]string) (evidence.Algorithm, error) {
	if _, ok := fields["id"]; !ok {
		return "", badRequest(`the "id" field must come before the "file" part`)
	}
	if _, err := evidence.ParseID(fields["id"]); err != nil {
		return "", err
	}
	return evidence.SHA256, nil
}

// readUpload turns a multipart submission into a Submission of type file.
// Fields: file (required), algorithm, doc_ref, metadata (JSON object);
// fields must come before the file part to affect its algorithm.
func (s *server) readUpload(c fiber.Ctx) (node.Submission, error) {
	up, err := s.readMultipart(c, multipartOptions{max: s.maxUpload, beforeFile: fieldAlgorithm, inspect: true})
	if err != nil {
		return node.Submission{}, err
	}
	for k := range up.fields {
		switch k {
		case "algorithm", "doc_ref", "metadata", "type":
		default:
			return node.Submission{}, badRequest("unknown form field %q (want file, algorithm, doc_ref, metadata)", k)
		}
	}
	if t := up.fields["type"]; t != "" && t != string(evidence.File) {
		return node.Submission{}, badRequest("an uploaded file has type \"file\", not %q", t)
	}
	req := SubmitRequest{Type: string(evidence.File), DocRef: up.fields["doc_ref"]}
	if m := up.fields["metadata"]; m != "" {
		req.Metadata = json.RawMessage(m)
	}
	req.Digest = up.Digests[0].Hex()
	req.Algorithm = string(up.Digests[0].Algorithm)
	sub, err := req.toSubmission()
	if err != nil {
		return sub, err
	}
	sub.Digests = up.Digests
	sub.Inspection = up.Inspection
	return sub, nil
}

// get handles GET /evidence/{id}: the public view, plus private metadata
// for the submitting platform.
func (s *server) get(c fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var rc node.Receipt
	if p, ok := platformOf(c); ok {
		rc, err = s.svc.ReceiptFor(c.Context(), id, p)
	} else {
		rc, err = s.svc.Receipt(c.Context(), id)
	}
	if errors.Is(err, node.ErrPending) {
		return c.Status(202).JSON(Pending{ID: id.String(), Status: "pending"})
	}
	if err != nil {
		return err
	}
	return sendReceipt(c, 200, &rc)
}

// verify handles POST /verify: JSON {id, digest | text} or multipart with
// fields id and file.
func (s *server) verify(c fiber.Ctx) error {
	var (
		id  evidence.ID
		ds  []evidence.Digest
		err error
	)
	if isMultipart(c) {
		var up upload
		up, err = s.readMultipart(c, multipartOptions{max: s.maxPublicUpload, beforeFile: fieldID})
		if err != nil {
			return err
		}
		for k := range up.fields {
			if k != "id" {
				return badRequest("unknown form field %q (want id, file)", k)
			}
		}
		if id, err = evidence.ParseID(up.fields["id"]); err != nil {
			return err
		}
		ds = up.Digests
	} else {
		var b []byte
		if b, err = body(c, MaxJSONBody); err != nil {
			return err
		}
		if id, ds, err = DecodeVerify(b); err != nil {
			return err
		}
	}
	v, err := s.svc.Verify(c.Context(), id, ds...)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// BlockView is the answer to GET /blocks/{n}.
type BlockView struct {
	Number       uint64          `json:"number"`
	Hash         string          `json:"hash"`
	PreviousHash string          `json:"previous_hash"`
	DataHash     string          `json:"data_hash"`
	Kind         string          `json:"kind"`
	Records      int             `json:"records"`
	Time         string          `json:"time,omitempty"`
	Block        json.RawMessage `json:"block,omitempty"` // embedded: the block itself
	Raw          []byte          `json:"raw,omitempty"`   // fabric: protobuf bytes (base64)
	// Timestamps is the trusted time the node holds for the block's
	// batches (embedded: one; Fabric: one per evidence transaction), when
	// it has TSAs.
	Timestamps []node.BatchTimestamps `json:"timestamps,omitempty"`
}

func (s *server) block(c fiber.Ctx) error {
	n, err := strconv.ParseUint(c.Params("n"), 10, 64)
	if err != nil {
		return badRequest("block number %q is not a non-negative integer", c.Params("n"))
	}
	b, err := s.svc.Block(c.Context(), n)
	if err != nil {
		return err
	}
	v := BlockView{Number: b.Header.Number, Hash: hex.EncodeToString(b.Header.Hash()),
		PreviousHash: hex.EncodeToString(b.Header.PreviousHash), DataHash: hex.EncodeToString(b.Header.DataHash),
		Kind: b.Kind, Records: b.Records, Time: b.Time, Timestamps: b.Timestamps}
	if b.Kind == block.KindEmbedded {
		v.Block = b.Raw
	} else {
		v.Raw = b.Raw
	}
	return c.JSON(v)
}

// LedgerView is the answer to GET /ledger.
type LedgerView struct {
	Name       string           `json:"name"`
	Kind       string           `json:"kind"`
	Height     uint64           `json:"height"`
	TrustRoots block.TrustRoots `json:"trust_roots"`
	// PublicURL is the node's public base URL (--public-url), the node the
	// portal names; absent when none is configured.
	PublicURL string `json:"public_url,omitempty"`
}

func (s *server) ledger(c fiber.Ctx) error {
	info, err := s.svc.Info(c.Context())
	if err != nil {
		return err
	}
	return c.JSON(LedgerView{Name: info.Name, Kind: info.Kind, Height: info.Height, TrustRoots: info.TrustRoots, PublicURL: s.publicURL})
}

// sendJSON sends JSON already encoded.
// receiptBufs holds buffers for encoding receipts: one per answer would
// be most of a single submission's garbage.
var receiptBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// sendReceipt answers status with rc as JSON, encoded in a pooled buffer
// and copied into the response's own (pooled) body.
func sendReceipt(c fiber.Ctx, status int, rc *node.Receipt) error {
	bp := receiptBufs.Get().(*[]byte)
	b := rc.AppendJSON((*bp)[:0])
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Response().SetBody(b)
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		receiptBufs.Put(bp)
	}
	return nil
}

func sendJSON(c fiber.Ctx, status int, b []byte) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(b)
}

// pathID parses the {id} path parameter (percent-decoded: an ID copied
// with spaces arrives as %20).
func pathID(c fiber.Ctx) (evidence.ID, error) {
	raw := c.Params("id")
	if u, err := url.PathUnescape(raw); err == nil {
		raw = u
	}
	return evidence.ParseID(raw)
}

// usage handles GET /platform/usage: the key's platform's quota use.
func (s *server) usage(c fiber.Ctx) error {
	p, _, err := s.submitter(c)
	if err != nil {
		return err
	}
	u, err := s.svc.Usage(p)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

// quote cuts input quoted in an error message to at most 200 characters.
func quote(s string) string {
	if utf8.RuneCountInString(s) <= 200 {
		return s
	}
	r := []rune(s)
	return string(r[:200]) + "…"
}

// deliveries handles GET /platform/webhook/deliveries: the platform's
// recent webhook delivery attempts, newest first.
func (s *server) deliveries(c fiber.Ctx) error {
	p, _, err := s.submitter(c)
	if err != nil {
		return err
	}
	limit := 100
	if v := c.Query("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
			return badRequest("limit %q: want 1 to 1000", quote(v))
		}
	}
	ds, err := s.svc.Deliveries(p, limit)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"deliveries": ds})
}

// redeliver handles POST /platform/webhook/deliveries/{webhook-id}/redeliver.
func (s *server) redeliver(c fiber.Ctx) error {
	p, _, err := s.submitter(c)
	if err != nil {
		return err
	}
	id := c.Params("wid")
	if len(id) > 64 {
		return badRequest("webhook-id %q is too long", quote(id))
	}
	if err := s.svc.Redeliver(p, id); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"webhook_id": id, "status": "queued"})
}
