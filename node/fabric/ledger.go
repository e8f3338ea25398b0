// Package fabric is the node's Ledger on Hyperledger Fabric: records go
// to the evidence chaincode (chaincode/) through the Fabric Gateway
// (github.com/hyperledger/fabric-gateway), many records per transaction.
// After a transaction commits, the committed block is read back (qscc) and
// every receipt is filled from it — block number, header hash, the
// transaction's timestamp — and carries the raw block as its proof
// (verifier.ProofFabric). Nothing is cached that the ledger cannot give
// again: a node with an empty data directory reads any record's receipt
// from the chaincode and qscc.
//
// This is the only package that imports the gateway.
package fabric

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/verifier"
	"github.com/evidence-node/evidence-node/verifier/block"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/fabricblock"
)

var _ node.Ledger = (*Ledger)(nil)

// MaxRequest is the most records one Append takes: the chaincode's limit
// on one transaction (chaincode.MaxBatch, copied, not imported).
const MaxRequest = 5000

// maxMessage bounds gRPC messages (blocks read back can be large).
const maxMessage = 100 << 20

// Config configures a Fabric ledger.
type Config struct {
	// Profile is the path of the connection profile network/up writes
	// (RUN_DIR/connection.json).
	Profile string
	// Org is the organisation (short name or MSP ID) whose peer the node
	// connects to and whose user it signs as; empty: the first.
	Org string
	// Chaincode is the evidence chaincode's name (default "evidence").
	Chaincode string
	// Name is the ledger name in receipts (default "<channel>/<chaincode>").
	Name string
	// MaxBatch is the most records per transaction (default 500: ~400 KB,
	// over the Raft network's PreferredMaxBytes of 256 KB, so the orderer
	// cuts a full batch into a block at once; and small enough that 1,024
	// concurrent appends keep two batches in flight, one endorsed while
	// the other commits: 13 % more records/s than 1,000, see
	// docs/benchmarks.md); a single Append is never split, so one larger
	// Append goes alone.
	MaxBatch int
	// MaxWait is how long a batch that is not full waits for more records
	// while other transactions are in flight (default 20ms; negative: never
	// wait). With none in flight a batch is submitted at once.
	MaxWait time.Duration
	// MaxInFlight is how many transactions may be in flight (default 8).
	MaxInFlight int
	// CallTimeout bounds each gateway call (default 30s); BatchTimeout a
	// batch's whole life including retries (default 2m).
	CallTimeout  time.Duration
	BatchTimeout time.Duration
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
	// OnBatch, if set, is called after each transaction commits.
	OnBatch func(block uint64, records int, took time.Duration)
	// OnTx, if set, is called once per batch transaction an Append
	// answers with (committed now or found on the ledger), before the
	// answer: the node asks for its trusted timestamps (node/tsa). An
	// error is logged; the answer is not held back.
	OnTx func(txID string, batchRoot []byte, block uint64, ledgerTime string) error
	// OnCorrupted, if set, is called each time a block or transaction the
	// peer served fails the verifier's check and is refused (answered
	// node.ErrCorrupted): block is its number (-1 if not known), first is
	// true the first time that block is found corrupted (as
	// embedded.Config.OnCorrupted).
	OnCorrupted func(block int64, first bool)
}

