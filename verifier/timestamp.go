package verifier

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/evidence-node/evidence-node/verifier/block"
)

// TimestampRFC3161 is the kind of a trusted timestamp that is an RFC 3161
// time-stamp token (the only kind).
const TimestampRFC3161 = "rfc3161"

// Bounds on trusted timestamps.
const (
	// TimestampSkew is how much earlier than the receipt's ledger time a
	// token's gen_time may be: the ledger time is the node's (or the
	// Fabric client's) clock, the gen_time the TSA's, and the two clocks
	// may differ. A token stamped before the block it stamps could exist,
	// by more than this, is refused (ErrTimestampTime). 15 minutes is
	// Fabric's default peer time window.
	TimestampSkew = 15 * time.Minute
	// MaxTimestamps is the most timestamps a receipt may list.
	MaxTimestamps = 8
	// MaxTokenSize is the largest token read (DER bytes).
	MaxTokenSize = 64 << 10
)

// Timestamp is a trusted timestamp over what a receipt's block committed:
// an RFC 3161 token from a time-stamping authority (TSA) whose message
// imprint is the hash of StampMessage. TSA and GenTime repeat what the
// token says, for readers; VerifyReceipt checks that they do.
type Timestamp struct {
	// Kind is TimestampRFC3161.
	Kind string `json:"kind"`
	// TSA is the name of the authority: the common name of the token's
	// signing certificate (its whole subject, RFC 2253 as Go writes it,
	// when it has none).
	TSA string `json:"tsa"`
	// GenTime is the token's genTime, truncated to the millisecond, in
	// the receipts' time layout (FormatTime).
	GenTime string `json:"gen_time"`
	// Token is the DER TimeStampToken (RFC 3161 §2.4.2: a CMS ContentInfo
	// of SignedData over a TSTInfo), carrying its signing certificate.
	Token []byte `json:"token"`
}

// The time_source texts of a receipt, by proof kind and trusted time:
// TimeSourceNode and TimeSourceFabric when no trusted timestamp is
// requested for the block (a node without TSAs, or records written
// before it had them); the Pending texts while the node waits for the
// first token; the Stamped texts once timestamps lists one or more.
const (
	TimeSourceNodePending   = TimeSourceNode + "; trusted timestamps (RFC 3161) over the block are requested and pending"
	TimeSourceFabricPending = TimeSourceFabric + "; trusted timestamps (RFC 3161) over the transaction are requested and pending"
	TimeSourceNodeStamped   = "trusted: the gen_time of each RFC 3161 timestamp in timestamps, signed by a time-stamping authority over the block hash; ledger_time is asserted by the node's clock and signed in the block seal"
	TimeSourceFabricStamped = "trusted: the gen_time of each RFC 3161 timestamp in timestamps, signed by a time-stamping authority over the transaction ID and batch root; ledger_time is the transaction timestamp asserted by the submitting client"
)

// Trusted-time states of a receipt (TrustedTime).
const (
	TrustedNone    = "none"    // no trusted timestamp is requested
	TrustedPending = "pending" // requested; none has arrived yet
	TrustedStamped = "stamped" // timestamps lists at least one
)

// TimeSources returns the three time_source texts of a proof kind: no
// trusted time, pending, stamped; ok is false for an unknown kind.
func TimeSources(proofKind string) (none, pending, stamped string, ok bool) {
	switch proofKind {
	case ProofEmbedded:
		return TimeSourceNode, TimeSourceNodePending, TimeSourceNodeStamped, true
	case ProofFabric:
		return TimeSourceFabric, TimeSourceFabricPending, TimeSourceFabricStamped, true
	}
	return "", "", "", false
}

// TrustedTime says whether the receipt has trusted time: TrustedStamped
// when it lists timestamps, TrustedPending when its time_source says they
// are pending, else TrustedNone. It reads the receipt as it is; only
// VerifyReceipt says whether it holds.
func (rc Receipt) TrustedTime() string {
	_, pending, _, _ := TimeSources(rc.Proof.Kind)
	switch {
	case len(rc.Timestamps) > 0:
		return TrustedStamped
	case rc.TimeSource == pending:
		return TrustedPending
	}
	return TrustedNone
}

// WithTimestamps returns the receipt with its timestamps and time_source
// set for the trusted time a node holds: ts (pending is ignored when ts is
// not empty), or pending, or none (SetTimestamps).
func (rc Receipt) WithTimestamps(ts []Timestamp, pending bool) Receipt {
	rc.SetTimestamps(ts, pending)
	return rc
}

