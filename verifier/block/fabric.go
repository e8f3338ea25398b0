package block

// Fabric holds the trust roots of a Fabric channel: the membership service
// providers (MSPs) of its organisations, each as the CA certificates that
// issue its members' certificates, as in the channel configuration.
// Blocks must be signed by a member of an orderer organisation,
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
