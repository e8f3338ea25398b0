package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/evidence-node/evidence-node/node"
	"github.com/evidence-node/evidence-node/node/embedded"
	"github.com/evidence-node/evidence-node/node/store"
)

// cmdFsck checks a stopped node's embedded ledger offline. It returns
// whether the ledger is intact; an error means it could not be checked.
func cmdFsck(args []string, stdout, stderr io.Writer) (bool, error) {
	flags := flag.NewFlagSet("fsck", flag.ContinueOnError)
	flags.SetOutput(stderr)
	data := flags.String("data", envOr("EVIDENCE_DATA", "./data"), "the stopped node's data directory (env EVIDENCE_DATA)")
	asJSON := flags.Bool("json", false, "print the report as JSON")
	quiet := flags.Bool("q", false, "no progress bar")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: evidencectl fsck --data DIR [--json] [-q]\n\n"+
			"Checks the whole embedded ledger of a stopped node: every block parses, its data hash\n"+
			"over its records, its header hash, the chain of previous hashes, its seal against the\n"+
			"ledger's keys, and every record's entry and index entry. Changes nothing.\n"+
			"Exit codes: 0 intact, 1 corrupted (the first bad block is named), 2 usage or cannot check.\n\n")
		flags.PrintDefaults()
	}
	pos, err := parse(flags, args)
	if err != nil {
		return false, err
	}
	if len(pos) != 0 {
		return false, usagef("fsck takes no arguments (the data directory goes in --data)")
	}
	// The layout evidenced keeps in its data directory.
	storeDir, blocksDir := filepath.Join(*data, "store"), filepath.Join(*data, "blocks")
	if _, err := os.Stat(storeDir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, usagef("fsck: %s holds no node data (no %s)", *data, storeDir)
		}
		return false, usagef("fsck: %v", err)
	}
	db, err := openForCheck(storeDir, stderr)
	if errors.Is(err, store.ErrLocked) {
		return false, usagef("fsck: the node is running on %s (its store is locked): stop evidenced first; fsck checks a stopped node", *data)
	}
	if err != nil {
		return false, usagef("fsck: %v", err)
	}
	defer db.Close()

	bar := newProgress(stderr, "fsck", "blocks", *quiet)
	start := time.Now()
	r, err := embedded.Check(db, blocksDir, bar.update)
	bar.done()
	if errors.Is(err, embedded.ErrNoLedger) {
		return false, usagef("fsck: %s holds no embedded ledger (a Fabric node keeps its ledger on the network)", *data)
	}
	if err != nil {
		return false, usagef("fsck: %v", err)
	}
	took := time.Since(start)
	if *asJSON {
		return r.OK(), printJSON(stdout, fsckJSON(r, took))
	}
	fmt.Fprintf(stdout, "ledger %q: %d of %d blocks, %d records, %s of block files checked in %s\n",
		r.Ledger, r.Blocks, r.Height, r.Records, size(r.Bytes), took.Round(time.Millisecond))
	for _, n := range r.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	if r.OK() {
		fmt.Fprintln(stdout, "OK: the ledger is intact")
		return true, nil
	}
	fmt.Fprintf(stdout, "CORRUPTED: first bad: %s\n", problemText(r.Problems[0]))
	if n := len(r.Problems) + r.More; n > 1 {
		fmt.Fprintf(stdout, "%d problems in all:\n", n)
		for _, p := range r.Problems {
			fmt.Fprintf(stdout, "  %s\n", problemText(p))
		}
		if r.More > 0 {
			fmt.Fprintf(stdout, "  … and %d more\n", r.More)
		}
	}
	fmt.Fprintln(stdout, "repair: restore the damaged block file from a backup (block files are append-only: any backup copy that holds the block has its bytes), then run fsck again; until then the node answers 500 ledger_corrupted for this data (docs/operations.md)")
	return false, nil
}

// problemText names where a problem is (block, record) and what it is.
func problemText(p *node.CorruptedError) string {
	s := "the ledger"
	if p.Block >= 0 {
		s = fmt.Sprintf("block %d", p.Block)
	}
	if p.Record != "" {
		s += ": record " + p.Record
	}
	return s + ": " + p.Reason
}

func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

type fsckProblem struct {
	Block  int64  `json:"block"`
	Record string `json:"record,omitempty"`
	Reason string `json:"reason"`
}

type fsckReport struct {
	OK       bool          `json:"ok"`
	Ledger   string        `json:"ledger"`
	Height   uint64        `json:"height"`
	Blocks   uint64        `json:"blocks_checked"`
	Records  uint64        `json:"records_checked"`
	Bytes    int64         `json:"bytes_read"`
	Seconds  float64       `json:"seconds"`
	Problems []fsckProblem `json:"problems"`
	More     int           `json:"more_problems,omitempty"`
	Notes    []string      `json:"notes,omitempty"`
}

func fsckJSON(r *embedded.Report, took time.Duration) fsckReport {
	out := fsckReport{OK: r.OK(), Ledger: r.Ledger, Height: r.Height, Blocks: r.Blocks, Records: r.Records, Bytes: r.Bytes,
		Seconds: took.Seconds(), Problems: []fsckProblem{}, More: r.More, Notes: r.Notes}
	for _, p := range r.Problems {
		out.Problems = append(out.Problems, fsckProblem{Block: p.Block, Record: p.Record, Reason: p.Reason})
	}
	return out
}

// openForCheck opens a stopped node's store read-only, so that a check
// writes nothing (and runs on a full disk: badger writes through memory
// maps, and a full disk there is a crash); a store not closed cleanly
// (the node was killed) has its log replayed first, read-write, as the
// node's next start would.
func openForCheck(dir string, stderr io.Writer) (*store.DB, error) {
	db, err := store.Open(dir, store.Options{ReadOnly: true})
	if errors.Is(err, store.ErrUnclean) {
		fmt.Fprintf(stderr, "note: the store was not closed cleanly (the node stopped without shutting down): replaying its log first\n")
		db, err = store.Open(dir, store.Options{})
	}
	return db, err
}
