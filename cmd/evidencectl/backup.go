package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/evidence-node/evidence-node/node/backup"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/web"
	"github.com/evidence-node/evidence-node/web/client"
)

type backupReport struct {
	File      string  `json:"file"`
	ID        string  `json:"id"`
	Kind      string  `json:"kind"`
	Base      string  `json:"base,omitempty"`
	Ledger    string  `json:"ledger,omitempty"`
	Height    uint64  `json:"height"`
	StoreKeys int     `json:"store_keys"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
}

// cmdBackup writes a backup of a node to one file: from the running node
// (--node, its admin listener) or from a stopped node's data directory
// (--data).
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("backup", flag.ContinueOnError)
	flags.SetOutput(stderr)
	out := flags.String("o", "", "the backup file to write (must not exist)")
	data := flags.String("data", "", "back up a stopped node's data directory")
	nodeURL := flags.String("node", os.Getenv("EVIDENCE_ADMIN_URL"), "back up the running node through its admin listener (evidenced --admin-listen), e.g. http://127.0.0.1:9091 (env EVIDENCE_ADMIN_URL)")
	tokenFile := flags.String("token-file", os.Getenv("EVIDENCE_ADMIN_TOKEN_FILE"), "with --node: the file holding the node's admin token, DATA/admin-token (env EVIDENCE_ADMIN_TOKEN_FILE)")
	caFile := flags.String("cacert", "", "with an https --node: PEM certificates to trust for it (default: the system's)")
	incr := flags.String("incremental", "", "write an incremental backup: what changed since this earlier backup file")
	asJSON := flags.Bool("json", false, "print the result as JSON")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: evidencectl backup -o FILE (--node ADMIN-URL --token-file DATA/admin-token | --data DIR) [--incremental EARLIER.tar]\n\n"+
			"Writes a backup of the node to one file: a consistent snapshot of its store, its block files up to\n"+
			"the head that snapshot records, and its files (node key, certificate, platforms), with a manifest of\n"+
			"SHA-256s. The file holds the node's private key: keep it as you keep the key. The running node is\n"+
			"backed up through its admin listener; a stopped one from its data directory.\n\n")
		flags.PrintDefaults()
	}
	pos, err := parse(flags, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 0:
		return usagef("backup takes no arguments (the file goes in -o)")
	case *out == "":
		return usagef("backup: give the file to write with -o FILE")
	case (*data == "") == (*nodeURL == ""):
		return usagef("backup: give either --node ADMIN-URL (a running node) or --data DIR (a stopped node)")
	case *nodeURL != "" && *tokenFile == "":
		return usagef("backup: --node needs --token-file (the node's DATA/admin-token)")
	}
	var base *backup.Info
	if *incr != "" {
		b, err := backup.Verify(*incr)
		if err != nil {
			return fmt.Errorf("backup: the earlier backup: %w", err)
		}
		base = &b
	}
	if _, err := os.Stat(*out); err == nil {
		return usagef("backup: %s exists; give a new file", *out)
	}
	partial := *out + ".partial"
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.Remove(partial)
		}
	}()
	start := time.Now()
	if *data != "" {
		err = backupOffline(f, *data, base)
	} else {
		err = backupOnline(ctx, f, *nodeURL, *tokenFile, *caFile, base)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// The file is checked whole before it takes its name: what the node
	// streamed, as it reached the disk.
	info, err := backup.Verify(partial)
	if err != nil {
		return fmt.Errorf("backup: the file written does not check: %w", err)
	}
	if err := os.Rename(partial, *out); err != nil {
		return err
	}
	keep = true
	r := backupReport{File: *out, ID: info.ID, Kind: info.Manifest.Kind, Base: info.Manifest.Base, Ledger: info.Manifest.Ledger,
		Height: info.Manifest.Head.Height, StoreKeys: info.Manifest.Store.Keys, Bytes: info.Size, Seconds: time.Since(start).Seconds()}
	if *asJSON {
		return printJSON(stdout, r)
	}
	fmt.Fprintf(stdout, "backup written: %s (%s, %s in %s)\n", r.File, r.Kind, size(r.Bytes), time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "  id      %s\n", r.ID)
	if r.Base != "" {
		fmt.Fprintf(stdout, "  base    %s (%s)\n", r.Base, *incr)
	}
	if r.Ledger != "" {
		fmt.Fprintf(stdout, "  ledger  %q, %d blocks\n", r.Ledger, r.Height)
	}
	fmt.Fprintf(stdout, "  store   %d keys\n", r.StoreKeys)
	fmt.Fprintln(stdout, "the file holds the node's private keys (node-key.pem, and tlog-key — with tlog-key.previous after a rotation — for the transparency log): keep it as you keep the keys")
	return nil
}

func backupOffline(w io.Writer, data string, base *backup.Info) error {
	storeDir := filepath.Join(data, backup.StoreDir)
	if _, err := os.Stat(storeDir); err != nil {
		return usagef("backup: %s holds no node data (no %s)", data, storeDir)
	}
	db, err := store.Open(storeDir, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return usagef("backup: the node is running on %s (its store is locked): back it up through its admin listener (--node, evidenced --admin-listen), or stop it first", data)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	if err := refuseUnindexed(db, data, "backup"); err != nil {
		return err
	}
	_, err = backup.Write(w, backup.Options{DB: db, DataDir: data, Base: base, Track: backup.DeletedPrefixes()})
	return err
}

// refuseUnindexed refuses to work on a stopped node whose block files go
// on past its index (a crash of the machine; embedded.Unindexed): the
// work would leave out blocks that were acknowledged.
func refuseUnindexed(db *store.DB, data, what string) error {
	n, err := embedded.Unindexed(db, filepath.Join(data, backup.BlocksDir))
	if errors.Is(err, embedded.ErrNoLedger) || err == nil && n == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%s: the block files hold %d bytes past the end of the node's index (the machine stopped before the index reached the disk, or a write was cut short): start the node once, so that it indexes those blocks (or cuts off the partial write), stop it, and run %s again", what, n, what)
}

func backupOnline(ctx context.Context, w io.Writer, nodeURL, tokenFile, caFile string, base *backup.Info) error {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return fmt.Errorf("backup: the admin token: %w", err)
	}
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, ResponseHeaderTimeout: 5 * time.Minute}}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return usagef("backup: --cacert %s holds no PEM certificate", caFile)
		}
		hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	var req web.BackupRequest
	if base != nil {
		req.Base = &web.BackupBase{ID: base.ID, Manifest: base.Manifest}
	}
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(nodeURL, "/")+"/admin/v1/backup", bytes.NewReader(body))
	if err != nil {
		return usagef("backup: --node %q: %v", nodeURL, err)
	}
	hr.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	hr.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(hr)
	if err != nil {
		return nodeError{err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var eb web.ErrorBody
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
			return apiError(resp.StatusCode, eb)
		}
		return nodeError{fmt.Errorf("the node answered %s", resp.Status)}
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return nodeError{fmt.Errorf("the backup stream broke: %w", err)}
	}
	return nil
}

// cmdRestore restores backups into a new data directory and checks the
// ledger restored. It returns whether the ledger is intact.
func cmdRestore(args []string, stdout, stderr io.Writer) (bool, error) {
	flags := flag.NewFlagSet("restore", flag.ContinueOnError)
	flags.SetOutput(stderr)
	data := flags.String("data", "", "the new data directory (must not exist or be empty)")
	quiet := flags.Bool("q", false, "no progress bar while checking")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: evidencectl restore FULL.tar [INCREMENTAL.tar …] --data NEWDIR\n\n"+
			"Restores a full backup, then the incremental ones that follow it, in order, into a new data\n"+
			"directory. Every file is checked whole first: a backup with any byte changed, cut short, or out\n"+
			"of order is refused and nothing is written. Then the restored ledger is checked as fsck checks it.\n"+
			"Exit codes: 0 restored and intact, 1 restored but the check found a problem, 2 refused.\n\n")
		flags.PrintDefaults()
	}
	pos, err := parse(flags, args)
	if err != nil {
		return false, err
	}
	if len(pos) == 0 || *data == "" {
		return false, usagef("restore: want the backup files and --data NEWDIR")
	}
	start := time.Now()
	res, err := backup.Restore(*data, pos)
	switch {
	case errors.Is(err, backup.ErrDamaged), errors.Is(err, backup.ErrChain), errors.Is(err, backup.ErrNotEmpty):
		return false, usagef("restore: %v", err)
	case errors.Is(err, fs.ErrNotExist):
		return false, usagef("restore: %v", err)
	case err != nil:
		return false, fmt.Errorf("restore: %w", err)
	}
	last := res.Backups[len(res.Backups)-1].Manifest
	fmt.Fprintf(stdout, "restored %d backup(s) into %s in %s: %d files, %s of block files, %d store keys",
		len(res.Backups), *data, time.Since(start).Round(time.Millisecond), res.Files, size(res.BlockBytes), res.StoreKeys)
	if res.Pruned > 0 {
		fmt.Fprintf(stdout, ", %d deleted keys dropped", res.Pruned)
	}
	fmt.Fprintln(stdout)
	db, err := openForCheck(filepath.Join(*data, backup.StoreDir), stderr)
	if err != nil {
		return false, err
	}
	defer db.Close()
	bar := newProgress(stderr, "fsck", "blocks", *quiet)
	r, err := embedded.Check(db, filepath.Join(*data, backup.BlocksDir), bar.update)
	bar.done()
	if errors.Is(err, embedded.ErrNoLedger) {
		fmt.Fprintln(stdout, "no embedded ledger in the backup (a Fabric node keeps its ledger on the network): nothing to check")
		return true, nil
	}
	if err != nil {
		return false, err
	}
	fmt.Fprintf(stdout, "fsck: ledger %q: %d of %d blocks, %d records checked (the backup's head: %d blocks)\n", r.Ledger, r.Blocks, r.Height, r.Records, last.Head.Height)
	for _, n := range r.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	if !r.OK() || r.Height != last.Head.Height {
		for _, p := range r.Problems {
			fmt.Fprintf(stdout, "CORRUPTED: %s\n", problemText(p))
		}
		if r.Height != last.Head.Height {
			fmt.Fprintf(stdout, "CORRUPTED: the restored ledger has %d blocks, the backup says %d\n", r.Height, last.Head.Height)
		}
		return false, nil
	}
	fmt.Fprintf(stdout, "OK: the restored ledger is intact; start the node with --data %s\n", *data)
	return true, nil
}

func apiError(status int, eb web.ErrorBody) error {
	return &client.APIError{Status: status, Code: eb.Error.Code, Message: eb.Error.Message, MessageZH: eb.Error.MessageZH}
}
