package evpkg_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/evpkg"
)

// A court extracted the package's attachments (pdfdetach -saveall -o dir
// package.pdf), holds the contract, and pinned the ledger's trust roots
// obtained from the operator.
func ExampleVerify() {
	dir := "attachments" // pdfdetach -saveall -o attachments package.pdf
	files := map[string][]byte{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		files[e.Name()] = b
	}
	var pinned block.TrustRoots // json.Unmarshal of the operator's trust-roots.json
	contract := []byte("%PDF…")
	r := evpkg.Verify(files, evpkg.Options{
		Digests:    []evidence.Digest{evidence.Sum(evidence.SHA256, contract), evidence.Sum(evidence.SM3, contract)},
		TrustRoots: &pinned,
	})
	for _, c := range r.Checks {
		fmt.Println(c.Name, c.Pass)
	}
	fmt.Println(r.Verdict)
	// Output:
	// digest_match false
	// on_ledger false
	// proof_intact false
	// fail
}
