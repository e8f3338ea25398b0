package node

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
)

// prefSigner keys the document signing keys the node has used: S/k/<key
// ID>. Every key that ever signed a certificate or package stays a
// document signer of the trust roots the node serves, so documents made
// before a key rotation keep verifying against the current roots.
var prefSigner = []byte("S/k/")

type signerRec struct {
	Key   block.Key `json:"key"`
	Since string    `json:"since"`
}

// loadSigners records the current document signing key (if persist) and
// keeps every one the node has used, oldest first, the current one last.
func (s *Service) loadSigners(persist bool) error {
	cur := s.signerKey
	var recs []signerRec
	found := false
	err := s.db.Scan(prefSigner, nil, func(_, v []byte) (bool, error) {
		var r signerRec
		if err := json.Unmarshal(v, &r); err != nil {
			return false, err
		}
		found = found || r.Key.ID == cur.ID
		recs = append(recs, r)
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("node: document signers: %w", err)
	}
	if !found {
		r := signerRec{Key: cur, Since: verifier.FormatTime(s.now())}
		if persist {
			b, _ := json.Marshal(r)
			if err := s.db.Set(append(append([]byte(nil), prefSigner...), cur.ID...), b); err != nil {
				return fmt.Errorf("node: document signers: %w", err)
			}
		}
		recs = append(recs, r)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Since < recs[j].Since })
	s.signers = s.signers[:0]
	for _, r := range recs {
		if r.Key.ID != cur.ID {
			s.signers = append(s.signers, r.Key)
		}
	}
	s.signers = append(s.signers, cur)
	return nil
}

// RecordSigner records key as a document signing key the node has used,
// since the time given, unless it is recorded already (evidencectl key
// rotate records the key it retires, which a node from before rotation
// existed never recorded).
func RecordSigner(db *store.DB, key block.Key, since time.Time) error {
	k := append(append([]byte(nil), prefSigner...), key.ID...)
	if ok, err := db.Has(k); err != nil || ok {
		return err
	}
	b, _ := json.Marshal(signerRec{Key: key, Since: verifier.FormatTime(since)})
	return db.Set(k, b)
}

// DocumentSigners returns the document signing keys recorded in db, oldest
// first (what evidencectl key rotate reports).
func DocumentSigners(db *store.DB) ([]block.Key, error) {
	var recs []signerRec
	err := db.Scan(prefSigner, nil, func(_, v []byte) (bool, error) {
		var r signerRec
		if err := json.Unmarshal(v, &r); err != nil {
			return false, err
		}
		recs = append(recs, r)
		return true, nil
	})
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Since < recs[j].Since })
	out := make([]block.Key, len(recs))
	for i, r := range recs {
		out[i] = r.Key
	}
	return out, err
}
