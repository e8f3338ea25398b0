package web

import (
	"strings"
	"testing"
	"time"

	"github.com/evidence-node/evidence-node/verifier"
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

// stampedBy waits until the receipt of id carries a trusted timestamp
// (RFC 3161 token) and returns its timestamps.
func stampedBy(t *testing.T, n *testNode, id string) []verifier.Timestamp {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, b := n.do(t, "GET", "/api/v1/evidence/"+id, nil, "")
		var ts []verifier.Timestamp
		if code == 200 {
			ts = decode[struct {
				Timestamps []verifier.Timestamp `json:"timestamps"`
			}](t, b).Timestamps
		}
		if len(ts) > 0 {
			return ts
		}
		if time.Now().After(deadline) {
			t.Fatalf("record %s: no trusted timestamp in 30 s: %d %s", id, code, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// beijingTime is a gen_time as the portal shows it: Beijing time (UTC+8), to
// the millisecond (portal.js formatBeijing).
func beijingTime(t *testing.T, genTime string) string {
	t.Helper()
	g, err := time.Parse(time.RFC3339Nano, genTime)
	if err != nil {
		t.Fatalf("gen_time %q: %v", genTime, err)
	}
	return g.UTC().Add(8 * time.Hour).Format("2006-01-02 15:04:05.000")
}
