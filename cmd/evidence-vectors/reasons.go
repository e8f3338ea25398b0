package main

import (
	"errors"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
	"github.com/evidence-node/evidence-node/verifier/logproof"
	"github.com/evidence-node/evidence-node/verifier/strict"
)

// A reason is the stable name a vector gives for why an input must be
// refused, and the error the reference verifier wraps for it. The list is
// in docs/vectors/README.md; the most precise reason comes first.
type reason struct {
	Code string
	Err  error
}

var reasons = []reason{
	{"invalid_utf8", strict.ErrInvalidUTF8},
	{"empty", strict.ErrEmpty},
	{"trailing_data", strict.ErrTrailing},
	{"duplicate_name", strict.ErrDuplicateName},
	{"unknown_name", strict.ErrUnknownName},
	{"null", strict.ErrNull},
	{"base64", strict.ErrBase64},
	{"hex", strict.ErrHex},
	{"pem", strict.ErrPEM},
	{"id_checksum", evidence.ErrIDChecksum},
	{"id_length", evidence.ErrIDLength},
	{"id_char", evidence.ErrIDChar},
	{"record_version", evidence.ErrRecordVersion},
	{"meta_member", evidence.ErrMetaMember},
	{"doc_ref", evidence.ErrDocRef},
	{"platform", evidence.ErrPlatform},
	{"not_canonical", evidence.ErrNotCanonical},
	{"high_s", block.ErrHighS},
	{"signature_encoding", block.ErrSignatureEncoding},
	{"signature", block.ErrSignature},
	{"seal_time", block.ErrSealTime},
	{"untrusted_key", block.ErrUntrustedKey},
	{"key_range", block.ErrKeyRange},
	{"time_source", verifier.ErrTimeSource},
	{"ledger_kind", verifier.ErrLedgerKind},
	{"timestamps", verifier.ErrTimestamps},
	{"timestamp_kind", verifier.ErrTimestampKind},
	{"timestamp_token", verifier.ErrTimestampToken},
	{"timestamp_imprint", verifier.ErrTimestampImprint},
	{"untrusted_tsa", verifier.ErrTimestampUntrusted},
	{"tsa_chain", verifier.ErrTimestampChain},
	{"tsa_eku", verifier.ErrTimestampEKU},
	{"gen_time", verifier.ErrTimestampTime},
	{"not_in_proof", verifier.ErrNotInProof},
	{"not_in_block", verifier.ErrNotInBlock},
	{"changed", evpkg.ErrChanged},
	{"missing", evpkg.ErrMissing},
	{"unlisted", evpkg.ErrUnlisted},
	{"block_only", evpkg.ErrBlockOnly},
	{"manifest", evpkg.ErrManifest},
	{"trust_roots", block.ErrTrustRoots},
	{"record", evidence.ErrRecord},
	{"inclusion", logproof.ErrInclusion},
	{"consistency", logproof.ErrConsistency},
	{"quorum", logproof.ErrQuorum},
	{"log_key_range", logproof.ErrKeyRange},
	{"checkpoint", logproof.ErrCheckpoint},
	{"tlog_proof", logproof.ErrProof},
}

// reasonOf names err: the first reason it wraps; "syntax" for other
// malformed JSON, "type" for a member of the wrong JSON type, "mismatch"
// for a receipt field that disagrees with the proof.
func reasonOf(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.Err) {
			return r.Code
		}
	}
	var se *strict.SyntaxError
	var te *strict.TypeError
	var re *verifier.ReceiptError
	switch {
	case errors.As(err, &se):
		return "syntax"
	case errors.As(err, &te):
		return "type"
	case errors.As(err, &re):
		return "mismatch"
	case err == nil:
		return ""
	}
	return "other"
}

// reasonErr returns the error of a reason code, nil for codes without
// one (syntax, type, mismatch, digest_mismatch).
func reasonErr(code string) error {
	for _, r := range reasons {
		if r.Code == code {
			return r.Err
		}
	}
	return nil
}
