package evidence

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKnownDigests(t *testing.T) {
	tests := []struct {
		alg  Algorithm
		in   string
		want string
	}{
		{SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{SM3, "abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
		{SHA256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{SM3, "", "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"},
	}
	for _, tt := range tests {
		if got := Sum(tt.alg, []byte(tt.in)).Hex(); got != tt.want {
			t.Errorf("Sum(%s, %q) = %s, want %s", tt.alg, tt.in, got, tt.want)
		}
		ds, n, err := HashReader(strings.NewReader(tt.in), tt.alg)
		if err != nil || n != int64(len(tt.in)) || ds[0].Hex() != tt.want {
			t.Errorf("HashReader(%s, %q) = %v, %d, %v", tt.alg, tt.in, ds, n, err)
		}
	}
}

func TestHashReaderBoth(t *testing.T) {
	data := make([]byte, 3*BufferSize+12345)
	rand.NewChaCha8([32]byte{3}).Read(data)
	ds, n, err := HashReader(bytes.NewReader(data), SHA256, SM3)
	if err != nil || n != int64(len(data)) {
		t.Fatal(n, err)
	}
	if !ds[0].Equal(Sum(SHA256, data)) || !ds[1].Equal(Sum(SM3, data)) {
		t.Fatal("multi-algorithm digests differ from one-shot sums")
	}
	if _, _, err := HashReader(bytes.NewReader(data), "md5"); !errors.Is(err, ErrAlgorithm) {
		t.Fatalf("md5: %v", err)
	}
	boom := errors.New("disk gone")
	if _, _, err := HashReader(io.MultiReader(bytes.NewReader(data[:10]), errReader{boom})); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func TestParseDigest(t *testing.T) {
	d := Sum(SHA256, []byte("contract"))
	for _, in := range []string{d.Hex(), strings.ToUpper(d.Hex()), d.Base64(), strings.TrimRight(d.Base64(), "="), "sha256:" + d.Hex(), " " + d.Hex() + "\n"} {
		got, err := ParseDigest(SHA256, in)
		if err != nil || !got.Equal(d) {
			t.Errorf("ParseDigest(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "abc", d.Hex()[:62], d.Hex() + "00", "sm3:" + d.Hex(), strings.Repeat("zz", 32)} {
		if _, err := ParseDigest(SHA256, in); err == nil {
			t.Errorf("ParseDigest(%q) succeeded", in)
		}
	}
	if _, err := ParseDigest("md5", d.Hex()); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("md5: %v", err)
	}
}

func TestParseAlgorithm(t *testing.T) {
	for in, want := range map[string]Algorithm{"": SHA256, "SHA-256": SHA256, "sha256": SHA256, "SM3": SM3} {
		if got, err := ParseAlgorithm(in); err != nil || got != want {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseAlgorithm("sha1"); !errors.Is(err, ErrAlgorithm) {
		t.Error("sha1 accepted")
	}
}

func FuzzParseDigest(f *testing.F) {
	f.Add("sha256", Sum(SHA256, nil).Hex())
	f.Add("sm3", Sum(SM3, nil).Base64())
	f.Fuzz(func(t *testing.T, alg, s string) {
		a, err := ParseAlgorithm(alg)
		if err != nil {
			return
		}
		d, err := ParseDigest(a, s)
		if err != nil {
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("parsed digest invalid: %v", err)
		}
		again, err := ParseDigest(a, d.Hex())
		if err != nil || !again.Equal(d) {
			t.Fatal("hex round trip failed")
		}
	})
}

// benchFile makes (once) a 256 MiB file of random bytes for the streaming
// benchmarks.
func benchFile(b *testing.B) (string, []byte) {
	const size = 256 << 20
	dir := os.Getenv("EVIDENCE_BENCH_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	p := filepath.Join(dir, "evidence-bench-256MiB.bin")
	data := make([]byte, size)
	rand.NewChaCha8([32]byte{9}).Read(data)
	if fi, err := os.Stat(p); err != nil || fi.Size() != size {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return p, data
}

// BenchmarkSHA256InMemory is the baseline: crypto/sha256 over a buffer.
func BenchmarkSHA256InMemory(b *testing.B) {
	_, data := benchFile(b)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sha256.Sum256(data)
	}
}

func benchmarkStream(b *testing.B, algs ...Algorithm) {
	p, _ := benchFile(b)
	b.SetBytes(256 << 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := HashReader(f, algs...); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

func BenchmarkSHA256StreamFile(b *testing.B) { benchmarkStream(b, SHA256) }
func BenchmarkSM3InMemory(b *testing.B) {
	_, d := benchFile(b)
	b.SetBytes(int64(len(d)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Sum(SM3, d)
	}
}
func BenchmarkSM3StreamFile(b *testing.B)  { benchmarkStream(b, SM3) }
func BenchmarkBothStreamFile(b *testing.B) { benchmarkStream(b, SHA256, SM3) }