// SetTimestamps sets the receipt's timestamps and time_source for the
// trusted time a node holds: the Stamped text with ts, else the Pending
// text if pending, else the plain one. A receipt of an unknown proof kind
// is left as it is.
func (rc *Receipt) SetTimestamps(ts []Timestamp, pending bool) {
	none, pend, stamped, ok := TimeSources(rc.Proof.Kind)
	if !ok {
		return
	}
	rc.Timestamps = ts
	switch {
	case len(ts) > 0:
		rc.TimeSource = stamped
	case pending:
		rc.TimeSource = pend
	default:
		rc.TimeSource = none
	}
}

// stampDomain starts every stamped message.
const stampDomain = "evidence-node/timestamp/v1\n"

// EmbeddedStampMessage is what a TSA stamps for an embedded block: the
// ASCII text
//
//	"evidence-node/timestamp/v1\nembedded\n" ‖ hex(block hash) ‖ "\n"
//
// (lower-case hex of the 32-byte block hash). The token's message imprint
// is the hash of these bytes (SHA-256, or SM3 for an SM2 TSA).
func EmbeddedStampMessage(blockHash []byte) []byte {
	return []byte(stampDomain + "embedded\n" + hex.EncodeToString(blockHash) + "\n")
}

// FabricStampMessage is what a TSA stamps for a Fabric batch
// transaction: the ASCII text
//
//	"evidence-node/timestamp/v1\nfabric\n" ‖ tx ID ‖ "\n" ‖ hex(batch root) ‖ "\n"
//
// (the transaction ID as Fabric writes it, the lower-case hex of the
// 32-byte RFC 6962 batch root the transaction wrote).
func FabricStampMessage(txID string, batchRoot []byte) []byte {
	return []byte(stampDomain + "fabric\n" + txID + "\n" + hex.EncodeToString(batchRoot) + "\n")
}

// StampMessage returns what a TSA stamps for the receipt's block
// (embedded: its block_hash) or transaction (Fabric: tx_id and
// proof.batch_root). It reads the receipt as it is: VerifyReceipt checks
// those fields against the proof before it checks the tokens.
func StampMessage(rc Receipt) ([]byte, error) {
	switch rc.Proof.Kind {
	case ProofEmbedded:
		h, err := hex.DecodeString(rc.BlockHash)
		if err != nil || len(h) != sha256.Size {
			return nil, fmt.Errorf("block_hash %q is not 32 bytes of hex", rc.BlockHash)
		}
		return EmbeddedStampMessage(h), nil
	case ProofFabric:
		if len(rc.Proof.BatchRoot) != sha256.Size {
			return nil, fmt.Errorf("batch root of %d bytes", len(rc.Proof.BatchRoot))
		}
		return FabricStampMessage(rc.TxID, rc.Proof.BatchRoot), nil
	}
	return nil, fmt.Errorf("proof kind %q not supported", rc.Proof.Kind)
}

// Reasons a trusted timestamp is refused (wrapped in a *ReceiptError
// naming the member, e.g. timestamps.0.token).
var (
	// ErrTimestamps: the timestamps list itself is not valid: more than
	// MaxTimestamps, one token twice, or timestamps under a time_source
	// that says the receipt holds none.
	ErrTimestamps = errors.New("the timestamps list is not valid")
	// ErrTimestampKind: a kind other than rfc3161.
	ErrTimestampKind = errors.New("timestamp kind not supported (want rfc3161)")
	// ErrTimestampToken: the token does not parse as an RFC 3161
	// TimeStampToken, carries no signing certificate, or its CMS signature
	// does not verify with that certificate.
	ErrTimestampToken = errors.New("not a valid RFC 3161 token signed by the certificate it carries")
	// ErrTimestampImprint: the token's message imprint is not the hash of
	// what is stamped for this receipt (StampMessage): a token over
	// something else.
	ErrTimestampImprint = errors.New("the token's message imprint is not the hash of what is stamped for this receipt")
	// ErrTimestampUntrusted: the token's signing certificate does not
	// chain to any of the trust roots' TSA roots: an unknown TSA.
	ErrTimestampUntrusted = errors.New("the time-stamping authority is not among the trust roots' TSA roots")
	// ErrTimestampChain: the signing certificate names a TSA root (or a
	// certificate leading to one) as its issuer, but the chain does not
	// verify at gen_time: a signature that does not match, a certificate
	// missing, expired or not yet valid, or not allowed to issue it.
	ErrTimestampChain = errors.New("the time-stamping authority's certificate chain does not verify")
	// ErrTimestampEKU: the signing certificate's extended key usage is not
	// the one critical id-kp-timeStamping RFC 3161 §2.3 requires.
	ErrTimestampEKU = errors.New("the signing certificate is not a TSA certificate (critical id-kp-timeStamping extended key usage)")
	// ErrTimestampTime: gen_time is earlier than the ledger time by more
	// than TimestampSkew.
	ErrTimestampTime = errors.New("gen_time is earlier than the ledger time by more than the allowed skew")
)

