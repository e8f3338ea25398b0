package pdfsig_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/pdfsig"
)

// A court checks, before anything else, that every byte of a package is
// as the node signed it, then that the node's key signed it: the key ID
// must be among the ledger's pinned trust roots.
func ExampleVerify() {
	doc, _ := os.ReadFile("testdata/signed.pdf") // package.pdf
	res, err := pdfsig.Verify(doc)
	if err != nil {
		fmt.Println("not intact:", err)
		return
	}
	fmt.Println("intact; signed by", res.Name, "at", res.Time.UTC())

	var pinned block.TrustRoots // json.Unmarshal of the operator's trust-roots.json
	if _, err := pinned.Find(res.KeyID); errors.Is(err, block.ErrUntrustedKey) {
		fmt.Println("but its key is not among the trust roots")
	}

	doc = append(doc, "% appended\n"...)
	_, err = pdfsig.Verify(doc)
	fmt.Println(errors.Is(err, pdfsig.ErrNotWholeFile))
	// Output:
	// intact; signed by 存证节点 evidence-local at 2026-11-23 09:54:20 +0000 UTC
	// but its key is not among the trust roots
	// true
}