func (c *Config) defaults() {
	if c.Chaincode == "" {
		c.Chaincode = "evidence"
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 500
	}
	if c.MaxBatch > MaxRequest {
		c.MaxBatch = MaxRequest
	}
	if c.MaxWait == 0 {
		c.MaxWait = 20 * time.Millisecond
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 8
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = 2 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Profile == "" {
		return errors.New("fabric: no connection profile")
	}
	if c.MaxWait > time.Minute {
		return fmt.Errorf("fabric: batch wait %v: want at most 1m", c.MaxWait)
	}
	return nil
}

// Ledger is the Fabric ledger.
type Ledger struct {
	cfg     Config
	profile Profile
	org     ProfileOrg
	name    string

	conn *grpc.ClientConn
	gw   *client.Gateway
	cc   *client.Contract // the evidence chaincode
	qscc *client.Contract
	cscc *client.Contract

	rootsMu sync.Mutex
	roots   *block.TrustRoots

	cache    *blockCache
	reported reported

	batcher *node.Batcher
	closed  atomic.Bool
}

// Open connects to the organisation's peer. It does not fail when the
// network is down: calls then fail with node.ErrUnavailable until it is
// back (the gRPC connection reconnects by itself).
func Open(cfg Config) (*Ledger, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	prof, err := LoadProfile(cfg.Profile)
	if err != nil {
		return nil, err
	}
	org, err := prof.Org(cfg.Org)
	if err != nil {
		return nil, err
	}
	id, sign, err := loadIdentity(org)
	if err != nil {
		return nil, err
	}
	conn, err := dial(org.Peer)
	if err != nil {
		return nil, err
	}
	gw, err := client.Connect(id, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(cfg.CallTimeout), client.WithEndorseTimeout(cfg.CallTimeout),
		client.WithSubmitTimeout(cfg.CallTimeout), client.WithCommitStatusTimeout(cfg.BatchTimeout))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("fabric: gateway: %w", err)
	}
	nw := gw.GetNetwork(prof.Channel)
	name := cfg.Name
	if name == "" {
		name = prof.Channel + "/" + cfg.Chaincode
	}
	l := &Ledger{
		cfg: cfg, profile: prof, org: org, name: name,
		conn: conn, gw: gw,
		cc: nw.GetContract(cfg.Chaincode), qscc: nw.GetContract("qscc"), cscc: nw.GetContract("cscc"),
		cache: newBlockCache(64),
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.CallTimeout)
	defer cancel()
	if _, err := l.trustRoots(ctx); err != nil {
		cfg.Logger.Warn("fabric: trust roots not read yet (will retry)", "component", "ledger", "err", err)
	}
	// An idle ledger submits at once; while other transactions are in
	// flight a batch lingers up to MaxWait to fill.
	maxWait := cfg.MaxWait
	if maxWait < 0 {
		maxWait = 0
	}
	l.batcher = node.NewBatcher(node.BatcherConfig{MaxRecords: cfg.MaxBatch, MaxWait: maxWait, MaxInFlight: cfg.MaxInFlight}, l.commit)
	return l, nil
}

func loadIdentity(org ProfileOrg) (*identity.X509Identity, identity.Sign, error) {
	certPEM, err := os.ReadFile(org.User.Cert)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: identity of %s: %w", org.MSPID, err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: identity of %s: %w", org.MSPID, err)
	}
	id, err := identity.NewX509Identity(org.MSPID, cert)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: identity of %s: %w", org.MSPID, err)
	}
	keyPEM, err := os.ReadFile(org.User.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: key of %s: %w", org.MSPID, err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: key of %s: %w", org.MSPID, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: key of %s: %w", org.MSPID, err)
	}
	return id, sign, nil
}

func dial(p Endpoint) (*grpc.ClientConn, error) {
	ca, err := os.ReadFile(p.TLSCACert)
	if err != nil {
		return nil, fmt.Errorf("fabric: TLS CA of %s: %w", p.Name, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("fabric: TLS CA of %s: no certificate in %s", p.Name, p.TLSCACert)
	}
	conn, err := grpc.NewClient(p.Endpoint,
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, p.ServerHostOverride)),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
		// Reconnect within seconds after a peer restart (gRPC's default
		// backoff grows to two minutes).
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 3 * time.Second,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("fabric: dial %s: %w", p.Endpoint, err)
	}
	return conn, nil
}

// Close stops taking Appends, finishes those already queued, and closes
// the connection.
func (l *Ledger) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	l.batcher.Close()
	l.gw.Close()
	return l.conn.Close()
}

// checkOpen fails with node.ErrClosed after Close.
func (l *Ledger) checkOpen() error {
	if l.closed.Load() {
		return node.ErrClosed
	}
	return nil
}

// unavailable wraps err as node.ErrUnavailable unless it already says more.
func unavailable(what string, err error) error {
	if errors.Is(err, node.ErrNotFound) || errors.Is(err, node.ErrConflict) || errors.Is(err, node.ErrUnavailable) || errors.Is(err, node.ErrClosed) || errors.Is(err, node.ErrCorrupted) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", node.ErrUnavailable, what, err)
}

