package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/tlog"
)

// rotateLogKey rotates the transparency log's key of a stopped node
// (tlog.RotateKey): the new key signs checkpoints from the log's size on,
// the old one, kept in tlog-key.previous, beside it until retired.
func rotateLogKey(db *store.DB, data, newKeyFile string, stdout io.Writer) error {
	keyPath := filepath.Join(data, tlog.KeyFile)
	b, err := os.ReadFile(keyPath)
	if err != nil {
		return usagef("key rotate --which checkpoint: %s has no transparency log key (%v): the node makes it at its first start with --tlog", data, err)
	}
	cur, err := tlog.ParseKey(strings.TrimSpace(string(b)))
	if err != nil {
		return usagef("key rotate --which checkpoint: %s: %v", keyPath, err)
	}
	var next *tlog.Key
	if newKeyFile != "" {
		k, err := tlog.ReadKey(newKeyFile, cur.Signer.Name())
		if err != nil {
			return usagef("key rotate --which checkpoint: --key: %v", err)
		}
		next = &k
	}
	rot, err := tlog.RotateKey(db, keyPath, next)
	if errors.Is(err, tlog.ErrRotationPending) || errors.Is(err, tlog.ErrKeyNotCurrent) {
		return usagef("key rotate --which checkpoint: %v", err)
	}
	if err != nil {
		return err
	}
	if rot.Completed {
		fmt.Fprintf(stdout, "an interrupted rotation of the transparency log key in %s completed\n", data)
	} else {
		fmt.Fprintf(stdout, "transparency log key rotated in %s\n", data)
	}
	fmt.Fprintf(stdout, "  new      %s: signs checkpoints of %s (%s, %s.pub)\n", rot.New.Key, rot.New.Signed, keyPath, keyPath)
	fmt.Fprintf(stdout, "  previous %s: signs %s beside it until retired (%s%s)\n", rot.Old.Key, rot.Old.Signed, keyPath, tlog.PreviousSuffix)
	fmt.Fprintln(stdout, "start the node again: its checkpoints carry both signatures, so witnesses and monitors that know only the old key go on;")
	fmt.Fprintln(stdout, "give every witness operator and monitor the new verifier key, then retire the old one (node stopped):")
	fmt.Fprintf(stdout, "  evidencectl key retire --which checkpoint --data %s\n", data)
	fmt.Fprintln(stdout, "GET /api/v1/ledger lists both keys with the sizes each signs")
	return nil
}

// retireLogKey ends the range of the rotated-away log key at the log's
// size (tlog.RetireKey) and moves its file to retired-keys/.
func retireLogKey(db *store.DB, data string, stdout io.Writer) error {
	rot, err := tlog.RetireKey(db, filepath.Join(data, tlog.KeyFile), filepath.Join(data, retiredDir))
	if errors.Is(err, tlog.ErrNothingToRetire) {
		return usagef("key retire --which checkpoint: %v", err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "transparency log key retired in %s\n", data)
	fmt.Fprintf(stdout, "  retired  %s: signed %s; it stays in the trust roots, so what it signed keeps verifying,\n", rot.Old.Key, rot.Old.Signed)
	fmt.Fprintln(stdout, "           and a checkpoint of a larger size signed by it is refused")
	fmt.Fprintf(stdout, "           its private key is kept in %s: move it offline or destroy it\n", filepath.Join(data, retiredDir, tlog.RetiredKeyFile(rot.Old.Key)))
	fmt.Fprintf(stdout, "  current  %s: signs %s alone; witnesses that still know only the retired key refuse from now on\n", rot.New.Key, rot.New.Signed)
	return nil
}

// listLogKeys prints the transparency log's keys, if the node has a log.
func listLogKeys(db *store.DB, data string, stdout io.Writer) error {
	ks, err := tlog.KeyHistory(db)
	if err != nil {
		return err
	}
	if ks == nil {
		b, err := os.ReadFile(filepath.Join(data, tlog.KeyFile+".pub"))
		if err != nil {
			return nil // no transparency log (yet)
		}
		fmt.Fprintln(stdout, "transparency log keys (checkpoints), oldest first:")
		fmt.Fprintf(stdout, "  %s  every size (never rotated)\n", strings.TrimSpace(string(b)))
		return nil
	}
	fmt.Fprintln(stdout, "transparency log keys (checkpoints), oldest first:")
	for _, k := range ks {
		fmt.Fprintf(stdout, "  %s  %s\n", k.Key, k.Signed)
	}
	return nil
}
