package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	xtlog "golang.org/x/mod/sumdb/tlog"

	"github.com/evidence-node/evidence-node/node/store"
	"github.com/evidence-node/evidence-node/node/tlog"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/verifier/logproof"
)

// monitorState is what monitor keeps between runs: the log it follows and
// the last checkpoint it checked.
type monitorState struct {
	V      int    `json:"v"`
	Origin string `json:"origin"`
	LogKey string `json:"log_key"`
	Size   uint64 `json:"size"`
	Root   []byte `json:"root"`
	// Checkpoint is that checkpoint's signed note.
	Checkpoint string `json:"checkpoint"`
	// Range is the compact range of the tree of Size records whose
	// entries were checked (--entries): the hashes that extend it.
	Range [][]byte `json:"range,omitempty"`
}

// ForkError says two checkpoints of one log cannot both be true.
type ForkError struct {
	Old, New string // the signed checkpoints
	Reason   string
}

func (e *ForkError) Error() string {
	return "the log's history was rewritten (a fork): " + e.Reason + "\n--- checkpoint held (" + firstLines(e.Old) + ")\n" + e.Old + "--- checkpoint served now (" + firstLines(e.New) + ")\n" + e.New
}

func firstLines(cp string) string {
	l := strings.SplitN(cp, "\n", 4)
	if len(l) < 3 {
		return cp
	}
	return "size " + l[1] + ", root " + l[2]
}

// cmdMonitor follows a node's transparency log: each new checkpoint must
// verify under the log key and be consistent with the last one it
// checked (an RFC 6962 consistency proof from the node); the last
// checkpoint is kept in the state file. A fork exits 1 naming both
// checkpoints.
func cmdMonitor(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nodeURL := fs.String("node", envOr("EVIDENCE_NODE", "http://127.0.0.1:8080"), "the node whose log to follow")
	statePath := fs.String("state", "monitor-state.json", "state file: the log's key and the last checkpoint checked (created on first run)")
	logKey := fs.String("log-key", "", "the log's note verifier key (DATA/tlog-key.pub); default: the state file's, or on a first run the trust roots the node serves (trust on first use); after a key rotation, the new key replaces the state file's")
	once := fs.Bool("once", false, "check the current checkpoint once and exit")
	entries := fs.Bool("entries", false, "also fetch every new entry (the tiles' entry bundles), check that each is a record in canonical form and that they hash to the checkpoint's root (a first run with it reads the whole log, with progress)")
	interval := fs.Duration("interval", 10*time.Second, "how often to fetch the checkpoint")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: evidencectl monitor --node URL [--state FILE] [--log-key KEY] [--entries] [--once] [--interval 10s]")
		fs.PrintDefaults()
	}
	if _, err := parse(fs, args); err != nil {
		return false, err
	}
	if *interval < 100*time.Millisecond {
		return false, usagef("monitor: --interval %v is too short", *interval)
	}
	base := strings.TrimRight(*nodeURL, "/")
	hc := &http.Client{Timeout: 30 * time.Second}
	var st monitorState
	switch b, err := os.ReadFile(*statePath); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return false, usagef("monitor: state: %v", err)
	default:
		if err := json.Unmarshal(b, &st); err != nil || st.V != 1 {
			return false, usagef("monitor: state file %s is not a monitor state (%v)", *statePath, err)
		}
	}
	keyChanged := false // a --log-key replacing the state's: saved even if no new checkpoint
	if *logKey != "" {
		if _, err := logproof.ParseLogKey(*logKey); err != nil {
			return false, usagef("monitor: --log-key: %v", err)
		}
		if st.LogKey != "" && st.LogKey != *logKey {
			// The log's key was rotated (docs/transparency-log.md): the
			// checkpoints from now on must verify under the new key, and
			// be consistent with the one held, checked under the old.
			fmt.Fprintf(stdout, "the log key changes from %s to %s (a key rotation): checkpoints must verify under the new key from now on\n", st.LogKey, *logKey)
			keyChanged = true
		}
		st.LogKey = *logKey
	}
	if st.LogKey == "" || st.Origin == "" {
		var ledger struct {
			TrustRoots struct {
				Log *struct {
					Origin string `json:"origin"`
					Key    string `json:"key"`
				} `json:"log"`
			} `json:"trust_roots"`
		}
		b, err := fetch(ctx, hc, base+"/api/v1/ledger", 4<<20)
		if err != nil {
			return false, err
		}
		if err := json.Unmarshal(b, &ledger); err != nil || ledger.TrustRoots.Log == nil {
			return false, fmt.Errorf("monitor: the node names no transparency log in its trust roots (%v)", err)
		}
		if st.LogKey == "" {
			st.LogKey = ledger.TrustRoots.Log.Key
			fmt.Fprintf(stdout, "trusting the log key the node serves (first use): %s\n", st.LogKey)
		}
		st.Origin = ledger.TrustRoots.Log.Origin
	}
	st.V = 1
	for {
		changed, err := monitorStep(ctx, hc, base, &st, *entries, stdout)
		if changed || (keyChanged && err == nil) {
			keyChanged = false
			b, _ := json.MarshalIndent(st, "", "  ")
			if werr := store.WriteFile(*statePath, append(b, '\n'), 0o644); werr != nil {
				return false, fmt.Errorf("monitor: state: %w", werr)
			}
		}
		var fe *ForkError
		if errors.As(err, &fe) {
			fmt.Fprintln(stderr, "evidencectl monitor: FORK:", err)
			return false, nil
		}
		if err != nil {
			if *once {
				return false, err
			}
			fmt.Fprintln(stderr, "evidencectl monitor:", err, "(retrying)")
		}
		if *once {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return true, nil
		case <-time.After(*interval):
		}
	}
}