// evaluate runs a query on the chaincode c.
func (l *Ledger) evaluate(ctx context.Context, c *client.Contract, fn string, args ...string) ([]byte, error) {
	out, err := c.EvaluateWithContext(ctx, fn, client.WithArguments(args...))
	if err != nil {
		return nil, unavailable(c.ChaincodeName()+" "+fn, err)
	}
	return out, nil
}

// trustRoots returns the channel's trust roots, read once from the
// channel configuration (cscc GetChannelConfig). The lock is not held
// over the call: callers racing before the first answer each ask, and the
// first answer is kept.
func (l *Ledger) trustRoots(ctx context.Context) (block.TrustRoots, error) {
	l.rootsMu.Lock()
	roots := l.roots
	l.rootsMu.Unlock()
	if roots != nil {
		return *roots, nil
	}
	cfg, err := l.evaluate(ctx, l.cscc, "GetChannelConfig", l.profile.Channel)
	if err != nil {
		return block.TrustRoots{}, err
	}
	f, err := fabricblock.RootsFromConfig(cfg, l.profile.Channel, l.cfg.Chaincode)
	if err != nil {
		return block.TrustRoots{}, unavailable("channel config", err)
	}
	l.rootsMu.Lock()
	defer l.rootsMu.Unlock()
	if l.roots == nil {
		l.roots = &block.TrustRoots{Ledger: l.name, Kind: block.KindFabric, Fabric: &f}
		l.cfg.Logger.Info("fabric: trust roots: "+fabricblock.Describe(f), "component", "ledger")
	}
	return *l.roots, nil
}

// Info implements node.Ledger.
func (l *Ledger) Info(ctx context.Context) (node.Info, error) {
	if err := l.checkOpen(); err != nil {
		return node.Info{}, err
	}
	roots, err := l.trustRoots(ctx)
	if err != nil {
		return node.Info{}, err
	}
	h, err := l.height(ctx)
	if err != nil {
		return node.Info{}, err
	}
	return node.Info{Name: l.name, Kind: block.KindFabric, Height: h, TrustRoots: roots}, nil
}

func (l *Ledger) height(ctx context.Context) (uint64, error) {
	out, err := l.evaluate(ctx, l.qscc, "GetChainInfo", l.profile.Channel)
	if err != nil {
		return 0, err
	}
	var bi common.BlockchainInfo
	if err := proto.Unmarshal(out, &bi); err != nil {
		return 0, unavailable("chain info", err)
	}
	return bi.Height, nil
}

// Block implements node.Ledger: the raw protobuf block, Kind "fabric",
// checked before it is served (checkBlock: a *node.CorruptedError if the
// bytes the peer served fail the verifier's check). Records counts the
// evidence records of the block's valid evidence transactions; Time is the
// timestamp of its first transaction (the header carries none).
func (l *Ledger) Block(ctx context.Context, n uint64) (node.Block, error) {
	if err := l.checkOpen(); err != nil {
		return node.Block{}, err
	}
	h, err := l.height(ctx)
	if err != nil {
		return node.Block{}, err
	}
	if n >= h {
		return node.Block{}, fmt.Errorf("block %d (height %d): %w", n, h, node.ErrNotFound)
	}
	cb, err := l.blockByNumber(ctx, n)
	if err != nil {
		return node.Block{}, err
	}
	return l.serveBlock(ctx, cb)
}

// serveBlock checks cb (checkBlock) and returns it as node.Block.
func (l *Ledger) serveBlock(ctx context.Context, cb *cachedBlock) (node.Block, error) {
	txs, err := l.checkBlock(ctx, cb)
	if err != nil {
		return node.Block{}, err
	}
	out := node.Block{Header: cb.b.Header, Kind: block.KindFabric, Raw: cb.raw}
	for i, tx := range txs {
		if i == 0 {
			out.Time = verifier.FormatTime(tx.Timestamp)
		}
		if l.isEvidenceTx(cb, tx) {
			out.Records += len(batchLeaves(tx))
		}
	}
	return out, nil
}

