// Package witnesstest runs a real C2SP tlog-witness for tests:
// transparency-dev's omniwitness (pinned in network/tool-versions, built by
// network/build-tools) as a process on 127.0.0.1 that witnesses one log,
// with its own Ed25519 key and its state in a local sqlite file.
//
//	w := witnesstest.Start(t, origin, logVerifierKey)
//	// POST w.URL+"/add-checkpoint" (c2sp.org/tlog-witness); check the
//	// cosignature lines against w.VerifierKey (c2sp.org/tlog-cosignature).
//
// The witness fetches nothing: it polls no logs, pushes to no distributor
// and reads no public witness-network lists; it only answers add-checkpoint.
// (Its built-in list of public logs is loaded but never contacted.) Stop and
// Restart simulate an outage: the same port, key and witnessed state.
//
// When the binary is missing, Start fails the test at once with the
// command to run (network/build-tools, or make tools).
package witnesstest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/evidence-node/evidence-node/node/internal/toolproc"
)

// Witness is a running (or stopped) witness.
type Witness struct {
	// URL is the tlog-witness prefix: the witness answers
	// POST URL+"/add-checkpoint".
	URL string
	// Name is the witness's key name, the name on its cosignature lines.
	Name string
	// VerifierKey is the witness's cosignature/v1 verifier key,
	// "<name>+<key hash>+<base64(0x04 || Ed25519 public key)>"
	// (c2sp.org/tlog-cosignature).
	VerifierKey string
	// PublicKey is the Ed25519 key VerifierKey holds.
	PublicKey ed25519.PublicKey
	// Origin and LogKey are the log the witness accepts checkpoints of
	// and its note verifier key.
	Origin string
	LogKey string

	proc *toolproc.Process
	dir  string
}

// Start starts a witness for the log with checkpoint origin line origin
// and Ed25519 note verifier key logVerifierKey (as note.GenerateKey makes
// them), and stops it when the test ends. Each witness gets a new key and
// a name of its own.
func Start(t testing.TB, origin, logVerifierKey string) *Witness {
	t.Helper()
	bin, err := toolproc.Binary("witness", "omniwitness")
	if err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	if _, err := note.NewVerifier(logVerifierKey); err != nil {
		t.Fatalf("witnesstest: log verifier key %q: %v", logVerifierKey, err)
	}
	if origin == "" || strings.Contains(origin, "\n") {
		t.Fatalf("witnesstest: bad origin %q", origin)
	}
	id := make([]byte, 4)
	rand.Read(id)
	w := &Witness{Name: "witness.evidence-node.test/" + hex.EncodeToString(id), Origin: origin, LogKey: logVerifierKey}
	skey, vkey, err := note.GenerateKey(rand.Reader, w.Name)
	if err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	if w.PublicKey, err = ed25519PublicKey(vkey); err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	w.VerifierKey = CosignatureV1Key(w.Name, w.PublicKey)

	dir := t.TempDir()
	w.dir = dir
	files := map[string]string{
		// The key file is the bare note signer key: no newline.
		"witness.key": skey,
		"logs.yaml":   logList(origin, logVerifierKey),
	}
	for name, s := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatalf("witnesstest: %v", err)
		}
	}

	for attempt := 1; ; attempt++ {
		port, err := toolproc.FreePort()
		if err != nil {
			t.Fatalf("witnesstest: %v", err)
		}
		w.URL = "http://127.0.0.1:" + strconv.Itoa(port)
		w.proc, err = toolproc.Start(toolproc.Config{
			Path: bin,
			Args: []string{
				"--listen", "127.0.0.1:" + strconv.Itoa(port),
				"--metrics_listen", "", // no metrics listener
				"--db_file", filepath.Join(dir, "witness.db"),
				"--private_key_path", filepath.Join(dir, "witness.key"),
				"--additional_logs", filepath.Join(dir, "logs.yaml"),
				"--logtostderr", "--v=1",
			},
			Env:   toolproc.BaseEnv(dir),
			Dir:   dir,
			Log:   filepath.Join(dir, "omniwitness.log"),
			Ready: toolproc.HTTPReady(http.MethodPost, w.URL+"/add-checkpoint", http.StatusBadRequest), // an empty add-checkpoint
		})
		if err == nil {
			break
		}
		if attempt < 3 && errors.Is(err, toolproc.ErrExited) && strings.Contains(err.Error(), "failed to listen") {
			continue
		}
		t.Fatalf("witnesstest: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("witnesstest: end of the omniwitness log:\n%s", w.proc.Tail())
		}
		w.proc.Stop()
	})
	return w
}

