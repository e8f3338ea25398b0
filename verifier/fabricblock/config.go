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
	// The Orderer group's consensus type and, on BFT channels, its
	// consenter set.
	valueConsensusType = "ConsensusType"
	valueOrderers      = "Orderers"
	consensusBFT       = "BFT"
	// maxConsenters bounds the consenter set read from a configuration.
	maxConsenters = 64
)

// RootsFromConfig builds a channel's trust roots from its configuration
// (common.Config, as cscc GetChannelConfig returns it): the MSP of every
// orderer and application organisation, sorted by MSP ID.
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
	if f.Consenters, err = consenters(c.ChannelGroup.Groups[groupOrderer], f.Orderers); err != nil {
		return vblock.Fabric{}, err
	}
	return f, nil
}

// consenters returns the consenter set of a BFT channel's Orderer group,
// sorted by ID, or nil when the channel is not ordered by BFT. Every
// consenter must be of one of the orderer organisations, with a distinct
// ID and a PEM certificate.
func consenters(g *common.ConfigGroup, orderers []vblock.MSP) ([]vblock.Consenter, error) {
	if g == nil || g.Values[valueConsensusType] == nil {
		return nil, nil
	}
	var ct orderer.ConsensusType
	if err := proto.Unmarshal(g.Values[valueConsensusType].Value, &ct); err != nil {
		return nil, malformed("orderer consensus type: %v", err)
	}
	if ct.Type != consensusBFT {
		return nil, nil
	}
	v := g.Values[valueOrderers]
	if v == nil {
		return nil, malformed("BFT channel config has no consenter set (Orderer value %q)", valueOrderers)
	}
	var os common.Orderers
	if err := proto.Unmarshal(v.Value, &os); err != nil {
		return nil, malformed("BFT consenter set: %v", err)
	}
	if len(os.ConsenterMapping) == 0 || len(os.ConsenterMapping) > maxConsenters {
		return nil, malformed("BFT consenter set has %d consenters (1 to %d)", len(os.ConsenterMapping), maxConsenters)
	}
	var out []vblock.Consenter
	for _, c := range os.ConsenterMapping {
		if !slices.ContainsFunc(orderers, func(m vblock.MSP) bool { return m.ID == c.MspId }) {
			return nil, malformed("consenter %d is of %q, not an orderer organisation of the channel", c.Id, c.MspId)
		}
		if p, _ := pem.Decode(c.Identity); p == nil || p.Type != "CERTIFICATE" {
			return nil, malformed("consenter %d identity holds no PEM certificate", c.Id)
		}
		if slices.ContainsFunc(out, func(o vblock.Consenter) bool { return o.ID == c.Id }) {
			return nil, malformed("consenter ID %d appears twice in the consenter set", c.Id)
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
	ordering := "Raft (one orderer signature)"
	if n := len(f.Consenters); n > 0 {
		ordering = fmt.Sprintf("BFT (%d of %d consenters sign)", f.BFTQuorum(), n)
	}
	return fmt.Sprintf("channel %s, chaincode %s, orderers %v, %s, organisations %v (%d must endorse)", f.Channel, f.Chaincode, o, ordering, a, f.RequiredEndorsers())
}
