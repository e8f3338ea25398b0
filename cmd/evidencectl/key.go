package main

import (
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/verifier/block"
)

// The key files evidenced keeps in its data directory.
const (
	keyFile     = "node-key.pem"
	certFile    = "node-cert.pem"
	retiredDir  = "retired-keys"
	keyKindNode = "node"
	keyKindCkpt = "checkpoint"
)

func cmdKey(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "list" && args[0] != "retire") {
		return usagef("key: want rotate, retire or list")
	}
	flags := flag.NewFlagSet("key "+args[0], flag.ContinueOnError)
	flags.SetOutput(stderr)
	data := flags.String("data", envOr("EVIDENCE_DATA", "./data"), "the stopped node's data directory (env EVIDENCE_DATA)")
	var which, newKey, chain *string
	switch args[0] {
	case "rotate":
		which = flags.String("which", keyKindNode, "the key to rotate: node (seals blocks, signs certificates and packages) or checkpoint (the transparency log's)")
		newKey = flags.String("key", "", "the new key: for node a PKCS #8 PEM P-256 private key, for checkpoint a note signer key (the form of DATA/tlog-key), of mode 0600 (default: one made now)")
		chain = flags.String("signing-cert", "", "node key only: the certificate chain (PEM, leaf first) that evidenced --signing-cert will give for the new key: checked to be for it (default: a self-signed one, DATA/node-cert.pem)")
	case "retire":
		which = flags.String("which", keyKindCkpt, "the key to retire: checkpoint (the transparency log's key rotated away, which signs beside the new one until retired)")
	}
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: evidencectl key rotate --data DIR [--key NEW.pem] [--signing-cert CHAIN.pem]\n"+
			"       evidencectl key rotate --which checkpoint --data DIR [--key NEW]\n"+
			"       evidencectl key retire --which checkpoint --data DIR\n"+
			"       evidencectl key list --data DIR\n\n"+
			"rotate replaces the node key of a stopped node: new blocks are sealed with the new key, and it\n"+
			"signs certificates and packages; the old key stays in the trust roots with the blocks it sealed,\n"+
			"so receipts and packages made before keep verifying. list shows the keys' history.\n\n"+
			"rotate --which checkpoint replaces the transparency log's key (DATA/tlog-key): the new key signs\n"+
			"checkpoints from the log's current size on, and the old one (DATA/tlog-key.previous) signs them\n"+
			"too, so witnesses that know only the old key keep cosigning. Once every witness and monitor has\n"+
			"the new key, retire --which checkpoint ends the old key's range at the log's size.\n\n")
		flags.PrintDefaults()
	}
	pos, err := parse(flags, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("key %s takes no arguments", args[0])
	}
	if args[0] == "retire" && *which != keyKindCkpt {
		return usagef("key retire --which %q: only the checkpoint key is retired this way (a node key is retired by key rotate)", *which)
	}
	if which != nil && *which != keyKindNode && *which != keyKindCkpt {
		return usagef("key rotate --which %q: want node or checkpoint", *which)
	}
	if chain != nil && *chain != "" && *which == keyKindCkpt {
		return usagef("key rotate --which checkpoint: --signing-cert is for the node key")
	}
	storeDir := filepath.Join(*data, "store")
	if _, err := os.Stat(storeDir); err != nil {
		return usagef("key: %s holds no node data (no %s)", *data, storeDir)
	}
	var db *store.DB
	if args[0] == "list" {
		db, err = openForCheck(storeDir, stderr)
	} else {
		db, err = store.Open(storeDir, store.Options{})
	}
	if errors.Is(err, store.ErrLocked) {
		return usagef("key %s: the node is running on %s (its store is locked): stop evidenced first; key commands work on a stopped node", args[0], *data)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	switch {
	case args[0] == "list":
		return listKeys(db, *data, stdout)
	case args[0] == "retire":
		return retireLogKey(db, *data, stdout)
	case *which == keyKindCkpt:
		return rotateLogKey(db, *data, *newKey, stdout)
	}
	return rotateKey(db, *data, *newKey, *chain, stdout)
}

