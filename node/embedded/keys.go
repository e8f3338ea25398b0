package embedded

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/block"
)

// keyRec is a key of the ledger as the store keeps it, under L/k/<key ID>:
// a trust root with the range of blocks it seals, or (Unused) a key that
// was the node's key while no block was written, which is no trust root.
type keyRec struct {
	block.Key
	Unused bool `json:"unused,omitempty"`
}

func keyKey(id string) []byte { return append(append([]byte(nil), prefKeys...), id...) }

// ErrRetiredKey means the node's key is one a key rotation retired: it
// seals no block after its range, so the node does not start with it.
var ErrRetiredKey = errors.New("embedded: the node's key was retired by a key rotation")

// loadKeys reads every key record.
func loadKeys(db *store.DB) (map[string]*keyRec, error) {
	recs := map[string]*keyRec{}
	err := db.Scan(prefKeys, nil, func(k, v []byte) (bool, error) {
		var r keyRec
		if err := json.Unmarshal(v, &r); err != nil {
			return false, fmt.Errorf("key %s: %w", k[len(prefKeys):], err)
		}
		recs[r.ID] = &r
		return true, nil
	})
	return recs, err
}

// trustKeys returns the keys that are trust roots, oldest first.
func trustKeys(recs map[string]*keyRec) []block.Key {
	var out []block.Key
	for _, r := range recs {
		if !r.Unused {
			out = append(out, r.Key)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		fi, fj := uint64(0), uint64(0)
		if out[i].Sealed != nil {
			fi = out[i].Sealed.First
		}
		if out[j].Sealed != nil {
			fj = out[j].Sealed.First
		}
		if fi != fj {
			return fi < fj
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Keys returns the ledger's block sealing keys (its trust roots' keys) as
// the store records them, oldest first; ErrNoLedger if db holds no
// embedded ledger.
func Keys(db *store.DB) ([]block.Key, error) {
	if _, err := LedgerName(db); err != nil {
		return nil, err
	}
	recs, err := loadKeys(db)
	if err != nil {
		return nil, fmt.Errorf("embedded: trust roots: %w", err)
	}
	return trustKeys(recs), nil
}

// KeyChange says what RegisterKey changed.
type KeyChange struct {
	// Retired is the key rotated away, if any, with the blocks it sealed
	// (nil Sealed: none, it is no trust root).
	Retired *block.Key
	// Added is true when the key was not the ledger's key before.
	Added bool
	// Keys are the ledger's trust roots after the change, oldest first.
	Keys []block.Key
}

// RegisterKey records pub as the key that seals the ledger's blocks from
// the next one on: the key that sealed until now gets the last block
// written as the end of its range (or, if it sealed none, stops being a
// trust root), and pub's range starts at the next block. Registering the
// current key again changes nothing. A key retired by an earlier rotation
// is refused (ErrRetiredKey). Open does this for the key it is given;
// evidencectl key rotate with the node stopped. Keys recorded before
// ranges existed get theirs from the stored block headers, once.
func RegisterKey(db *store.DB, pub *ecdsa.PublicKey) (KeyChange, error) {
	h, err := ReadHead(db)
	if err != nil {
		return KeyChange{}, err
	}
	return registerKey(db, pub, h.Height)
}

func registerKey(db *store.DB, pub *ecdsa.PublicKey, height uint64) (KeyChange, error) {
	var ch KeyChange
	nk, err := block.NewKey(pub)
	if err != nil {
		return ch, err
	}
	recs, err := loadKeys(db)
	if err != nil {
		return ch, fmt.Errorf("embedded: trust roots: %w", err)
	}
	var b store.Batch
	legacy := false
	for _, r := range recs {
		legacy = legacy || (!r.Unused && r.Sealed == nil)
	}
	if legacy {
		if err := backfillRanges(db, recs, nk.ID, height, &b); err != nil {
			return ch, err
		}
	}
	cur := recs[nk.ID]
	if cur != nil && cur.Sealed != nil && cur.Sealed.Last != nil {
		open := ""
		for _, r := range recs {
			if !r.Unused && r.Sealed != nil && r.Sealed.Last == nil {
				open = r.ID
			}
		}
		return ch, fmt.Errorf("%w: node-key.pem is key %s, which sealed %s and was rotated away; sealing with it again would break its range: put back the current key (%s)",
			ErrRetiredKey, nk.ID, cur.Sealed, open)
	}
	for _, r := range recs {
		if r.ID == nk.ID || r.Unused || r.Sealed == nil || r.Sealed.Last != nil {
			continue
		}
		// The key that sealed until now.
		if r.Sealed.First < height {
			last := height - 1
			r.Sealed.Last = &last
		} else {
			r.Unused, r.Sealed = true, nil
		}
		k := r.Key
		ch.Retired = &k
		if err := setKey(&b, r); err != nil {
			return KeyChange{}, err
		}
	}
	if cur == nil || cur.Unused {
		cur = &keyRec{Key: nk}
		cur.Sealed = &block.BlockRange{First: height}
		recs[nk.ID] = cur
		ch.Added = true
		if err := setKey(&b, cur); err != nil {
			return KeyChange{}, err
		}
	}
	if b.Len() > 0 {
		if err := db.Write(&b); err != nil {
			return ch, fmt.Errorf("embedded: trust roots: %w", err)
		}
	}
	ch.Keys = trustKeys(recs)
	return ch, nil
}

// backfillRanges gives the keys recorded without a range the blocks they
// sealed, from the stored headers: the key that sealed the last block is
// open (it seals on, unless it is not current); a key that sealed nothing
// is the current one from height on, or no trust root.
func backfillRanges(db *store.DB, recs map[string]*keyRec, current string, height uint64, b *store.Batch) error {
	type span struct{ first, last uint64 }
	spans := map[string]*span{}
	var lastKey string
	err := db.Scan(prefHdr, nil, func(_, v []byte) (bool, error) {
		var hr headerRec
		if err := json.Unmarshal(v, &hr); err != nil {
			return true, nil // Check reports it; the key's range is widened at worst
		}
		n := hr.Header.Number
		if s := spans[hr.Seal.KeyID]; s == nil {
			spans[hr.Seal.KeyID] = &span{n, n}
		} else {
			s.first, s.last = min(s.first, n), max(s.last, n)
		}
		if n+1 == height {
			lastKey = hr.Seal.KeyID
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("embedded: reading the block headers for the keys' ranges: %w", err)
	}
	for _, r := range recs {
		if r.Unused || r.Sealed != nil {
			continue
		}
		s := spans[r.ID]
		switch {
		case s != nil && r.ID == lastKey:
			r.Sealed = &block.BlockRange{First: s.first}
		case s != nil:
			last := s.last
			r.Sealed = &block.BlockRange{First: s.first, Last: &last}
		case r.ID == current:
			r.Sealed = &block.BlockRange{First: height}
		default:
			r.Unused = true
		}
		if err := setKey(b, r); err != nil {
			return err
		}
	}
	return nil
}

// setKey adds r's record to b.
func setKey(b *store.Batch, r *keyRec) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("embedded: trust roots: key %s: %w", r.ID, err)
	}
	b.Set(keyKey(r.ID), v)
	return nil
}
