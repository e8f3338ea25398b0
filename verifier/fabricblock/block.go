// Package fabricblock reads Hyperledger Fabric blocks for offline
// verification: the block header and its hash, the data hash over the
// transaction envelopes, the validation codes, the orderer's block
// signature, and, in an endorser transaction, the client's signature, the
// endorsements, the chaincode's arguments and its write set. It also reads
// the evidence chaincode's state formats (state.go) and the trust roots of
// a channel from its configuration (config.go).
//
// It parses protobuf with github.com/hyperledger/fabric-protos-go-apiv2
// and checks signatures with the standard library; it needs no network and
// no Fabric code. Every function here is pure.
package fabricblock

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	vblock "github.com/evidence-node/evidence-node/verifier/block"
)

// ErrBlock is wrapped by every error about a malformed block or
// transaction.
var ErrBlock = errors.New("malformed Fabric block")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBlock, fmt.Sprintf(format, args...))
}

// Block is a parsed Fabric block (common.Block). Parse checks syntax only.
type Block struct {
	// Header is the block header; its Hash is the block hash.
	Header vblock.Header
	// Data holds the raw transaction envelopes, as hashed into DataHash.
	Data [][]byte
	// Metadata holds the raw metadata entries, indexed by
	// common.BlockMetadataIndex.
	Metadata [][]byte
}

// Parse decodes a block in Fabric's protobuf encoding (as peer channel
// fetch writes it and qscc GetBlockByNumber returns it).
func Parse(raw []byte) (*Block, error) {
	var pb common.Block
	if err := proto.Unmarshal(raw, &pb); err != nil {
		return nil, malformed("%v", err)
	}
	if pb.Header == nil {
		return nil, malformed("no header")
	}
	b := &Block{
		Header: vblock.NewHeader(pb.Header.Number, pb.Header.PreviousHash, pb.Header.DataHash),
	}
	if pb.Data != nil {
		b.Data = pb.Data.Data
	}
	if pb.Metadata != nil {
		b.Metadata = pb.Metadata.Metadata
	}
	return b, nil
}

// DataHash computes the data hash as Fabric does (protoutil.
// ComputeBlockDataHash): SHA-256 over the concatenation of the raw
// envelopes, with nothing between them.
func (b *Block) DataHash() []byte {
	h := sha256.New()
	for _, d := range b.Data {
		h.Write(d)
	}
	return h.Sum(nil)
}

// HashMismatchError says a computed hash differs from the one recorded.
type HashMismatchError struct {
	What               string
	Recorded, Computed []byte
}

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("%s: recorded %x, computed %x", e.What, e.Recorded, e.Computed)
}

// CheckDataHash checks the header's data hash against the data.
func (b *Block) CheckDataHash() error {
	if got := b.DataHash(); !bytes.Equal(got, b.Header.DataHash) {
		return &HashMismatchError{What: fmt.Sprintf("block %d data hash", b.Header.Number), Recorded: b.Header.DataHash, Computed: got}
	}
	return nil
}

// ValidationCode returns the validation code the committing peer recorded
// for transaction i (metadata TRANSACTIONS_FILTER, one byte per
// transaction; 0 is VALID). The orderer's signature does not cover it: it
// is the committing peer's verdict.
func (b *Block) ValidationCode(i int) (peer.TxValidationCode, error) {
	idx := int(common.BlockMetadataIndex_TRANSACTIONS_FILTER)
	if len(b.Metadata) <= idx || len(b.Metadata[idx]) != len(b.Data) {
		return 0, malformed("block %d: transaction filter does not cover its %d transactions", b.Header.Number, len(b.Data))
	}
	if i < 0 || i >= len(b.Data) {
		return 0, malformed("block %d has no transaction %d", b.Header.Number, i)
	}
	return peer.TxValidationCode(b.Metadata[idx][i]), nil
}

// Identity is a Fabric identity: an MSP ID and an X.509 certificate.
type Identity struct {
	MSPID string
	Cert  *x509.Certificate
	// Raw is the serialized identity (msp.SerializedIdentity) as signed.
	Raw []byte
}

// KeyID is the key ID (block.KeyID) of the certificate's public key.
func (id Identity) KeyID() string {
	k, err := vblock.KeyID(id.Cert.PublicKey)
	if err != nil {
		return ""
	}
	return k
}

