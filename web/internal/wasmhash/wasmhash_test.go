package wasmhash

import (
	"bytes"
	"testing"
)

// The module is deterministic and well framed: magic, version, and every
// section's length within the file. (Its hashes are checked where it runs:
// the portal's browser test, against Go, over many lengths.)
func TestModule(t *testing.T) {
	m := Module()
	if !bytes.Equal(m, Module()) {
		t.Fatal("Module is not deterministic")
	}
	if !bytes.HasPrefix(m, []byte{0, 'a', 's', 'm', 1, 0, 0, 0}) {
		t.Fatalf("header % x", m[:8])
	}
	var ids []byte
	for p := m[8:]; len(p) > 0; {
		id := p[0]
		p = p[1:]
		n, k := uint64(0), 0
		for shift := 0; ; shift += 7 {
			if k >= len(p) {
				t.Fatal("truncated section length")
			}
			n |= uint64(p[k]&0x7f) << shift
			k++
			if p[k-1] < 0x80 {
				break
			}
		}
		if uint64(len(p)-k) < n {
			t.Fatalf("section %d of %d bytes runs past the end", id, n)
		}
		ids = append(ids, id)
		p = p[k+int(n):]
	}
	if !bytes.Equal(ids, []byte{1, 3, 5, 7, 10}) {
		t.Fatalf("sections %v", ids)
	}
}
