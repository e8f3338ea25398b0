package verifier

// Verdicts of a verification.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
)

// Outcomes tell the kinds of failure apart.
const (
	OutcomePass     = "pass"          // all three checks passed
	OutcomeMismatch = "mismatch"      // on the ledger, but the digest differs
	OutcomeNotFound = "not_found"     // no record with this ID
	OutcomeBroken   = "proof_invalid" // the ledger's proof does not hold
	OutcomePending  = "pending"       // accepted by a node, not yet on the ledger
)

// Check is one of the three checks of a verification (digest_match,
// on_ledger, proof_intact, in that order), with its reason in English and
// Chinese.
type Check struct {
	Name     string `json:"name"`
	Pass     bool   `json:"pass"`
	Reason   string `json:"reason"`
	ReasonZH string `json:"reason_zh"`
}

// Verification is the answer to "does this content match this evidence
// ID": the node's POST /api/v1/verify and the offline verifiers give it.
type Verification struct {
	Verdict string   `json:"verdict"`
	Outcome string   `json:"outcome"`
	ID      string   `json:"id"`
	Checks  []Check  `json:"checks"`
	Receipt *Receipt `json:"receipt,omitempty"`
}