// checkBlock checks a block the peer served before it is served whole,
// with the verifier's rules and nothing of its own: the data hash covers
// the transactions (fabricblock.Block.CheckDataHash, as verify-package
// checks every Fabric block), and every evidence transaction the peer
// marked VALID passes verifier.CheckFabricTx (txProof), which also checks
// the orderer's signature over the header. A block without evidence
// transactions (the genesis block, a configuration block) is checked for
// its data hash only, as verify-package does. It returns the block's
// transactions.
func (l *Ledger) checkBlock(ctx context.Context, cb *cachedBlock) ([]*fabricblock.Tx, error) {
	n := int64(cb.b.Header.Number)
	cb.mu.Lock()
	checked := cb.checked
	cb.mu.Unlock()
	if !checked {
		if err := cb.b.CheckDataHash(); err != nil {
			return nil, l.corrupted(cb, n, "", "", err)
		}
	}
	txs, err := cb.b.Transactions()
	if err != nil {
		return nil, l.corrupted(cb, n, "", "", err)
	}
	if checked {
		return txs, nil
	}
	for _, tx := range txs {
		if !l.isEvidenceTx(cb, tx) {
			continue
		}
		if _, err := l.txProof(ctx, cb, tx.ID); err != nil {
			return nil, err
		}
	}
	cb.mu.Lock()
	cb.checked = true
	cb.mu.Unlock()
	return txs, nil
}

// isEvidenceTx reports whether tx is an evidence transaction (the evidence
// chaincode's Put or PutBatch) the peer marked VALID: the transactions
// whose records a block adds.
func (l *Ledger) isEvidenceTx(cb *cachedBlock, tx *fabricblock.Tx) bool {
	if tx.Chaincode != l.cfg.Chaincode || batchLeaves(tx) == nil {
		return false
	}
	code, err := cb.b.ValidationCode(tx.Index)
	return err == nil && code == 0
}

// Receipt implements node.Ledger. It reads the record's entry from the
// chaincode and the block of the transaction that wrote it from qscc.
func (l *Ledger) Receipt(ctx context.Context, id evidence.ID) (verifier.Receipt, error) {
	if err := l.checkOpen(); err != nil {
		return verifier.Receipt{}, err
	}
	return l.receiptByID(ctx, id)
}

func (l *Ledger) receiptByID(ctx context.Context, id evidence.ID) (verifier.Receipt, error) {
	out, err := l.evaluate(ctx, l.cc, fabricblock.FnGet, id.String())
	if err != nil {
		return verifier.Receipt{}, err
	}
	if len(out) == 0 {
		return verifier.Receipt{}, fmt.Errorf("record %s: %w", id, node.ErrNotFound)
	}
	e, err := fabricblock.ParseEntry(out)
	if err != nil {
		return verifier.Receipt{}, unavailable("record "+id.String(), err)
	}
	return l.receiptOf(ctx, id, e)
}

// receiptOf builds the receipt of the record an entry describes; the entry
// has passed ParseEntry or Entry.Check (0 ≤ index < size).
func (l *Ledger) receiptOf(ctx context.Context, id evidence.ID, e fabricblock.Entry) (verifier.Receipt, error) {
	cb, err := l.blockByTxID(ctx, e.TxID)
	if err != nil {
		return verifier.Receipt{}, err
	}
	tp, err := l.txProof(ctx, cb, e.TxID)
	if err != nil {
		return verifier.Receipt{}, err
	}
	if e.Index >= len(tp.leaves) || !e.Holds(tp.leaves[e.Index]) || !tp.wrote[id] {
		return verifier.Receipt{}, l.corrupted(cb, int64(cb.b.Header.Number), e.TxID, id.String(),
			fmt.Errorf("the transaction does not hold the record the chaincode's entry places at %d", e.Index))
	}
	return l.receipt(cb, tp, e.Index)
}

