package verifier

import (
	"fmt"
	"strings"

	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/logproof"
)

// LogInclusion is a receipt's verified place in the transparency log.
type LogInclusion struct {
	Index      uint64            `json:"index"`
	Checkpoint logproof.Verified `json:"checkpoint"`
}

// VerifyLogProof checks a receipt's log_proof against the trust roots'
// log (block.Log): the checkpoint is the ledger's (origin = the receipt's
// ledger), signed by the log key — after a rotation, by a log key whose
// range holds its size (logproof.OpenKeys) — and cosigned by at least Quorum of the
// trusted witnesses, and the record's canonical encoding is at the proof's
// index in its tree. A receipt without a log proof gives nil, nil; so do
// trust roots without a log (nothing to check it against). Errors are
// ReceiptErrors on log_proof.
func VerifyLogProof(rc Receipt, roots block.TrustRoots) (*LogInclusion, error) {
	if rc.LogProof == "" || roots.Log == nil {
		return nil, nil
	}
	lr := roots.Log
	if lr.Origin != rc.Ledger {
		return nil, rerr("log_proof", "the trust roots' log is %q, the receipt's ledger %q", lr.Origin, rc.Ledger)
	}
	q := lr.Quorum
	if q > len(lr.Witnesses) {
		return nil, rerr("log_proof", "trust roots ask for %d cosignatures of %d witnesses", q, len(lr.Witnesses))
	}
	v, p, err := logproof.VerifyProof(rc.Proof.Record, rc.LogProof, lr.Trust())
	if err != nil {
		return nil, rerr("log_proof", "%w", err)
	}
	return &LogInclusion{Index: p.Index, Checkpoint: v}, nil
}

// logText is the proof_intact reason's part on the transparency log.
func logText(rc Receipt, roots block.TrustRoots) Text {
	switch {
	case rc.LogProof == "":
		if roots.Log != nil {
			return Text{EN: "; not in a transparency-log checkpoint yet", ZH: "；尚未纳入透明日志检查点"}
		}
		return Text{}
	case roots.Log == nil:
		return Text{EN: "; the transparency-log proof was not checked (the trust roots name no log key)", ZH: "；未校验透明日志证明（信任根中无日志公钥）"}
	}
	li, err := VerifyLogProof(rc, roots)
	if err != nil || li == nil {
		return Text{}
	}
	c := li.Checkpoint
	var names []string
	for _, s := range c.Cosignatures {
		names = append(names, s.Name)
	}
	en := fmt.Sprintf("; in transparency log %q at index %d of a checkpoint of %d records", c.Origin, li.Index, c.Size)
	zh := fmt.Sprintf("；已纳入透明日志 %s（第 %d 条，检查点共 %d 条）", c.Origin, li.Index, c.Size)
	if len(names) > 0 {
		en += fmt.Sprintf(", cosigned by %d witness(es): %s", len(names), strings.Join(names, ", "))
		zh += fmt.Sprintf("，已由 %d 个见证方共同签署：%s", len(names), strings.Join(names, "、"))
	} else {
		en += ", cosigned by no trusted witness"
		zh += "，尚无受信任的见证方共同签署"
	}
	return Text{EN: en, ZH: zh}
}
