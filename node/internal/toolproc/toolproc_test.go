package toolproc

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePort(t *testing.T) {
	hi := min(maxPort, ephemeralLow()-1)
	seen := map[int]bool{}
	for range 20 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if hi-minPort >= 1024 && (port < minPort || port > hi) {
			t.Fatalf("port %d: want %d to %d, below the ephemeral range and the Fabric networks' ports", port, minPort, hi)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		defer l.Close() // held: the next draws must not return it
		if seen[port] {
			t.Fatalf("port %d returned while held", port)
		}
		seen[port] = true
	}
}
