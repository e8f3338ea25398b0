package platform

import (
	"fmt"
	"log/slog"
	"testing"
	"time"
)

// benchRegistry is a registry of 100 platforms and the key of one.
func benchRegistry(b *testing.B) (*Registry, string) {
	r, key, _ := benchRegistryRetired(b)
	return r, key
}

// benchRegistryRetired is benchRegistry with p043 rotated: its old key is
// retired, accepted for another hour.
func benchRegistryRetired(b *testing.B) (*Registry, string, string) {
	b.Helper()
	dir := b.TempDir()
	var key, retired string
	for i := 0; i < 100; i++ {
		k, _, err := Add(dir, fmt.Sprintf("p%03d", i), 0, "", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		switch i {
		case 42:
			key = k
		case 43:
			retired = k
		}
	}
	if _, _, err := Rotate(dir, "p043", time.Hour, time.Now()); err != nil {
		b.Fatal(err)
	}
	r, err := Open(dir, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r, key, retired
}

// BenchmarkAuthenticate: the cost every submission pays, for a known key,
// an unknown one and a retired one in its grace period, on one goroutine
// and on all cores.
func BenchmarkAuthenticate(b *testing.B) {
	r, key, retired := benchRegistryRetired(b)
	unknown := KeyPrefix + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	for _, bc := range []struct {
		name, key string
		ok        bool
	}{{"known", key, true}, {"unknown", unknown, false}, {"retired", retired, true}} {
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
