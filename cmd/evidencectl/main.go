// Command evidencectl is the command-line client of the evidence node: it
// registers platforms, rotates and revokes their keys (offline, in the
// node's data directory; a running node applies it within 1 s), submits,
// fetches and verifies evidence, checks a stopped node's ledger (fsck),
// and drives load for benchmarks.
//
// Exit codes: 0 success (or verification passed, or fsck found the ledger
// intact); 1 verification failed (or fsck found corruption); 2 usage
// error (or fsck cannot check: the node is running, no ledger); 3 the
// node refused the request (4xx: bad input, unknown or mistyped ID,
// quota); 4 the node is unreachable or failed (5xx).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/evidence-node/evidence-node/web/client"
)

// Exit codes.
const (
	ExitOK       = 0
	ExitFailed   = 1
	ExitUsage    = 2
	ExitRejected = 3
	ExitNode     = 4
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: evidencectl COMMAND [flags]

commands:
  platform add NAME --data DIR [--quota N --period 1y]   register a platform; prints its API key on the last line
  platform list --data DIR                               list platforms, revoked ones and old keys included
  platform rotate NAME --data DIR [--grace 24h]          a new API key (printed on the last line); the old one works
                                                         until the grace period ends (--grace 0: refused at once)
  platform revoke NAME --data DIR                        refuse the platform's keys from now on (its records stay)
  platform webhook NAME --url URL --data DIR             send the platform's events to URL; prints the signing secret on the last line
  platform deliveries [--limit N] --key KEY              the platform's recent webhook deliveries (from the node)
  platform redeliver WEBHOOK-ID --key KEY                deliver an event again (a parked one too)
  submit FILE [--hash-only] | --digest HEX | --text T    submit evidence; prints the receipt
  get ID                                                 print the receipt of an ID
  lookup FILE | --text T | --digest HEX                  the records holding a digest: was this ever recorded?
  audit [PATH…] [--list id,path.csv] [--packages DIR]    check many files against the node (IDs optional: found by digest)
                                                         or offline against packages; writes audit.csv, .html, signed .pdf; exit 1 if any fails
  verify ID FILE | --text T | --digest HEX               verify; exit 0 pass, 1 fail
  bench [--clients N --duration D --count N --batch N]   load generator
  package ID [-o FILE] [--certificate | --original FILE]  download the evidence package (电子证据包), optionally with the original embedded
  verify-package PACKAGE.pdf [--file F | --text T | --digest HEX] [--trust ROOTS.json] [--witness-key KEY]… [--json]
                                                         check a package offline (no network); exit 0 pass, 1 fail
  monitor --node URL [--state FILE] [--entries] [--once]  follow the node's transparency log: every checkpoint must be consistent
                                                         with the last one checked (kept in FILE); exit 1 on a fork, naming both
  fsck --data DIR [--json] [-q]                          check a stopped node's whole embedded ledger offline;
                                                         exit 0 intact, 1 corrupted (names the first bad block)
  backup -o FILE (--node ADMIN-URL --token-file F | --data DIR) [--incremental EARLIER.tar]
                                                         back up a running node (its --admin-listen) or a stopped one
  key rotate --data DIR [--key NEW.pem] [--signing-cert CHAIN.pem]
                                                         replace a stopped node's key; the old one stays in the trust roots
                                                         with the blocks it sealed (key list --data DIR: the history)
  key rotate --which checkpoint --data DIR [--key NEW]   replace the transparency log's key; the old one signs beside it
  key retire --which checkpoint --data DIR               until retired, once every witness has the new key
  restore FULL.tar [INCREMENTAL.tar …] --data NEWDIR      restore backups into a new data directory, then check it as fsck does;
                                                         refuses a damaged backup (exit 2), exit 1 if the check fails

node commands take --node URL (EVIDENCE_NODE, default http://127.0.0.1:8080)
and --key KEY (EVIDENCE_API_KEY). Run "evidencectl COMMAND -h" for a command's flags.

exit codes: 0 ok, 1 verification failed (fsck: corrupted), 2 usage (fsck: cannot check), 3 refused by the node (4xx),
4 node unreachable or failed (5xx)
`

// usageError marks errors in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// Main runs evidencectl and returns its exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	var err error
	switch args[0] {
	case "platform":
		if len(args) > 1 && (args[1] == "deliveries" || args[1] == "redeliver") {
			err = cmdDeliveries(ctx, args[1:], stdout, stderr)
		} else {
			err = cmdPlatform(args[1:], stdout, stderr)
		}
	case "submit":
		err = cmdSubmit(ctx, args[1:], stdout, stderr)
	case "lookup":
		err = cmdLookup(ctx, args[1:], stdout, stderr)
	case "audit":
		var pass bool
		pass, err = cmdAudit(ctx, args[1:], stdout, stderr)
		if err == nil && !pass {
			return ExitFailed
		}
	case "get":
		err = cmdGet(ctx, args[1:], stdout, stderr)
	case "verify":
		var pass bool
		pass, err = cmdVerify(ctx, args[1:], stdout, stderr)
		if err == nil && !pass {
			return ExitFailed
		}
	case "bench":
		err = cmdBench(ctx, args[1:], stdout, stderr)
	case "verify-package", "package":
		return packageCommand(ctx, args, stdout, stderr)
	case "fsck":
		var ok bool
		ok, err = cmdFsck(args[1:], stdout, stderr)
		if err == nil && !ok {
			return ExitFailed
		}
	case "monitor":
		var ok bool
		ok, err = cmdMonitor(ctx, args[1:], stdout, stderr)
		if err == nil && !ok {
			return ExitFailed
		}
	case "backup":
		err = cmdBackup(ctx, args[1:], stdout, stderr)
	case "key":
		err = cmdKey(args[1:], stdout, stderr)
	case "restore":
		var ok bool
		ok, err = cmdRestore(args[1:], stdout, stderr)
		if err == nil && !ok {
			return ExitFailed
		}
	default:
		err = usagef("unknown command %q", args[0])
	}
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "evidencectl:", err)
		fmt.Fprintln(stderr, `run "evidencectl help" for usage`)
		return ExitUsage
	}
	var ae *client.APIError
	if errors.As(err, &ae) {
		fmt.Fprintf(stderr, "evidencectl: %s: %s\n", ae.Code, ae.Message)
		if ae.MessageZH != "" {
			fmt.Fprintf(stderr, "evidencectl: %s\n", ae.MessageZH)
		}
		if ae.Status >= 500 {
			return ExitNode
		}
		return ExitRejected
	}
	fmt.Fprintln(stderr, "evidencectl:", err)
	var ne nodeError
	if errors.As(err, &ne) {
		return ExitNode
	}
	return ExitFailed
}

// nodeError marks failures to reach the node.
type nodeError struct{ err error }

func (e nodeError) Error() string { return "cannot reach the node: " + e.err.Error() }
func (e nodeError) Unwrap() error { return e.err }

// wrapNode classifies a client error: API errors, local files that cannot
// be read and damaged downloads stay; others are the node being
// unreachable.
func wrapNode(err error) error {
	if err == nil {
		return nil
	}
	var ae *client.APIError
	var pe *fs.PathError
	if errors.As(err, &ae) || errors.As(err, &pe) || errors.Is(err, client.ErrDamaged) {
		return err
	}
	return nodeError{err}
}

// nodeFlags adds --node and --key to a flag set.
type nodeFlags struct{ url, key string }

func (n *nodeFlags) add(fs *flag.FlagSet) {
	def := os.Getenv("EVIDENCE_NODE")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs.StringVar(&n.url, "node", def, "node URL (env EVIDENCE_NODE)")
	fs.StringVar(&n.key, "key", os.Getenv("EVIDENCE_API_KEY"), "platform API key (env EVIDENCE_API_KEY)")
}

func (n *nodeFlags) client() *client.Client { return client.New(n.url, client.WithKey(n.key)) }

// parse parses flags that may be interleaved with positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
