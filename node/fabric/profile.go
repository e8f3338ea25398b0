package fabric

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
)

// Profile is the connection profile network/up writes (RUN_DIR/
// connection.json; network/README.md describes it). Paths are absolute.
type Profile struct {
	Channel  string `json:"channel"`
	BasePort int    `json:"base_port"`
	// Consensus is "raft" or "bft" (empty in profiles written before BFT:
	// raft).
	Consensus     string       `json:"consensus,omitempty"`
	Orderers      []Endpoint   `json:"orderers"`
	Organizations []ProfileOrg `json:"organizations"`
}

// Endpoint is a TLS gRPC endpoint.
type Endpoint struct {
	Name string `json:"name"`
	// MSPID is the node's organisation (orderers; peers' is their org's).
	MSPID              string `json:"msp_id,omitempty"`
	Endpoint           string `json:"endpoint"`
	ServerHostOverride string `json:"server_host_override"`
	// TLSCACert is the path of the PEM TLS CA certificate.
	TLSCACert string `json:"tls_ca_cert"`
	// Operations is the health and metrics address (peers).
	Operations string `json:"operations,omitempty"`
}

// ProfileOrg is a peer organisation: its peer and client identities.
type ProfileOrg struct {
	Name  string      `json:"name"`
	MSPID string      `json:"msp_id"`
	Peer  Endpoint    `json:"peer"`
	User  IdentityRef `json:"user"`
	Admin IdentityRef `json:"admin"`
}

// IdentityRef names the files of a signing identity.
type IdentityRef struct {
	Name string `json:"name"`
	// Cert and Key are the paths of the PEM certificate and PKCS#8 key.
	Cert string `json:"cert"`
	Key  string `json:"key"`
}

// LoadProfile reads and checks a connection profile.
func LoadProfile(path string) (Profile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Profile{}, fmt.Errorf("fabric: connection profile: %w", err)
	}
	var p Profile
	if err := json.Unmarshal(b, &p); err != nil {
		return Profile{}, fmt.Errorf("fabric: connection profile %s: %w", path, err)
	}
	if err := p.Validate(); err != nil {
		return Profile{}, fmt.Errorf("fabric: connection profile %s: %w", path, err)
	}
	return p, nil
}

// Validate checks that the profile names a channel and at least one
// organisation with a peer and a user.
func (p Profile) Validate() error {
	if p.Channel == "" {
		return errors.New("no channel")
	}
	if len(p.Organizations) == 0 {
		return errors.New("no organisations")
	}
	for _, o := range p.Organizations {
		if o.MSPID == "" || o.Peer.Endpoint == "" || o.Peer.TLSCACert == "" || o.User.Cert == "" || o.User.Key == "" {
			return fmt.Errorf("organisation %q: msp_id, peer endpoint and TLS CA, user cert and key are required", o.Name)
		}
	}
	return nil
}

// Org returns the organisation whose short name or MSP ID is name, or the
// first one if name is empty.
func (p Profile) Org(name string) (ProfileOrg, error) {
	if name == "" {
		return p.Organizations[0], nil
	}
	i := slices.IndexFunc(p.Organizations, func(o ProfileOrg) bool { return o.Name == name || o.MSPID == name })
	if i < 0 {
		return ProfileOrg{}, fmt.Errorf("fabric: no organisation %q in the connection profile", name)
	}
	return p.Organizations[i], nil
}