func rotateKey(db *store.DB, data, newKeyFile, chainFile string, stdout io.Writer) error {
	keyPath := filepath.Join(data, keyFile)
	old, err := node.ReadKey(keyPath)
	if err != nil {
		return usagef("key rotate: the current key: %v", err)
	}
	oldKey, err := block.NewKey(&old.PublicKey)
	if err != nil {
		return err
	}
	var nk *ecdsa.PrivateKey
	if newKeyFile != "" {
		if nk, err = node.ReadKey(newKeyFile); err != nil {
			return usagef("key rotate: --key: %v", err)
		}
	} else if nk, err = node.NewKey(); err != nil {
		return err
	}
	if nk.Equal(old) {
		return usagef("key rotate: --key is the current key")
	}
	if chainFile != "" {
		if _, _, err := node.LoadOrCreateCertificate(chainFile, nk, false); err != nil {
			return usagef("key rotate: --signing-cert: %v", err)
		}
	}
	newKey, err := block.NewKey(&nk.PublicKey)
	if err != nil {
		return err
	}
	_, ledgerErr := embedded.LedgerName(db)
	hasLedger := ledgerErr == nil
	if ledgerErr != nil && !errors.Is(ledgerErr, embedded.ErrNoLedger) {
		return ledgerErr
	}
	if hasLedger {
		if err := refuseUnindexed(db, data, "key rotate"); err != nil {
			return err
		}
		// Refuse a key this ledger retired before: it cannot seal again.
		if err := checkNotRetired(db, newKey.ID); err != nil {
			return err
		}
	}

	// The old key signed documents: it stays a document signer (a node from
	// before rotation existed never recorded it).
	since := time.Now().Add(-time.Second)
	if c, _, err := node.LoadOrCreateCertificate(filepath.Join(data, certFile), old, false); err == nil {
		since = c[0].NotBefore
	}
	if err := node.RecordSigner(db, oldKey, since); err != nil {
		return err
	}
	// The retired key is kept, for the operator to archive or destroy.
	retired := filepath.Join(data, retiredDir, "node-key-"+oldKey.ID+".pem")
	if err := node.WriteKey(retired, old); err != nil {
		return err
	}
	// From here the new key is the node's: a crash after this line leaves
	// a node whose start does what the rest does (the certificate follows
	// the key, the ledger registers it).
	if err := node.WriteKey(keyPath, nk); err != nil {
		return err
	}
	if _, _, err := node.LoadOrCreateCertificate(filepath.Join(data, certFile), nk, true); err != nil {
		return err
	}
	var kc embedded.KeyChange
	if hasLedger {
		if kc, err = embedded.RegisterKey(db, &nk.PublicKey); err != nil {
			return err
		}
	}
	if err := node.RecordSigner(db, newKey, time.Now()); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "node key rotated in %s\n", data)
	retiredWhat := "signed certificates and packages"
	if kc.Retired != nil {
		if kc.Retired.Sealed != nil {
			retiredWhat = "sealed " + kc.Retired.Sealed.String() + "; " + retiredWhat
		} else {
			retiredWhat = "sealed no block; " + retiredWhat
		}
	}
	fmt.Fprintf(stdout, "  retired  %s: %s; it stays in the trust roots, so what it signed keeps verifying\n", oldKey.ID, retiredWhat)
	fmt.Fprintf(stdout, "           its private key is kept in %s: move it offline or destroy it\n", retired)
	newWhat := "signs certificates and packages"
	if hasLedger {
		last := kc.Keys[len(kc.Keys)-1]
		newWhat = "seals " + last.Sealed.String() + ", " + newWhat
	}
	fmt.Fprintf(stdout, "  new      %s: %s\n", newKey.ID, newWhat)
	if chainFile != "" {
		fmt.Fprintf(stdout, "  certificate: %s is for the new key: start evidenced with --signing-cert %s\n", chainFile, chainFile)
	} else {
		fmt.Fprintf(stdout, "  certificate: %s, self-signed, for the new key (give your own with evidenced --signing-cert)\n", filepath.Join(data, certFile))
	}
	fmt.Fprintf(stdout, "start the node again: evidenced --data %s; GET /api/v1/ledger lists both keys\n", data)
	return nil
}

// checkNotRetired refuses a key the ledger rotated away before
// (RegisterKey would, but only after the key files were written).
func checkNotRetired(db *store.DB, id string) error {
	ks, err := embedded.Keys(db)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if k.ID == id && k.Sealed != nil && k.Sealed.Last != nil {
			return usagef("key rotate: --key %s was retired after sealing %s: a retired key seals nothing again", id, k.Sealed)
		}
	}
	return nil
}

func listKeys(db *store.DB, data string, stdout io.Writer) error {
	if ks, err := embedded.Keys(db); err == nil {
		fmt.Fprintln(stdout, "block sealing keys (trust roots), oldest first:")
		for _, k := range ks {
			r := "any block (no range recorded)"
			if k.Sealed != nil {
				r = k.Sealed.String()
			}
			fmt.Fprintf(stdout, "  %s  %s\n", k.ID, r)
		}
	} else if !errors.Is(err, embedded.ErrNoLedger) {
		return err
	}
	ss, err := node.DocumentSigners(db)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "document signers (certificates and packages), oldest first:")
	for _, k := range ss {
		fmt.Fprintf(stdout, "  %s\n", k.ID)
	}
	return listLogKeys(db, data, stdout)
}
