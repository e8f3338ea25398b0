package verifier

import (
	"errors"
	"fmt"

	"github.com/evidence-node/evidence-node/verifier/evidence"
)

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

// CompareDigests makes the digest_match check of a verification: of the
// digests given (e.g. SHA-256 and SM3 of a file), the one of the record's
// primary algorithm is compared, else the first the record holds, else the
// first; the reasons say what was compared, in English and Chinese. The
// record must come from a proof that verified.
func CompareDigests(rec evidence.Record, ds []evidence.Digest) Check {
	c := Check{Name: CheckDigestMatch}
	if len(ds) == 0 {
		c.Reason, c.ReasonZH = "no digest to compare", "没有可比对的摘要"
		return c
	}
	d := PickDigest(rec, ds)
	switch err := DigestMatch(rec, d); {
	case err == nil:
		c.Pass = true
		c.Reason = fmt.Sprintf("the %s digest %s equals the recorded digest", d.Algorithm, d.Hex())
		c.ReasonZH = fmt.Sprintf("比对结果一致：%s 摘要 %s 与存证摘要相同", d.Algorithm, d.Hex())
	case errors.Is(err, ErrAlgorithmNotRecorded):
		c.Reason = fmt.Sprintf("the record holds no %s digest; compute the digest with %s", d.Algorithm, rec.Primary().Algorithm)
		c.ReasonZH = fmt.Sprintf("存证记录中没有 %s 摘要，请使用 %s 计算", d.Algorithm, rec.Primary().Algorithm)
	default:
		want, _ := rec.DigestFor(d.Algorithm)
		c.Reason = fmt.Sprintf("the %s digest %s differs from the recorded %s: the content is not the one recorded", d.Algorithm, d.Hex(), want.Hex())
		c.ReasonZH = fmt.Sprintf("比对结果不一致：您提供的内容的 %s 摘要 %s 与存证摘要 %s 不同，内容可能已被修改", d.Algorithm, d.Hex(), want.Hex())
	}
	return c
}

// PickDigest chooses which of several digests of the same content to
// compare with a record: the record's primary algorithm first.
func PickDigest(rec evidence.Record, ds []evidence.Digest) evidence.Digest {
	for _, want := range rec.Digests {
		for _, d := range ds {
			if d.Algorithm == want.Algorithm {
				return d
			}
		}
	}
	return ds[0]
}
