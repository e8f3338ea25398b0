package block

// Fabric holds the trust roots of a Fabric channel: the membership service
// providers (MSPs) of its organisations, each as the CA certificates that
// issue its members' certificates, as in the channel configuration.
// Blocks must be signed by a member of an orderer organisation (Raft), or
// by a quorum of the channel's consenters (BFT: Consenters is set);
// transactions endorsed by members of enough application organisations.
type Fabric struct {
	Channel string `json:"channel"`
	// Chaincode is the evidence chaincode's name on the channel.
	Chaincode string `json:"chaincode"`
	// Orderers are the orderer organisations (block signers).
	Orderers []MSP `json:"orderer_orgs"`
	// Orgs are the application organisations (endorsers and clients).
	Orgs []MSP `json:"application_orgs"`
	// Endorsers is how many distinct application organisations must have
	// endorsed a transaction; 0 means a majority of Orgs, as the channel's
	// default "MAJORITY Endorsement" policy asks.
	Endorsers int `json:"endorsing_orgs,omitempty"`
	// Consenters is the BFT consenter set of the channel's configuration
	// (Orderer group value "Orderers"); empty on a Raft channel. When set,
	// a block needs valid signatures of at least Quorum() distinct
	// consenters, and of consenters only.
	Consenters []Consenter `json:"consenters,omitempty"`
}

// Consenter is one BFT orderer of the consenter set: its numeric ID (BFT
// block signatures name their signer by it), its organisation and its
// signing certificate.
type Consenter struct {
	ID    uint32 `json:"id"`
	MSPID string `json:"msp_id"`
	// Cert is the consenter's signing certificate, PEM.
	Cert string `json:"cert"`
}

// Quorum is the number of distinct consenters whose signatures a BFT block
// needs: ceil((n+f+1)/2) with f = (n-1)/3 faulty tolerated, as Fabric's
// BFT block validation policy (2f+1 when n = 3f+1: 3 of 4). 0 on Raft.
func (f Fabric) Quorum() int {
	n := len(f.Consenters)
	if n == 0 {
		return 0
	}
	faulty := (n - 1) / 3
	return (n + faulty + 2) / 2
}

// MSP is one organisation's membership roots.
type MSP struct {
	ID string `json:"msp_id"`
	// RootCerts and IntermediateCerts are PEM certificates.
	RootCerts         []string `json:"root_certs"`
	IntermediateCerts []string `json:"intermediate_certs,omitempty"`
	// PeerOU and OrdererOU are the organisational units that mark peers
	// and orderers when the MSP classifies its members (Fabric NodeOUs);
	// when set, endorsers must carry PeerOU and block signers OrdererOU.
	PeerOU    string `json:"peer_ou,omitempty"`
	OrdererOU string `json:"orderer_ou,omitempty"`
}

// RequiredEndorsers returns how many distinct organisations must endorse.
func (f Fabric) RequiredEndorsers() int {
	if f.Endorsers > 0 {
		return f.Endorsers
	}
	return len(f.Orgs)/2 + 1
}