// ParseIdentity decodes a serialized identity holding a PEM certificate.
func ParseIdentity(raw []byte) (Identity, error) {
	var si msp.SerializedIdentity
	if err := proto.Unmarshal(raw, &si); err != nil {
		return Identity{}, malformed("identity: %v", err)
	}
	p, _ := pem.Decode(si.IdBytes)
	if p == nil || p.Type != "CERTIFICATE" {
		return Identity{}, malformed("identity of %q holds no PEM certificate", si.Mspid)
	}
	c, err := x509.ParseCertificate(p.Bytes)
	if err != nil {
		return Identity{}, malformed("identity of %q: %v", si.Mspid, err)
	}
	return Identity{MSPID: si.Mspid, Cert: c, Raw: raw}, nil
}

// Signed is a signature by an identity over some bytes.
type Signed struct {
	Signer    Identity
	Data      []byte
	Signature []byte
	// ByID says the block signature named its signer by consenter ID
	// (BFT): Consenter is that ID and Signer the consenter's identity from
	// the channel's consenter set.
	ByID      bool
	Consenter uint32
}

// OrdererSignatures returns the block signatures in metadata SIGNATURES.
// A signature names its signer either by a signature header holding the
// signer's identity (Raft, and BFT orderers may too) and covers the
// metadata value (OrdererBlockMetadata), the signature header and the
// ASN.1 header bytes; or (BFT) by an identifier header holding its
// consenter ID, mapped to the consenter's identity in consenters (the
// channel's consenter set), and covers the metadata value, the identifier
// header and the header bytes (protoutil.BlockSignatureVerifier). An ID
// outside consenters is an ErrNotConsenter.
func (b *Block) OrdererSignatures(consenters []vblock.Consenter) ([]Signed, error) {
	idx := int(common.BlockMetadataIndex_SIGNATURES)
	if len(b.Metadata) <= idx {
		return nil, malformed("block %d has no signature metadata", b.Header.Number)
	}
	var md common.Metadata
	if err := proto.Unmarshal(b.Metadata[idx], &md); err != nil {
		return nil, malformed("block %d signature metadata: %v", b.Header.Number, err)
	}
	hb := b.Header.Bytes()
	var out []Signed
	for i, s := range md.Signatures {
		signed := func(hdr []byte) []byte {
			data := make([]byte, 0, len(md.Value)+len(hdr)+len(hb))
			return append(append(append(data, md.Value...), hdr...), hb...)
		}
		if len(s.SignatureHeader) == 0 {
			if len(s.IdentifierHeader) == 0 {
				return nil, malformed("block %d signature %d names no signer", b.Header.Number, i)
			}
			var ih common.IdentifierHeader
			if err := proto.Unmarshal(s.IdentifierHeader, &ih); err != nil {
				return nil, malformed("block %d signature %d identifier header: %v", b.Header.Number, i, err)
			}
			if len(consenters) == 0 {
				return nil, fmt.Errorf("block %d signature %d: %w: it names consenter %d, but the trust roots have no consenter set (not a BFT channel's)", b.Header.Number, i, ErrNotConsenter, ih.Identifier)
			}
			j := slices.IndexFunc(consenters, func(c vblock.Consenter) bool { return c.ID == ih.Identifier })
			if j < 0 {
				return nil, fmt.Errorf("block %d signature %d: %w: consenter ID %d is not in the channel's consenter set", b.Header.Number, i, ErrNotConsenter, ih.Identifier)
			}
			id, err := ConsenterIdentity(consenters[j])
			if err != nil {
				return nil, err
			}
			out = append(out, Signed{Signer: id, Data: signed(s.IdentifierHeader), Signature: s.Signature, ByID: true, Consenter: ih.Identifier})
			continue
		}
		var sh common.SignatureHeader
		if err := proto.Unmarshal(s.SignatureHeader, &sh); err != nil {
			return nil, malformed("block %d signature %d header: %v", b.Header.Number, i, err)
		}
		id, err := ParseIdentity(sh.Creator)
		if err != nil {
			return nil, fmt.Errorf("block %d signature %d: %w", b.Header.Number, i, err)
		}
		out = append(out, Signed{Signer: id, Data: signed(s.SignatureHeader), Signature: s.Signature})
	}
	if len(out) == 0 {
		return nil, malformed("block %d is not signed", b.Header.Number)
	}
	return out, nil
}

// ConsenterIdentity is the identity of a consenter of the consenter set:
// its MSP ID and certificate, serialized as Fabric does.
func ConsenterIdentity(c vblock.Consenter) (Identity, error) {
	raw, err := proto.Marshal(&msp.SerializedIdentity{Mspid: c.MSPID, IdBytes: []byte(c.Cert)})
	if err != nil {
		return Identity{}, malformed("consenter %d: %v", c.ID, err)
	}
	id, err := ParseIdentity(raw)
	if err != nil {
		return Identity{}, fmt.Errorf("consenter %d: %w", c.ID, err)
	}
	return id, nil
}

