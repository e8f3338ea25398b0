package web

import (
	"strings"
	"testing"
	"time"
)

// cosignedBy waits until the receipt of id carries a log_proof whose
// checkpoint has exactly want cosignatures besides the log's own, and
// returns the log_proof.
func cosignedBy(t *testing.T, n *testNode, id string, want int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, b := n.do(t, "GET", "/api/v1/evidence/"+id, nil, "")
		lp := ""
		if code == 200 {
			lp = decode[struct {
				LogProof string `json:"log_proof"`
			}](t, b).LogProof
		}
		if lp != "" && strings.Count(lp, "\n\u2014 ")-1 == want {
			return lp
		}
		if time.Now().After(deadline) {
			t.Fatalf("record %s: no log_proof with %d cosignatures in 30 s: %d %q", id, want, code, lp)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
