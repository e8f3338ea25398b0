package verifier

import (
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/evidence-node/evidence-node/verifier/block"
)

// MarshalJSON writes the receipt as encoding/json would (same keys, same
// order, []byte as base64), without reflection: receipts are the bulk of
// what the node sends, a thousand to a batch answer.
func (r Receipt) MarshalJSON() ([]byte, error) {
	return r.AppendJSON(make([]byte, 0, 2048)), nil
}

// AppendJSON appends the receipt's JSON encoding to b.
func (r Receipt) AppendJSON(b []byte) []byte {
	return append(r.AppendFields(b), '}')
}

// AppendFields appends the receipt's JSON object without its closing
// brace, so that a view of the receipt (the node's, with its own members)
// can add members after the receipt's: b + `{"v":…,"proof":{…}`.
func (r Receipt) AppendFields(b []byte) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.Version), 10)
	b = appendKV(b, "id", r.ID)
	b = appendKV(b, "type", string(r.Type))
	b = appendKV(b, "algorithm", string(r.Algorithm))
	b = appendKV(b, "digest_hex", r.DigestHex)
	b = appendKV(b, "digest_base64", r.DigestBase64)
	b = append(b, `,"digests":`...)
	if r.Digests == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, d := range r.Digests {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"algorithm":`...)
			b = appendString(b, string(d.Algorithm))
			b = appendKV(b, "hex", d.Hex)
			b = appendKV(b, "base64", d.Base64)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendKV(b, "platform", r.Platform)
	if r.DocRef != "" {
		b = appendKV(b, "doc_ref", r.DocRef)
	}
	b = appendKV(b, "submitted_at", r.SubmittedAt)
	b = appendKV(b, "ledger", r.Ledger)
	b = appendKV(b, "ledger_kind", r.LedgerKind)
	b = appendKV(b, "tx_id", r.TxID)
	b = append(b, `,"block_number":`...)
	b = strconv.AppendUint(b, r.BlockNumber, 10)
	b = appendKV(b, "block_hash", r.BlockHash)
	b = appendKV(b, "ledger_time", r.LedgerTime)
	b = appendKV(b, "time_source", r.TimeSource)
	b = append(b, `,"key_ids":`...)
	b = appendStrings(b, r.KeyIDs)
	b = append(b, `,"proof":`...)
	b = r.Proof.appendJSON(b)
	if len(r.Timestamps) > 0 {
		ts, _ := json.Marshal(r.Timestamps)
		b = append(append(b, `,"timestamps":`...), ts...)
	}
	if r.LogProof != "" {
		b = appendKV(b, "log_proof", r.LogProof)
	}
	return b
}

func (p Proof) appendJSON(b []byte) []byte {
	b = append(b, `{"kind":`...)
	b = appendString(b, p.Kind)
	b = append(b, `,"record":`...)
	b = appendBytes(b, p.Record)
	b = append(b, `,"leaf_index":`...)
	b = strconv.AppendUint(b, p.LeafIndex, 10)
	b = append(b, `,"tree_size":`...)
	b = strconv.AppendUint(b, p.TreeSize, 10)
	b = append(b, `,"audit_path":`...)
	if p.AuditPath == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, h := range p.AuditPath {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendBytes(b, h)
		}
		b = append(b, ']')
	}
	b = append(b, `,"batch_root":`...)
	b = appendBytes(b, p.BatchRoot)
	b = p.Header.AppendJSON(append(b, `,"header":`...))
	if p.Seal != nil {
		b = append(b, `,"seal":`...)
		b = appendSeal(b, *p.Seal)
	}
	if len(p.Block) > 0 {
		b = append(b, `,"block":`...)
		b = appendBytes(b, p.Block)
	}
	return append(b, '}')
}

func appendSeal(b []byte, s block.Seal) []byte {
	b = append(b, `{"ledger":`...)
	b = appendString(b, s.Ledger)
	b = append(b, `,"number":`...)
	b = strconv.AppendUint(b, s.Number, 10)
	b = appendKV(b, "block_hash", s.BlockHash)
	b = appendKV(b, "time", s.Time)
	b = appendKV(b, "key_id", s.KeyID)
	b = append(b, `,"signature":`...)
	b = appendBytes(b, s.Signature)
	return append(b, '}')
}

func appendKV(b []byte, k, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendBytes(b []byte, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// appendString writes s as a JSON string: plain printable ASCII directly,
// anything else through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainJSON[s[i]] {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainJSON marks the bytes encoding/json writes as they are: printable
// ASCII but the quote, the backslash and its HTML escapes <, > and &.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()
