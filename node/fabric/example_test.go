package fabric_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/evidence-node/evidence-node/node/fabric"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/evidence"
)

// A node of the court organisation appends a record and checks its
// receipt offline against the channel's trust roots.
func Example() {
	l, err := fabric.Open(fabric.Config{
		Profile:  "network/.run/default/connection.json", // written by network/up
		Org:      "court",
		MaxBatch: 500,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	id, _ := evidence.NewIDGenerator(nil, nil).New()
	rec := evidence.Record{ID: id, Type: evidence.Text, Platform: "acme", SubmittedAt: time.Now(),
		Digests: []evidence.Digest{evidence.Sum(evidence.SHA256, []byte("合同正文"))}}
	rcs, err := l.Append(ctx, []evidence.Record{rec})
	if err != nil {
		log.Fatal(err)
	}
	info, err := l.Info(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := verifier.VerifyReceipt(rcs[0], info.TrustRoots); err != nil {
		log.Fatal(err)
	}
	fmt.Println("block", rcs[0].BlockNumber, rcs[0].BlockHash, rcs[0].LedgerTime)
}