// monitorStep fetches the checkpoint and checks it against the state;
// changed says the state moved on.
func monitorStep(ctx context.Context, hc *http.Client, base string, st *monitorState, entries bool, stdout io.Writer) (bool, error) {
	b, err := fetch(ctx, hc, base+"/checkpoint", logproof.MaxCheckpoint)
	if err != nil {
		return false, err
	}
	v, err := logproof.Open(b, st.Origin, st.LogKey, nil)
	if err != nil {
		return false, fmt.Errorf("the served checkpoint does not verify: %w", err)
	}
	fork := func(reason string) error { return &ForkError{Old: st.Checkpoint, New: string(b), Reason: reason} }
	switch {
	case st.Checkpoint == "":
	case v.Size < st.Size:
		return false, fork(fmt.Sprintf("the log shrank from %d to %d records", st.Size, v.Size))
	case v.Size == st.Size:
		if !bytes.Equal(v.Root, st.Root) {
			return false, fork(fmt.Sprintf("two different trees of %d records", v.Size))
		}
		if !entries || st.Range != nil {
			return false, nil
		}
	default:
		pb, err := fetch(ctx, hc, fmt.Sprintf("%s/api/v1/proof/consistency?old=%d&new=%d", base, st.Size, v.Size), 64<<10)
		if err != nil {
			return false, err
		}
		var cv struct {
			Proof []string `json:"proof"`
		}
		if err := json.Unmarshal(pb, &cv); err != nil {
			return false, fmt.Errorf("consistency proof: %w", err)
		}
		prf := make([][]byte, len(cv.Proof))
		for i, s := range cv.Proof {
			if prf[i], err = base64.StdEncoding.DecodeString(s); err != nil {
				return false, fmt.Errorf("consistency proof: %w", err)
			}
		}
		if err := logproof.VerifyConsistency(st.Size, v.Size, prf, st.Root, v.Root); err != nil {
			return false, fork(fmt.Sprintf("the tree of %d records is not an extension of the one of %d held: %v", v.Size, st.Size, err))
		}
	}
	var rng *compact.Range
	if entries {
		if rng, err = checkEntries(ctx, hc, base, st, v, fork, stdout); err != nil {
			return false, err
		}
	}
	fmt.Fprintf(stdout, "%s checkpoint %d records, root %s: consistent with %d\n", time.Now().UTC().Format(time.RFC3339), v.Size, base64.StdEncoding.EncodeToString(v.Root), st.Size)
	st.Size, st.Root, st.Checkpoint = v.Size, v.Root, string(b)
	if rng != nil {
		st.Range = rng.Hashes()
	}
	return true, nil
}