// blockByNumber reads block n (qscc GetBlockByNumber), through the cache.
func (l *Ledger) blockByNumber(ctx context.Context, n uint64) (*cachedBlock, error) {
	if cb := l.cache.get(n); cb != nil {
		return cb, nil
	}
	raw, err := l.evaluate(ctx, l.qscc, "GetBlockByNumber", l.profile.Channel, strconv.FormatUint(n, 10))
	if err != nil {
		return nil, err
	}
	return l.admit(raw, int64(n), "")
}

// blockByTxID reads the block holding a transaction (qscc GetBlockByTxID).
func (l *Ledger) blockByTxID(ctx context.Context, txID string) (*cachedBlock, error) {
	if cb := l.cache.byTx(txID); cb != nil {
		return cb, nil
	}
	raw, err := l.evaluate(ctx, l.qscc, "GetBlockByTxID", l.profile.Channel, txID)
	if err != nil {
		return nil, err
	}
	return l.admit(raw, -1, txID)
}

// admit parses bytes the peer served as block n (-1: the block holding
// transaction txID) and keeps them in the cache. Bytes that are not a
// Fabric block, or another block than asked for, are corruption. Their
// proofs are checked when they are used (txProof, checkBlock).
func (l *Ledger) admit(raw []byte, n int64, txID string) (*cachedBlock, error) {
	cb, err := parseBlock(raw)
	if err != nil {
		return nil, l.corrupted(nil, n, txID, "", fmt.Errorf("the peer served bytes that are not a Fabric block: %w", err))
	}
	if got := cb.b.Header.Number; n >= 0 && got != uint64(n) {
		return nil, l.corrupted(nil, n, "", "", fmt.Errorf("the peer served block %d in its place", got))
	}
	if txID != "" && !slices.Contains(cb.txIDs, txID) {
		return nil, l.corrupted(nil, int64(cb.b.Header.Number), txID, "", fmt.Errorf("the peer served block %d as the transaction's, which does not hold it", cb.b.Header.Number))
	}
	return l.cache.add(cb), nil
}

// txProof returns what every receipt of one transaction shares, checking
// the transaction and the block against the trust roots once per cached
// block (verifier.CheckFabricTx, the check the offline verifier makes).
// A transaction that fails it is a *node.CorruptedError (reported, and
// the block dropped from the cache); the trust roots not read is
// node.ErrUnavailable.
func (l *Ledger) txProof(ctx context.Context, cb *cachedBlock, txID string) (*txProof, error) {
	roots, err := l.trustRoots(ctx) // may ask the peer: not under cb.mu
	if err != nil {
		return nil, err
	}
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if tp := cb.txs[txID]; tp != nil {
		return tp, nil
	}
	fail := func(err error) (*txProof, error) {
		return nil, l.corrupted(cb, int64(cb.b.Header.Number), txID, "", err)
	}
	ft, err := verifier.CheckFabricTx(cb.b, txID, *roots.Fabric)
	if err != nil {
		return fail(err)
	}
	tx := ft.Tx
	leaves := batchLeaves(tx)
	got, paths := block.Tree(leaves)
	if string(got) != string(ft.Root) {
		return fail(fmt.Errorf("batch root %x is not the root of the transaction's records (%x)", ft.Root, got))
	}
	tp := &txProof{
		tx: tx, leaves: leaves, paths: paths, root: ft.Root,
		keyIDs: append(ft.EndorserKeys, ft.OrdererKeys[0]),
		recs:   make([]evidence.Record, len(leaves)),
		index:  make(map[evidence.ID]int, len(leaves)),
		wrote:  make(map[evidence.ID]bool, len(leaves)),
	}
	// The chaincode's writes by key, the first of each as tx.Value finds
	// it (one pass, not one scan of the write set per record).
	writes := make(map[string][]byte, len(tx.Writes))
	for _, w := range tx.Writes {
		if w.Namespace != l.cfg.Chaincode || w.Delete {
			continue
		}
		if _, ok := writes[w.Key]; !ok {
			writes[w.Key] = w.Value
		}
	}
	for i, leaf := range leaves {
		r, err := evidence.ParseRecord(leaf)
		if err != nil {
			return fail(err)
		}
		tp.recs[i] = r
		if _, ok := tp.index[r.ID]; !ok {
			tp.index[r.ID] = i
		}
		if v, ok := writes[r.ID.String()]; ok {
			if e, err := fabricblock.ParseEntry(v); err == nil && e.TxID == tx.ID && e.Holds(leaf) {
				tp.wrote[r.ID] = true
			}
		}
	}
	cb.txs[txID] = tp
	return tp, nil
}