// Write is one key written by a transaction.
type Write struct {
	Namespace string
	Key       string
	Value     []byte
	Delete    bool
}

// Tx is an endorser transaction of a block.
type Tx struct {
	// Index is the transaction's position in the block.
	Index int
	ID    string
	// Channel and Timestamp come from the channel header; Timestamp is
	// asserted by the client.
	Channel   string
	Timestamp time.Time
	// Creator signed the envelope (Client).
	Creator Identity
	Client  Signed
	// Chaincode is the name of the chaincode that ran (from the endorsed
	// chaincode action), Args its invocation arguments, function first.
	Chaincode string
	Args      [][]byte
	// Status and Payload are the chaincode's response.
	Status  int32
	Payload []byte
	// Writes is the endorsed write set, in order.
	Writes []Write
	// Endorsements are the endorsers' signatures over the proposal
	// response payload.
	Endorsements []Signed

	nonce        []byte
	proposalHash []byte // as endorsed
	computedHash []byte // from the header and the proposal payload
}

// TxIDMismatchError says a transaction's ID is not derived from its nonce
// and creator as Fabric requires.
var ErrTxID = errors.New("transaction ID is not SHA-256(nonce ‖ creator)")

// ErrProposalHash means the arguments in the transaction are not those the
// endorsers endorsed.
var ErrProposalHash = errors.New("proposal hash does not match the transaction's header and arguments")

// ErrNotFound means the block holds no transaction with the ID sought.
var ErrNotFound = errors.New("transaction not in block")

// FindTx returns the endorser transaction with the given ID.
func (b *Block) FindTx(txID string) (*Tx, error) {
	for i := range b.Data {
		env, ch, err := b.header(i)
		if err != nil {
			return nil, err
		}
		if ch.TxId == txID && common.HeaderType(ch.Type) == common.HeaderType_ENDORSER_TRANSACTION {
			return b.parseTx(i, env, ch)
		}
	}
	return nil, fmt.Errorf("%w: %s in block %d", ErrNotFound, txID, b.Header.Number)
}

// Transactions returns the endorser transactions of the block (skipping
// configuration and other transaction types).
func (b *Block) Transactions() ([]*Tx, error) {
	var out []*Tx
	for i := range b.Data {
		env, ch, err := b.header(i)
		if err != nil {
			return nil, err
		}
		if common.HeaderType(ch.Type) != common.HeaderType_ENDORSER_TRANSACTION {
			continue
		}
		tx, err := b.parseTx(i, env, ch)
		if err != nil {
			return nil, err
		}
		out = append(out, tx)
	}
	return out, nil
}

// TxIDs returns the IDs of the block's endorser transactions, in order,
// reading only their channel headers: nothing else of a transaction is
// parsed or checked (FindTx and Transactions do that).
func (b *Block) TxIDs() ([]string, error) {
	var out []string
	for i := range b.Data {
		_, ch, err := b.header(i)
		if err != nil {
			return nil, err
		}
		if common.HeaderType(ch.Type) == common.HeaderType_ENDORSER_TRANSACTION {
			out = append(out, ch.TxId)
		}
	}
	return out, nil
}

type envelope struct {
	env     *common.Envelope
	payload *common.Payload
}

func (b *Block) header(i int) (envelope, *common.ChannelHeader, error) {
	var env common.Envelope
	if err := proto.Unmarshal(b.Data[i], &env); err != nil {
		return envelope{}, nil, malformed("block %d transaction %d: %v", b.Header.Number, i, err)
	}
	var pl common.Payload
	if err := proto.Unmarshal(env.Payload, &pl); err != nil || pl.Header == nil {
		return envelope{}, nil, malformed("block %d transaction %d payload: %v", b.Header.Number, i, err)
	}
	var ch common.ChannelHeader
	if err := proto.Unmarshal(pl.Header.ChannelHeader, &ch); err != nil {
		return envelope{}, nil, malformed("block %d transaction %d channel header: %v", b.Header.Number, i, err)
	}
	return envelope{&env, &pl}, &ch, nil
}

