package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/evidence-node/evidence-node/node"
)

// TestLedgerErrorsMapped: the errors a ledger answers a read with reach
// the client as one status and code each, however the node wraps them: a
// corruption (as the Fabric ledger returns it for bytes its peer served
// that fail the verifier's check) is 500 ledger_corrupted with an English
// and a Chinese message, an outage 503 ledger_unavailable.
func TestLedgerErrorsMapped(t *testing.T) {
	corrupted := &node.CorruptedError{Block: 60, Reason: "transaction 2e79…: receipt proof.block: block 60 data hash: recorded e307…, computed d881…"}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"fabric block corrupted", fmt.Errorf("block 60 of 01M83YF23QC0PKBYNRMVGE4DQGH: %w", corrupted), http.StatusInternalServerError, CodeLedgerCorrupted},
		{"fabric receipt corrupted", corrupted, http.StatusInternalServerError, CodeLedgerCorrupted},
		{"peer unreachable", fmt.Errorf("%w: qscc GetChainInfo: %w", node.ErrUnavailable, errors.New("connection refused")), http.StatusServiceUnavailable, CodeLedgerUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := toAPI(tc.err)
			if got.Status != tc.status || got.Code != tc.code {
				t.Fatalf("got %d %s, want %d %s", got.Status, got.Code, tc.status, tc.code)
			}
			if got.Message == "" || got.MessageZH == "" || strings.Contains(got.Message, "2e79") {
				t.Fatalf("messages: en %q, zh %q (want both, without the internal detail)", got.Message, got.MessageZH)
			}
		})
	}
}
