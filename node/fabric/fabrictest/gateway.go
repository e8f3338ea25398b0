package fabrictest

import (
	"crypto/x509"
	"os"
	"testing"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/evidence-node/evidence-node/node/fabric"
)

// Contract connects a bare Fabric Gateway client, as org's user, to the
// chaincode on the profile's channel: for tests that call the chaincode
// without the node. The connection closes in t.Cleanup.
func Contract(t testing.TB, p fabric.Profile, chaincode, org string) *client.Contract {
	t.Helper()
	o, err := p.Org(org)
	if err != nil {
		t.Fatal(err)
	}
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cert, err := identity.CertificateFromPEM(read(o.User.Cert))
	if err != nil {
		t.Fatal(err)
	}
	id, err := identity.NewX509Identity(o.MSPID, cert)
	if err != nil {
		t.Fatal(err)
	}
	key, err := identity.PrivateKeyFromPEM(read(o.User.Key))
	if err != nil {
		t.Fatal(err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(read(o.Peer.TLSCACert))
	conn, err := grpc.NewClient(o.Peer.Endpoint, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, o.Peer.ServerHostOverride)))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := client.Connect(id, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close(); conn.Close() })
	return gw.GetNetwork(p.Channel).GetContract(chaincode)
}