// batchLeaves returns the records a Put or PutBatch transaction carried.
func batchLeaves(tx *fabricblock.Tx) [][]byte {
	if len(tx.Args) != 2 {
		return nil
	}
	switch string(tx.Args[0]) {
	case fabricblock.FnPutBatch:
		return fabricblock.SplitRecords(tx.Args[1])
	case fabricblock.FnPut:
		return [][]byte{tx.Args[1]}
	}
	return nil
}

// receipt builds the receipt of leaf i of a transaction.
func (l *Ledger) receipt(cb *cachedBlock, tp *txProof, i int) (verifier.Receipt, error) {
	rc := verifier.NewReceipt(tp.recs[i])
	rc.Ledger = l.name
	rc.LedgerKind = block.KindFabric
	rc.TxID = tp.tx.ID
	rc.BlockNumber = cb.b.Header.Number
	rc.BlockHash = hex.EncodeToString(cb.b.Header.Hash())
	rc.LedgerTime = verifier.FormatTime(tp.tx.Timestamp)
	rc.TimeSource = verifier.TimeSourceFabric
	rc.KeyIDs = tp.keyIDs
	rc.Proof = verifier.Proof{
		Kind:      verifier.ProofFabric,
		Record:    tp.leaves[i],
		LeafIndex: uint64(i),
		TreeSize:  uint64(len(tp.leaves)),
		AuditPath: tp.paths[i],
		BatchRoot: tp.root,
		Header:    cb.b.Header,
		Block:     cb.raw,
	}
	return rc, nil
}

// IDsByDigest returns the IDs of the records holding digest d (at most a
// thousand, in ID order): "was this digest ever recorded?".
func (l *Ledger) IDsByDigest(ctx context.Context, d evidence.Digest) ([]evidence.ID, error) {
	if err := l.checkOpen(); err != nil {
		return nil, err
	}
	out, err := l.evaluate(ctx, l.cc, fabricblock.FnListByDigest, string(d.Algorithm), d.Hex())
	if err != nil {
		return nil, err
	}
	var ss []string
	if err := json.Unmarshal(out, &ss); err != nil {
		return nil, unavailable("digest index", err)
	}
	ids := make([]evidence.ID, 0, len(ss))
	for _, s := range ss {
		id, err := evidence.ParseID(s)
		if err != nil {
			return nil, unavailable("digest index", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// Name is the ledger's name, <channel>/<chaincode>.
func (l *Ledger) Name() string { return l.name }

// BlockLeaves returns the evidence records block n adds to the ledger, in
// block order (the transparency log's leaves, tlog.BlockLeaveser): of
// each transaction the peer marked VALID that ran the evidence chaincode's
// Put or PutBatch and passes verifier.CheckFabricTx, with records that
// hash to its batch root, the records it wrote (a record already on the
// ledger, which the transaction only confirmed, is not added again). It
// reads nothing but the block and the channel's trust roots, so every
// organisation's node computes the same leaves.
func (l *Ledger) BlockLeaves(ctx context.Context, n uint64) ([][]byte, error) {
	if err := l.checkOpen(); err != nil {
		return nil, err
	}
	cb, err := l.blockByNumber(ctx, n)
	if err != nil {
		return nil, err
	}
	txs, err := cb.b.Transactions()
	if err != nil {
		return nil, l.corrupted(cb, int64(n), "", "", err)
	}
	var out [][]byte
	for _, tx := range txs {
		if !l.isEvidenceTx(cb, tx) {
			continue
		}
		tp, err := l.txProof(ctx, cb, tx.ID)
		if err != nil {
			return nil, err
		}
		for i, leaf := range tp.leaves {
			if tp.wrote[tp.recs[i].ID] {
				out = append(out, leaf)
			}
		}
	}
	return out, nil
}
