package toolproc

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePort(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if port < minPort || port > maxPort {
			t.Fatalf("port %d: want %d to %d, below the ephemeral range and the Fabric networks' ports", port, minPort, maxPort)
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
