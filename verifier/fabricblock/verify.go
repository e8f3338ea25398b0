package fabricblock

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	vblock "github.com/evidence-node/evidence-node/verifier/block"
)

// Errors of signature and membership checks (wrapped with context).
var (
	// ErrSignature: a signature does not verify over its data.
	ErrSignature = errors.New("signature does not verify")
	// ErrUntrusted: a signer's certificate does not chain to the roots of
	// its MSP, its MSP is not a trusted one of the needed kind, or it
	// lacks the needed node OU.
	ErrUntrusted = errors.New("signer is not trusted")
	// ErrPolicy: too few organisations endorsed.
	ErrPolicy = errors.New("endorsement policy not satisfied")
	// ErrNotConsenter: on a BFT channel, a block signature by someone
	// outside the channel's consenter set.
	ErrNotConsenter = errors.New("block signed by a non-consenter")
	// ErrDuplicateSigner: on a BFT channel, two signatures of one block by
	// the same consenter.
	ErrDuplicateSigner = errors.New("a consenter signed the block more than once")
	// ErrQuorum: on a BFT channel, fewer distinct consenters signed the
	// block than the quorum needs.
	ErrQuorum = errors.New("too few distinct consenters signed the block")
)

// Role says which organisations may produce a signature.
type Role int

// Roles.
const (
	RoleOrderer Role = iota // block signer: an orderer organisation, OU orderer
	RolePeer                // endorser: an application organisation, OU peer
	RoleClient              // transaction creator: any member of an application organisation
)

func (r Role) String() string { return [...]string{"orderer", "endorser", "client"}[r] }

// VerifySignature checks an ECDSA signature, ASN.1 DER with low S (as
// Fabric's BCCSP requires), over SHA-256 of s.Data, by s.Signer's key.
func VerifySignature(s Signed) error {
	pub, ok := s.Signer.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: %s key is not ECDSA", ErrSignature, s.Signer.MSPID)
	}
	r, sv, err := parseECDSA(s.Signature)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	half := new(big.Int).Rsh(pub.Curve.Params().N, 1)
	if sv.Cmp(half) > 0 {
		return fmt.Errorf("%w: high S (Fabric accepts low-S signatures only)", ErrSignature)
	}
	d := sha256.Sum256(s.Data)
	if !ecdsa.Verify(pub, d[:], r, sv) {
		return fmt.Errorf("%w (signer %s, %s)", ErrSignature, s.Signer.MSPID, s.Signer.Cert.Subject.CommonName)
	}
	return nil
}

func parseECDSA(sig []byte) (*big.Int, *big.Int, error) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(sig, &v)
	if err != nil || len(rest) != 0 || v.R == nil || v.S == nil || v.R.Sign() <= 0 || v.S.Sign() <= 0 {
		return nil, nil, errors.New("not an ASN.1 ECDSA signature")
	}
	return v.R, v.S, nil
}

// VerifyMember checks that id is a member of a trusted organisation of the
// kind role needs: its MSP is among the roots, its certificate chains to
// that MSP's root certificates at time at, and it carries the node OU the
// role needs when the MSP defines one.
func VerifyMember(id Identity, roots vblock.Fabric, role Role, at time.Time) error {
	msps := roots.Orgs
	if role == RoleOrderer {
		msps = roots.Orderers
	}
	i := slices.IndexFunc(msps, func(m vblock.MSP) bool { return m.ID == id.MSPID })
	if i < 0 {
		return fmt.Errorf("%w: %s %q (%s) is not of a trusted %s organisation", ErrUntrusted, role, id.MSPID, id.Cert.Subject.CommonName, role)
	}
	m := msps[i]
	pool, err := certPool(m.RootCerts)
	if err != nil {
		return fmt.Errorf("trust roots of %s: %w", m.ID, err)
	}
	inter, err := certPool(m.IntermediateCerts)
	if err != nil {
		return fmt.Errorf("trust roots of %s: %w", m.ID, err)
	}
	_, err = id.Cert.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil {
		return fmt.Errorf("%w: %s %s of %s: %v", ErrUntrusted, role, id.Cert.Subject.CommonName, id.MSPID, err)
	}
	ou := ""
	switch role {
	case RoleOrderer:
		ou = m.OrdererOU
	case RolePeer:
		ou = m.PeerOU
	}
	if ou != "" && !slices.Contains(id.Cert.Subject.OrganizationalUnit, ou) {
		return fmt.Errorf("%w: %s %s of %s lacks OU %q", ErrUntrusted, role, id.Cert.Subject.CommonName, id.MSPID, ou)
	}
	return nil
}