func (b *Block) parseTx(i int, e envelope, ch *common.ChannelHeader) (*Tx, error) {
	fail := func(format string, args ...any) error {
		return malformed("block %d transaction %d (%s): %s", b.Header.Number, i, ch.TxId, fmt.Sprintf(format, args...))
	}
	tx := &Tx{Index: i, ID: ch.TxId, Channel: ch.ChannelId}
	if ch.Timestamp == nil {
		return nil, fail("no timestamp")
	}
	tx.Timestamp = ch.Timestamp.AsTime()
	var sh common.SignatureHeader
	if err := proto.Unmarshal(e.payload.Header.SignatureHeader, &sh); err != nil {
		return nil, fail("signature header: %v", err)
	}
	creator, err := ParseIdentity(sh.Creator)
	if err != nil {
		return nil, fail("creator: %v", err)
	}
	tx.Creator, tx.nonce = creator, sh.Nonce
	tx.Client = Signed{Signer: creator, Data: e.env.Payload, Signature: e.env.Signature}

	var t peer.Transaction
	if err := proto.Unmarshal(e.payload.Data, &t); err != nil {
		return nil, fail("%v", err)
	}
	if len(t.Actions) != 1 {
		return nil, fail("%d actions, Fabric allows one", len(t.Actions))
	}
	act := t.Actions[0]
	var cap peer.ChaincodeActionPayload
	if err := proto.Unmarshal(act.Payload, &cap); err != nil || cap.Action == nil {
		return nil, fail("action payload: %v", err)
	}
	// The proposal hash binds the header and the arguments to what the
	// endorsers signed (Fabric's validateEndorserTransaction).
	h := sha256.New()
	h.Write(e.payload.Header.ChannelHeader)
	h.Write(act.Header)
	h.Write(cap.ChaincodeProposalPayload)
	tx.computedHash = h.Sum(nil)

	var cpp peer.ChaincodeProposalPayload
	if err := proto.Unmarshal(cap.ChaincodeProposalPayload, &cpp); err != nil {
		return nil, fail("proposal payload: %v", err)
	}
	var cis peer.ChaincodeInvocationSpec
	if err := proto.Unmarshal(cpp.Input, &cis); err != nil || cis.ChaincodeSpec == nil || cis.ChaincodeSpec.Input == nil {
		return nil, fail("invocation spec: %v", err)
	}
	tx.Args = cis.ChaincodeSpec.Input.Args

	var prp peer.ProposalResponsePayload
	if err := proto.Unmarshal(cap.Action.ProposalResponsePayload, &prp); err != nil {
		return nil, fail("proposal response payload: %v", err)
	}
	tx.proposalHash = prp.ProposalHash
	var ca peer.ChaincodeAction
	if err := proto.Unmarshal(prp.Extension, &ca); err != nil {
		return nil, fail("chaincode action: %v", err)
	}
	if ca.ChaincodeId == nil || ca.Response == nil {
		return nil, fail("chaincode action without chaincode ID or response")
	}
	tx.Chaincode = ca.ChaincodeId.Name
	tx.Status, tx.Payload = ca.Response.Status, ca.Response.Payload
	var rws rwset.TxReadWriteSet
	if err := proto.Unmarshal(ca.Results, &rws); err != nil {
		return nil, fail("read-write set: %v", err)
	}
	for _, ns := range rws.NsRwset {
		var kv kvrwset.KVRWSet
		if err := proto.Unmarshal(ns.Rwset, &kv); err != nil {
			return nil, fail("read-write set of %q: %v", ns.Namespace, err)
		}
		for _, w := range kv.Writes {
			tx.Writes = append(tx.Writes, Write{Namespace: ns.Namespace, Key: w.Key, Value: w.Value, Delete: w.IsDelete})
		}
	}
	for j, en := range cap.Action.Endorsements {
		id, err := ParseIdentity(en.Endorser)
		if err != nil {
			return nil, fail("endorsement %d: %v", j, err)
		}
		data := make([]byte, 0, len(cap.Action.ProposalResponsePayload)+len(en.Endorser))
		data = append(append(data, cap.Action.ProposalResponsePayload...), en.Endorser...)
		tx.Endorsements = append(tx.Endorsements, Signed{Signer: id, Data: data, Signature: en.Signature})
	}
	return tx, nil
}

// CheckBindings checks what ties the transaction together without keys:
// its ID is SHA-256(nonce ‖ creator) and the endorsed proposal hash covers
// its header and arguments.
func (tx *Tx) CheckBindings() error {
	s := sha256.New()
	s.Write(tx.nonce)
	s.Write(tx.Creator.Raw)
	if hex.EncodeToString(s.Sum(nil)) != tx.ID {
		return fmt.Errorf("transaction %s: %w", tx.ID, ErrTxID)
	}
	if !bytes.Equal(tx.proposalHash, tx.computedHash) {
		return fmt.Errorf("transaction %s: %w", tx.ID, ErrProposalHash)
	}
	return nil
}

// Value returns the value the transaction wrote under key in namespace ns.
func (tx *Tx) Value(ns, key string) ([]byte, bool) {
	for _, w := range tx.Writes {
		if w.Namespace == ns && w.Key == key && !w.Delete {
			return w.Value, true
		}
	}
	return nil, false
}