// checkEntries fetches the entries of the log from the state's checked
// range (or from 0) to the checkpoint v: each must be a record in
// canonical form, and the leaves must hash to v's root (and, passing the
// size the state holds, to its root). It returns the range of v.
func checkEntries(ctx context.Context, hc *http.Client, base string, st *monitorState, v logproof.Verified, fork func(string) error, stdout io.Writer) (*compact.Range, error) {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	from := uint64(0)
	rng := rf.NewEmptyRange(0)
	if st.Range != nil && st.Size <= v.Size {
		r, err := rf.NewRange(0, st.Size, st.Range)
		if err != nil {
			return nil, fmt.Errorf("monitor: the state's range: %w", err)
		}
		rng, from = r, st.Size
	}
	checkAt := func(size uint64, root []byte, what string) error {
		got, err := rng.GetRootHash(nil)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, root) {
			return fork(fmt.Sprintf("the log's entries up to %d do not hash to the root of %s", size, what))
		}
		return nil
	}
	const bundle = 1 << tlog.TileHeight
	start, report := time.Now(), time.Now()
	for i := from; i < v.Size; {
		k := i / bundle
		w := min(bundle, v.Size-k*bundle)
		t := xtlog.Tile{H: tlog.TileHeight, L: -1, N: int64(k), W: int(w)}
		data, err := fetch(ctx, hc, base+"/"+tlog.TilePath(t), bundle*(2+tlog.MaxEntry))
		if err != nil {
			return nil, err
		}
		for j := uint64(0); j < w; j++ {
			if len(data) < 2 || len(data) < 2+int(binary.BigEndian.Uint16(data)) {
				return nil, fmt.Errorf("entry bundle %s: cut short at entry %d", tlog.TilePath(t), k*bundle+j)
			}
			n := int(binary.BigEndian.Uint16(data))
			leaf := data[2 : 2+n]
			data = data[2+n:]
			if k*bundle+j < i {
				continue
			}
			if _, err := evidence.ParseRecord(leaf); err != nil {
				return nil, fmt.Errorf("entry %d of the log is not a record in canonical form: %w", k*bundle+j, err)
			}
			if err := rng.Append(rfc6962.DefaultHasher.HashLeaf(leaf), nil); err != nil {
				return nil, err
			}
			i++
			if i == st.Size && from == 0 && st.Checkpoint != "" {
				if err := checkAt(i, st.Root, "the checkpoint held"); err != nil {
					return nil, err
				}
			}
		}
		if len(data) != 0 {
			return nil, fmt.Errorf("entry bundle %s: %d bytes after its %d entries", tlog.TilePath(t), len(data), w)
		}
		if time.Since(report) > 10*time.Second {
			fmt.Fprintf(stdout, "entries: %d of %d checked\n", i, v.Size)
			report = time.Now()
		}
	}
	if err := checkAt(v.Size, v.Root, "the checkpoint served"); err != nil {
		return nil, err
	}
	if v.Size > from {
		fmt.Fprintf(stdout, "entries %d to %d: records, hashing to the root (%s)\n", from, v.Size, time.Since(start).Round(time.Millisecond))
	}
	return rng, nil
}

func fetch(ctx context.Context, hc *http.Client, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("GET %s: answer over %d bytes", url, limit)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, bytes.TrimSpace(b))
	}
	return b, nil
}
