package verifier_test

import (
	"fmt"

	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// A court holds a receipt (from the evidence package or GET
// /api/v1/evidence/{id}), the ledger's trust roots obtained independently,
// and the contract. Two calls answer whether the contract is the one
// recorded.
func Example() {
	var (
		receipt  verifier.Receipt  // json.Unmarshal of receipt.json
		roots    block.TrustRoots  // json.Unmarshal of trust-roots.json
		contract = []byte("%PDF…") // the file the court was given
	)
	record, err := verifier.VerifyReceipt(receipt, roots)
	if err != nil {
		fmt.Println("proof_intact: fail:", err != nil)
		return
	}
	d := evidence.Sum(record.Primary().Algorithm, contract)
	fmt.Println("digest_match:", verifier.DigestMatch(record, d) == nil)
	// Output: proof_intact: fail: true
}
