package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// Limits on request bodies.
const (
	MaxJSONBody  = 1 << 20  // single submission or verification
	MaxBatchBody = 16 << 20 // batch of up to MaxBatch items
	MaxBatch     = 1000
	MaxText      = 512 << 10 // text evidence, bytes of UTF-8
)

// SubmitRequest is the JSON body of POST /evidence (and one batch item).
type SubmitRequest struct {
	Type      string          `json:"type"`
	Algorithm string          `json:"algorithm,omitempty"`
	Digest    string          `json:"digest,omitempty"`
	Text      *string         `json:"text,omitempty"`
	DocRef    string          `json:"doc_ref,omitempty"`
	Metadata  json.RawMessage `json:"metadata,omitempty"`
}

// BatchRequest is the JSON body of POST /evidence/batch.
type BatchRequest struct {
	Items []SubmitRequest `json:"items"`
}

// VerifyRequest is the JSON body of POST /verify.
type VerifyRequest struct {
	ID        string  `json:"id"`
	Algorithm string  `json:"algorithm,omitempty"`
	Digest    string  `json:"digest,omitempty"`
	Text      *string `json:"text,omitempty"`
}

// decodeStrict decodes one JSON value (strict.Decode: exact member names,
// no unknown or duplicate members, valid UTF-8 throughout, no trailing
// data), answering 400 bad_request with the reason. Invalid UTF-8 is
// refused, never replaced by U+FFFD: a text's digest is of the bytes sent.
func decodeStrict(body []byte, v any) error {
	err := strict.Decode(body, v)
	var se *strict.SyntaxError
	var te *strict.TypeError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, strict.ErrEmpty):
		return badRequest("empty body: send a JSON object")
	case errors.Is(err, strict.ErrTrailing):
		return badRequest("trailing data after the JSON object")
	case errors.Is(err, strict.ErrInvalidUTF8) && errors.As(err, &se):
		return badRequest("the body is not valid UTF-8 (at byte %d): nothing is replaced or normalised, send UTF-8", se.Offset)
	case errors.As(err, &se):
		return badRequest("%v", se)
	case errors.As(err, &te):
		return badRequest("%v", te)
	}
	return badRequest("%v", err)
}

// textDigests hashes a text's exact UTF-8 bytes with both algorithms, the
// primary first.
func textDigests(text string, primary evidence.Algorithm) ([]evidence.Digest, error) {
	if !utf8.ValidString(text) {
		return nil, badRequest("text is not valid UTF-8")
	}
	if len(text) > MaxText {
		return nil, apiErr(413, CodeTooLarge, fmt.Sprintf("text longer than %d bytes; submit it as a file", MaxText), "文本过长，请以文件形式提交")
	}
	return bothDigests([]byte(text), primary), nil
}

func bothDigests(b []byte, primary evidence.Algorithm) []evidence.Digest {
	ds := []evidence.Digest{evidence.Sum(primary, b)}
	for _, a := range evidence.Algorithms() {
		if a != primary {
			ds = append(ds, evidence.Sum(a, b))
		}
	}
	return ds
}

// toSubmission checks a decoded request and makes a node.Submission.
func (r SubmitRequest) toSubmission() (node.Submission, error) {
	alg, err := evidence.ParseAlgorithm(r.Algorithm)
	if err != nil {
		return node.Submission{}, badRequest("%v", err)
	}
	sub := node.Submission{Type: evidence.Type(r.Type), DocRef: r.DocRef}
	if r.Type == "" {
		sub.Type = evidence.File
		if r.Text != nil {
			sub.Type = evidence.Text
		}
	}
	if !sub.Type.Valid() {
		return sub, badRequest("type %q: want \"file\" or \"text\"", r.Type)
	}
	switch {
	case r.Text != nil && r.Digest != "":
		return sub, badRequest("give either text or digest, not both")
	case r.Text != nil:
		if sub.Type != evidence.Text {
			return sub, badRequest("text given with type %q", r.Type)
		}
		if sub.Digests, err = textDigests(*r.Text, alg); err != nil {
			return sub, err
		}
	case r.Digest != "":
		d, err := evidence.ParseDigest(alg, r.Digest)
		if err != nil {
			return sub, badRequest("digest: %v", err)
		}
		sub.Digests = []evidence.Digest{d}
	default:
		return sub, badRequest("give a digest (hex or base64), a text, or upload a file as multipart/form-data")
	}
	if err := evidence.ValidateDocRef(r.DocRef); err != nil {
		return sub, badRequest("doc_ref: %v", err)
	}
	if len(r.Metadata) > node.MaxMetadata {
		return sub, apiErr(413, CodeTooLarge, fmt.Sprintf("metadata larger than %d bytes", node.MaxMetadata), "元数据过大")
	}
	if sub.Metadata, err = node.CompactMetadata(r.Metadata); err != nil {
		return sub, badRequest("%v", err)
	}
	return sub, nil
}

// DecodeSubmit decodes the JSON body of POST /evidence.
func DecodeSubmit(body []byte) (node.Submission, error) {
	var r SubmitRequest
	if err := decodeStrict(body, &r); err != nil {
		return node.Submission{}, err
	}
	return r.toSubmission()
}

// DecodeBatch decodes the JSON body of POST /evidence/batch.
func DecodeBatch(body []byte) ([]node.Submission, error) {
	var r BatchRequest
	if err := decodeStrict(body, &r); err != nil {
		return nil, err
	}
	if len(r.Items) == 0 {
		return nil, badRequest("items is empty")
	}
	if len(r.Items) > MaxBatch {
		return nil, apiErr(413, CodeTooLarge, fmt.Sprintf("%d items; a batch holds at most %d", len(r.Items), MaxBatch), fmt.Sprintf("单批最多 %d 条", MaxBatch))
	}
	subs := make([]node.Submission, len(r.Items))
	for i, it := range r.Items {
		s, err := it.toSubmission()
		if err != nil {
			var ae *Error
			if errors.As(err, &ae) {
				c := *ae
				c.Message = fmt.Sprintf("items[%d]: %s", i, ae.Message)
				c.MessageZH = fmt.Sprintf("第 %d 条：%s", i, ae.MessageZH)
				return nil, &c
			}
			return nil, err
		}
		subs[i] = s
	}
	return subs, nil
}

// DecodeVerify decodes the JSON body of POST /verify.
func DecodeVerify(body []byte) (evidence.ID, []evidence.Digest, error) {
	var r VerifyRequest
	if err := decodeStrict(body, &r); err != nil {
		return evidence.ID{}, nil, err
	}
	id, err := evidence.ParseID(r.ID)
	if err != nil {
		return id, nil, err
	}
	alg, err := evidence.ParseAlgorithm(r.Algorithm)
	if err != nil {
		return id, nil, badRequest("%v", err)
	}
	switch {
	case r.Text != nil && r.Digest != "":
		return id, nil, badRequest("give either text or digest, not both")
	case r.Text != nil:
		ds, err := textDigests(*r.Text, alg)
		return id, ds, err
	case r.Digest != "":
		d, err := evidence.ParseDigest(alg, r.Digest)
		if err != nil {
			return id, nil, badRequest("digest: %v", err)
		}
		return id, []evidence.Digest{d}, nil
	}
	return id, nil, badRequest("give a digest, a text, or upload the file as multipart/form-data")
}