// Stop stops the witness (an outage); Restart brings it back.
func (w *Witness) Stop() { w.proc.Stop() }

// Spec is the witness as evidenced --witness and tlog.ParseWitness take
// it: "URL VERIFIER_KEY".
func (w *Witness) Spec() string { return w.URL + " " + w.VerifierKey }

// Restart starts a stopped witness again on the same port with the same key
// and the checkpoints it witnessed, and waits until it answers.
func (w *Witness) Restart(t testing.TB) {
	t.Helper()
	if err := w.proc.Start(); err != nil {
		t.Fatalf("witnesstest: restart: %v", err)
	}
}

// SetLogKey is the witness operator's step after the log's key rotation:
// the witness stops, the key it trusts for the log becomes logVerifierKey
// (omniwitness trusts one key per log), and it starts again on the same
// port with its own key and the checkpoints it witnessed. omniwitness
// copies its log list into its database once (INSERT OR IGNORE: a changed
// list does not change a log it knows), so the key is changed there, with
// the sqlite3 command, as well as in the list.
func (w *Witness) SetLogKey(t testing.TB, logVerifierKey string) {
	t.Helper()
	if _, err := note.NewVerifier(logVerifierKey); err != nil {
		t.Fatalf("witnesstest: log verifier key %q: %v", logVerifierKey, err)
	}
	sqlite, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatalf("witnesstest: SetLogKey needs the sqlite3 command (Debian: apt-get install sqlite3): %v", err)
	}
	w.proc.Stop()
	if err := os.WriteFile(filepath.Join(w.dir, "logs.yaml"), []byte(logList(w.Origin, logVerifierKey)), 0o600); err != nil {
		t.Fatalf("witnesstest: %v", err)
	}
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	sql := "UPDATE logs SET vkey = " + q(logVerifierKey) + " WHERE origin = " + q(w.Origin) + "; SELECT changes();"
	out, err := exec.Command(sqlite, filepath.Join(w.dir, "witness.db"), sql).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		t.Fatalf("witnesstest: changing the log key in the witness's database: %v %s", err, out)
	}
	w.LogKey = logVerifierKey
	if err := w.proc.Start(); err != nil {
		t.Fatalf("witnesstest: restart: %v", err)
	}
}

// logList is the witness's log list: YAML with a "Logs" list of Origin
// and PublicKey (JSON strings are YAML strings).
func logList(origin, logVerifierKey string) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return fmt.Sprintf("Logs:\n  - Origin: %s\n    PublicKey: %s\n", q(origin), q(logVerifierKey))
}

// Running reports whether the witness process runs.
func (w *Witness) Running() bool { return w.proc.Running() }

// CosignatureV1Key is the cosignature/v1 verifier key for an Ed25519 key:
// name, the key hash (the first 4 bytes of SHA-256(name || "\n" || 0x04 ||
// key), in hex) and base64(0x04 || key), joined by "+".
func CosignatureV1Key(name string, pub ed25519.PublicKey) string {
	const algCosignatureV1 = 0x04
	key := append([]byte{algCosignatureV1}, pub...)
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write(key)
	return fmt.Sprintf("%s+%08x+%s", name, binary.BigEndian.Uint32(h.Sum(nil)), base64.StdEncoding.EncodeToString(key))
}

// ed25519PublicKey reads the key from a note verifier key (algorithm 0x01).
func ed25519PublicKey(vkey string) (ed25519.PublicKey, error) {
	parts := strings.SplitN(vkey, "+", 3) // base64 has '+' too
	if len(parts) != 3 {
		return nil, fmt.Errorf("bad verifier key %q", vkey)
	}
	b, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(b) != 1+ed25519.PublicKeySize || b[0] != 0x01 {
		return nil, fmt.Errorf("verifier key %q is not an Ed25519 key", vkey)
	}
	return ed25519.PublicKey(b[1:]), nil
}