// checkTimeSource is VerifyReceipt's check of time_source: the text of
// the proof kind for the trusted time the receipt shows — the Stamped
// text when it lists timestamps, else the plain or the Pending text. A
// receipt listing timestamps under a text that says it holds none is
// refused on timestamps (ErrTimestamps).
func checkTimeSource(rc Receipt) error {
	none, pending, stamped, ok := TimeSources(rc.Proof.Kind)
	if !ok {
		return rerr("proof.kind", "%q not supported", rc.Proof.Kind)
	}
	if len(rc.Timestamps) > 0 {
		switch rc.TimeSource {
		case stamped:
			return nil
		case none, pending:
			return rerr("timestamps", "%w: %d listed, but time_source says the receipt holds none", ErrTimestamps, len(rc.Timestamps))
		}
		return rerr("time_source", "%w: a receipt listing timestamps says %q", ErrTimeSource, stamped)
	}
	if rc.TimeSource != none && rc.TimeSource != pending {
		return rerr("time_source", "%w: want %q (or, while trusted timestamps are pending, %q)", ErrTimeSource, none, pending)
	}
	return nil
}

// verifyTimestamps is VerifyReceipt's check of the trusted timestamps,
// made after the proof (so block_hash, tx_id and batch_root are the
// proof's): at most MaxTimestamps, no token twice, and each one of kind
// rfc3161 whose token verifies for StampMessage(rc) against the trust
// roots' TSA roots (VerifyToken), whose tsa and gen_time are the token's,
// and whose gen_time is not earlier than ledger_time − TimestampSkew.
func verifyTimestamps(rc Receipt, roots block.TrustRoots) error {
	if len(rc.Timestamps) == 0 {
		return nil
	}
	if len(rc.Timestamps) > MaxTimestamps {
		return rerr("timestamps", "%w: %d listed, at most %d", ErrTimestamps, len(rc.Timestamps), MaxTimestamps)
	}
	msg, err := StampMessage(rc)
	if err != nil {
		return rerr("timestamps", "%w", err)
	}
	tsaRoots, err := ParseTSARoots(roots.TSARoots)
	if err != nil {
		return rerr("timestamps", "trust roots: %w", err)
	}
	ledger, err := time.Parse(time.RFC3339Nano, rc.LedgerTime)
	if err != nil {
		return rerr("ledger_time", "%v", err)
	}
	for i, ts := range rc.Timestamps {
		f := fmt.Sprintf("timestamps.%d", i)
		if slices.ContainsFunc(rc.Timestamps[:i], func(o Timestamp) bool { return bytes.Equal(o.Token, ts.Token) }) {
			return rerr(f+".token", "%w: the same token twice", ErrTimestamps)
		}
		if ts.Kind != TimestampRFC3161 {
			return rerr(f+".kind", "%w: %q", ErrTimestampKind, ts.Kind)
		}
		tok, err := VerifyToken(ts.Token, msg, tsaRoots)
		if err != nil {
			return rerr(f+".token", "%w", err)
		}
		if name := tok.TSA(); ts.TSA != name {
			return rerr(f+".tsa", "%q, but the token is signed by %q", ts.TSA, name)
		}
		if got := FormatTime(tok.GenTime); ts.GenTime != got {
			return rerr(f+".gen_time", "%q, but the token's genTime is %s", ts.GenTime, got)
		}
		if tok.GenTime.Before(ledger.Add(-TimestampSkew)) {
			return rerr(f+".gen_time", "%w: %s is %v before the ledger time %s (at most %v)", ErrTimestampTime,
				ts.GenTime, ledger.Sub(tok.GenTime).Round(time.Second), rc.LedgerTime, TimestampSkew)
		}
	}
	return nil
}

// trustedTimeText describes a verified receipt's trusted time for the
// proof_intact reason.
func trustedTimeText(rc Receipt) Text {
	switch rc.TrustedTime() {
	case TrustedStamped:
		var en, zh []string
		for _, ts := range rc.Timestamps {
			en = append(en, fmt.Sprintf("%s by %q", ts.GenTime, ts.TSA))
			zh = append(zh, fmt.Sprintf("%s（%s）", ts.GenTime, ts.TSA))
		}
		return Text{
			EN: fmt.Sprintf("; %d trusted timestamp(s) (RFC 3161) verify against the TSA roots: %s", len(rc.Timestamps), strings.Join(en, ", ")),
			ZH: fmt.Sprintf("；%d 个可信时间戳（RFC 3161）通过时间戳服务机构根证书校验：%s", len(rc.Timestamps), strings.Join(zh, "，")),
		}
	case TrustedPending:
		return Text{EN: "; trusted time (RFC 3161) is still pending", ZH: "；可信时间戳尚未取得"}
	}
	return Text{}
}
