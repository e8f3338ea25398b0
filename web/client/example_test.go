package client_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/evidence-node/evidence-node/web/client"
	"github.com/evidence-node/evidence-node/web/webtest"
)

// A signing platform records a contract's text, and anyone later checks
// a copy against the evidence ID (here against a node started for the
// example; in use, against the node's public URL).
func Example() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	n, stop, err := webtest.Run(dir, webtest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	ctx := context.Background()

	platform := client.New(n.URL, client.WithKey(n.Key))
	text := "甲方与乙方约定……"
	rc, err := platform.Submit(ctx, client.Submission{Type: "text", Text: &text, DocRef: "HT-2026-001"}, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("recorded in block", rc.BlockNumber, "of", rc.Ledger)

	public := client.New(n.URL)
	v, err := public.VerifyText(ctx, rc.ID, text)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Verdict)
	for _, c := range v.Checks {
		fmt.Println(c.Name, c.Pass)
	}
	// Output:
	// recorded in block 0 of webtest
	// pass
	// digest_match true
	// on_ledger true
	// proof_intact true
}
