package platform

import (
	"fmt"
	"testing"
	"time"
)

// benchRegistry is a registry of 100 platforms and the key of one.
func benchRegistry(b *testing.B) (*Registry, string) {
	b.Helper()
	dir := b.TempDir()
	var key string
	for i := 0; i < 100; i++ {
		k, _, err := Add(dir, fmt.Sprintf("p%03d", i), 0, "", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if i == 42 {
			key = k
		}
	}
	r, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	return r, key
}

// BenchmarkAuthenticate: the cost every submission pays, for a known key
// and an unknown one, on one goroutine and on all cores.
func BenchmarkAuthenticate(b *testing.B) {
	r, key := benchRegistry(b)
	unknown := KeyPrefix + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	for _, bc := range []struct {
		name, key string
		ok        bool
	}{{"known", key, true}, {"unknown", unknown, false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Authenticate(bc.key); (err == nil) != bc.ok {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := r.Authenticate(bc.key); (err == nil) != bc.ok {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
