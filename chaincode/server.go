package chaincode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// MaxMessageSize bounds gRPC messages between peer and chaincode, as the
// peer's own default does.
const MaxMessageSize = 100 << 20

// Serve runs the chaincode as a service on l until ctx is done, then stops
// (the peer holds one long-lived stream, so there is nothing to drain: a
// transaction cut short fails at endorsement and the client retries). ccid is
// the package ID the peer knows the chaincode by (network/deploy-chaincode
// prints it). The peer dials l. With tc non-nil the server speaks TLS with
// it (the connection.json network/deploy-chaincode packages requires TLS and
// pins the CA of the server's certificate); nil serves plain gRPC.
func Serve(ctx context.Context, l net.Listener, ccid string, tc *tls.Config) error {
	if ccid == "" {
		return errors.New("chaincode: empty chaincode ID (CCID)")
	}
	cc, err := New()
	if err != nil {
		return err
	}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: time.Minute, Timeout: 20 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Minute, PermitWithoutStream: true}),
	}
	if tc != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	srv := grpc.NewServer(opts...)
	peer.RegisterChaincodeServer(srv, &shim.ChaincodeServer{CCID: ccid, CC: cc})
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("chaincode: serve: %w", err)
	case <-ctx.Done():
	}
	srv.Stop()
	<-errc
	return nil
}
