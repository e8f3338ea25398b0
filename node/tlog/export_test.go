package tlog

import (
	"encoding/json"
	"os"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidence-node/evidence-node/node/store"
)

// ToLayout1 rewrites a closed log's data as layout 1 kept it (a store key
// a stored hash, state version 1, no hash file), for the test of the move
// to layout 2.
func ToLayout1(db *store.DB, hashes string) error {
	v, err := db.Get(keyState)
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(v, &st); err != nil {
		return err
	}
	raw, err := os.ReadFile(hashes)
	if err != nil {
		return err
	}
	var b store.Batch
	n := tlog.StoredHashCount(int64(st.Size))
	for x := int64(0); x < n; x++ {
		b.Set(numKey(prefHash, uint64(x)), raw[x*tlog.HashSize:(x+1)*tlog.HashSize])
	}
	st.V = 1
	sb, _ := json.Marshal(st)
	b.Set(keyState, sb)
	if err := db.Write(&b); err != nil {
		return err
	}
	return os.Remove(hashes)
}

// Layout1Keys counts the store keys of layout 1's stored hashes.
func Layout1Keys(db *store.DB) (int, error) {
	n := 0
	err := db.Scan(prefHash, nil, func(_, _ []byte) (bool, error) { n++; return true, nil })
	return n, err
}
