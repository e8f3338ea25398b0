package fabricblock

import (
	"encoding/pem"
	"fmt"
	"slices"
	"sort"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"google.golang.org/protobuf/proto"

	vblock "github.com/evidence-node/evidence-node/verifier/block"
)

// Channel configuration group and value names.
const (
	groupOrderer     = "Orderer"
	groupApplication = "Application"
	valueMSP         = "MSP"
	valueConsensus   = "ConsensusType"
	valueOrderers    = "Orderers"
	consensusBFT     = "BFT"
	// maxConsenters bounds the consenter set read from a configuration.
	maxConsenters = 1024
)

// RootsFromConfig builds a channel's trust roots from its configuration
// (common.Config, as cscc GetChannelConfig returns it): the MSP of every
// orderer and application organisation, sorted by MSP ID, and on a BFT
// channel (ConsensusType "BFT") the consenter set, sorted by ID.
func RootsFromConfig(config []byte, channel, chaincode string) (vblock.Fabric, error) {
	var c common.Config
	if err := proto.Unmarshal(config, &c); err != nil {
		return vblock.Fabric{}, malformed("channel config: %v", err)
	}
	return rootsFrom(&c, channel, chaincode)
}

// RootsFromConfigBlock builds trust roots from a configuration block (such
// as the channel's genesis block, block 0).
func RootsFromConfigBlock(raw []byte, chaincode string) (vblock.Fabric, error) {
	b, err := Parse(raw)
	if err != nil {
		return vblock.Fabric{}, err
	}
	if len(b.Data) != 1 {
		return vblock.Fabric{}, malformed("block %d: a config block holds one transaction, not %d", b.Header.Number, len(b.Data))
	}
	e, ch, err := b.header(0)
	if err != nil {
		return vblock.Fabric{}, err
	}
	if common.HeaderType(ch.Type) != common.HeaderType_CONFIG {
		return vblock.Fabric{}, malformed("block %d is not a config block", b.Header.Number)
	}
	var ce common.ConfigEnvelope
	if err := proto.Unmarshal(e.payload.Data, &ce); err != nil || ce.Config == nil {
		return vblock.Fabric{}, malformed("block %d config envelope: %v", b.Header.Number, err)
	}
	return rootsFrom(ce.Config, ch.ChannelId, chaincode)
}

func rootsFrom(c *common.Config, channel, chaincode string) (vblock.Fabric, error) {
	if c.ChannelGroup == nil {
		return vblock.Fabric{}, malformed("channel config has no channel group")
	}
	f := vblock.Fabric{Channel: channel, Chaincode: chaincode}
	var err error
	if f.Orderers, err = msps(c.ChannelGroup.Groups[groupOrderer]); err != nil {
		return vblock.Fabric{}, err
	}
	if f.Orgs, err = msps(c.ChannelGroup.Groups[groupApplication]); err != nil {
		return vblock.Fabric{}, err
	}
	if len(f.Orderers) == 0 || len(f.Orgs) == 0 {
		return vblock.Fabric{}, malformed("channel config names %d orderer and %d application organisations", len(f.Orderers), len(f.Orgs))
	}
	if f.Consenters, err = consenters(c.ChannelGroup.Groups[groupOrderer]); err != nil {
		return vblock.Fabric{}, err
	}
	return f, nil
}

// consenters reads the BFT consenter set of the orderer group: nil unless
// the consensus type is BFT.
func consenters(g *common.ConfigGroup) ([]vblock.Consenter, error) {
	if g == nil || g.Values[valueConsensus] == nil {
		return nil, nil
	}
	var ct orderer.ConsensusType
	if err := proto.Unmarshal(g.Values[valueConsensus].Value, &ct); err != nil {
		return nil, malformed("consensus type: %v", err)
	}
	if ct.Type != consensusBFT {
		return nil, nil
	}
	v := g.Values[valueOrderers]
	if v == nil {
		return nil, malformed("a BFT channel config without its consenter set (Orderers)")
	}
	var os common.Orderers
	if err := proto.Unmarshal(v.Value, &os); err != nil {
		return nil, malformed("consenter set: %v", err)
	}
	if len(os.ConsenterMapping) == 0 || len(os.ConsenterMapping) > maxConsenters {
		return nil, malformed("consenter set of %d consenters", len(os.ConsenterMapping))
	}
	out := make([]vblock.Consenter, 0, len(os.ConsenterMapping))
	for _, c := range os.ConsenterMapping {
		if slices.ContainsFunc(out, func(o vblock.Consenter) bool { return o.ID == c.Id }) {
			return nil, malformed("consenter ID %d twice in the consenter set", c.Id)
		}
		if p, _ := pem.Decode(c.Identity); p == nil || p.Type != "CERTIFICATE" {
			return nil, malformed("consenter %d has no PEM certificate as its identity", c.Id)
		}
		out = append(out, vblock.Consenter{ID: c.Id, MSPID: c.MspId, Cert: string(c.Identity)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func msps(g *common.ConfigGroup) ([]vblock.MSP, error) {
	if g == nil {
		return nil, nil
	}
	names := make([]string, 0, len(g.Groups))
	for n := range g.Groups {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []vblock.MSP
	for _, n := range names {
		v := g.Groups[n].Values[valueMSP]
		if v == nil {
			return nil, malformed("organisation %s has no MSP", n)
		}
		var mc msp.MSPConfig
		if err := proto.Unmarshal(v.Value, &mc); err != nil {
			return nil, malformed("organisation %s MSP: %v", n, err)
		}
		if mc.Type != 0 { // FABRIC; idemix identities cannot sign blocks or endorse
			continue
		}
		var fc msp.FabricMSPConfig
		if err := proto.Unmarshal(mc.Config, &fc); err != nil {
			return nil, malformed("organisation %s MSP config: %v", n, err)
		}
		m := vblock.MSP{ID: fc.Name}
		for _, c := range fc.RootCerts {
			m.RootCerts = append(m.RootCerts, string(c))
		}
		for _, c := range fc.IntermediateCerts {
			m.IntermediateCerts = append(m.IntermediateCerts, string(c))
		}
		if ous := fc.FabricNodeOus; ous != nil && ous.Enable {
			if ous.PeerOuIdentifier != nil {
				m.PeerOU = ous.PeerOuIdentifier.OrganizationalUnitIdentifier
			}
			if ous.OrdererOuIdentifier != nil {
				m.OrdererOU = ous.OrdererOuIdentifier.OrganizationalUnitIdentifier
			}
		}
		if len(m.RootCerts) == 0 {
			return nil, malformed("organisation %s MSP has no root certificates", n)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Describe summarises trust roots for logs.
func Describe(f vblock.Fabric) string {
	var o, a []string
	for _, m := range f.Orderers {
		o = append(o, m.ID)
	}
	for _, m := range f.Orgs {
		a = append(a, m.ID)
	}
	s := fmt.Sprintf("channel %s, chaincode %s, orderers %v, organisations %v (%d must endorse)", f.Channel, f.Chaincode, o, a, f.RequiredEndorsers())
	if len(f.Consenters) > 0 {
		s += fmt.Sprintf(", BFT: %d consenters, %d must sign a block", len(f.Consenters), f.Quorum())
	}
	return s
}
