package tlog

import (
	"encoding/json"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidence-node/evidence-node/node/store"
)

// ToLayout1 rewrites a closed log's store as layout 1 wrote it (a key a
// stored hash, state version 1), for the test of the move to layout 2.
func ToLayout1(db *store.DB) error {
	v, err := db.Get(keyState)
	if err != nil {
		return err
	}
	var st state
	if err := json.Unmarshal(v, &st); err != nil {
		return err
	}
	var b store.Batch
	n := tlog.StoredHashCount(int64(st.Size))
	for c := int64(0); c*hashChunk < n; c++ {
		k := numKey(prefChunk, uint64(c))
		chunk, err := db.Get(k)
		if err != nil {
			return err
		}
		for i := 0; i*tlog.HashSize < len(chunk); i++ {
			b.Set(numKey(prefHash, uint64(c*hashChunk)+uint64(i)), chunk[i*tlog.HashSize:(i+1)*tlog.HashSize])
		}
		b.Delete(k)
	}
	st.V = 1
	sb, _ := json.Marshal(st)
	b.Set(keyState, sb)
	return db.Write(&b)
}

// StoreKeys counts the keys under the log's stored-hash prefixes: layout
// 1's and layout 2's.
func StoreKeys(db *store.DB) (v1, v2 int, err error) {
	count := func(p []byte) (int, error) {
		n := 0
		err := db.Scan(p, nil, func(_, _ []byte) (bool, error) { n++; return true, nil })
		return n, err
	}
	if v1, err = count(prefHash); err != nil {
		return
	}
	v2, err = count(prefChunk)
	return
}