func certPool(pems []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, p := range pems {
		b, _ := pem.Decode([]byte(p))
		if b == nil || b.Type != "CERTIFICATE" {
			return nil, errors.New("not a PEM certificate")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		pool.AddCert(c)
	}
	return pool, nil
}

// VerifyBlockSignature checks the block's orderer signatures at time at
// (the block carries no time of its own; pass the transaction's) and
// returns the key IDs of the valid signers.
//
// Raft (roots without consenters): at least one signature by a member of
// an orderer organisation must verify. Each orderer signs the copy it
// delivers, so copies of one block from different peers may carry
// different signatures over the same header.
//
// BFT (roots with the consenter set): every signature must be by a
// consenter (ErrNotConsenter), named by its consenter ID or by its
// identity, no consenter twice (ErrDuplicateSigner), each a member of its
// orderer organisation with a valid signature, and at least roots.Quorum()
// distinct consenters (ErrQuorum: 3 of 4).
func (b *Block) VerifyBlockSignature(roots vblock.Fabric, at time.Time) ([]string, error) {
	sigs, err := b.OrdererSignatures(roots.Consenters)
	if err != nil {
		return nil, err
	}
	if len(roots.Consenters) > 0 {
		return b.verifyBFT(sigs, roots, at)
	}
	var keys []string
	var errs []error
	for _, s := range sigs {
		if err := VerifyMember(s.Signer, roots, RoleOrderer, at); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := VerifySignature(s); err != nil {
			errs = append(errs, fmt.Errorf("block %d: %w", b.Header.Number, err))
			continue
		}
		keys = append(keys, s.Signer.KeyID())
	}
	if len(keys) == 0 {
		return nil, errors.Join(errs...)
	}
	return keys, nil
}

func (b *Block) verifyBFT(sigs []Signed, roots vblock.Fabric, at time.Time) ([]string, error) {
	var keys []string
	seen := map[uint32]bool{}
	for i, s := range sigs {
		id := s.Consenter
		if !s.ByID {
			// Named by identity: it must be a consenter's.
			j := slices.IndexFunc(roots.Consenters, func(c vblock.Consenter) bool {
				ci, err := ConsenterIdentity(c)
				return err == nil && ci.MSPID == s.Signer.MSPID && ci.Cert.Equal(s.Signer.Cert)
			})
			if j < 0 {
				return nil, fmt.Errorf("block %d signature %d: %w: %s of %s is not in the channel's consenter set", b.Header.Number, i, ErrNotConsenter, s.Signer.Cert.Subject.CommonName, s.Signer.MSPID)
			}
			id = roots.Consenters[j].ID
		}
		if seen[id] {
			return nil, fmt.Errorf("block %d signature %d: %w: consenter %d", b.Header.Number, i, ErrDuplicateSigner, id)
		}
		seen[id] = true
		if err := VerifyMember(s.Signer, roots, RoleOrderer, at); err != nil {
			return nil, fmt.Errorf("block %d signature %d (consenter %d): %w", b.Header.Number, i, id, err)
		}
		if err := VerifySignature(s); err != nil {
			return nil, fmt.Errorf("block %d signature %d (consenter %d): %w", b.Header.Number, i, id, err)
		}
		keys = append(keys, s.Signer.KeyID())
	}
	if q := roots.Quorum(); len(seen) < q {
		return nil, fmt.Errorf("block %d: %w: %d of %d consenters, %d needed", b.Header.Number, ErrQuorum, len(seen), len(roots.Consenters), q)
	}
	return keys, nil
}

// Verify checks the transaction's signatures against the roots: the
// bindings (CheckBindings), the creator's membership and signature, and
// every endorsement's; and that endorsers of enough distinct application
// organisations signed. It returns the endorsers' key IDs in endorsement
// order. Certificates are checked at the transaction's timestamp.
func (tx *Tx) Verify(roots vblock.Fabric) ([]string, error) {
	if err := tx.CheckBindings(); err != nil {
		return nil, err
	}
	if err := VerifyMember(tx.Creator, roots, RoleClient, tx.Timestamp); err != nil {
		return nil, fmt.Errorf("transaction %s creator: %w", tx.ID, err)
	}
	if err := VerifySignature(tx.Client); err != nil {
		return nil, fmt.Errorf("transaction %s creator: %w", tx.ID, err)
	}
	var keys []string
	var orgs []string
	for i, e := range tx.Endorsements {
		if err := VerifyMember(e.Signer, roots, RolePeer, tx.Timestamp); err != nil {
			return nil, fmt.Errorf("transaction %s endorsement %d: %w", tx.ID, i, err)
		}
		if err := VerifySignature(e); err != nil {
			return nil, fmt.Errorf("transaction %s endorsement %d: %w", tx.ID, i, err)
		}
		keys = append(keys, e.Signer.KeyID())
		if !slices.Contains(orgs, e.Signer.MSPID) {
			orgs = append(orgs, e.Signer.MSPID)
		}
	}
	if need := roots.RequiredEndorsers(); len(orgs) < need {
		return nil, fmt.Errorf("transaction %s: %w: endorsed by %v, %d organisations needed", tx.ID, ErrPolicy, orgs, need)
	}
	return keys, nil
}
