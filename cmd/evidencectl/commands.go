package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/evidence-node/evidence-node/node/logging"
	"github.com/evidence-node/evidence-node/node/platform"
	"github.com/evidence-node/evidence-node/verifier/evidence"
	"github.com/evidence-node/evidence-node/web/client"
)

func cmdPlatform(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("platform: want add, list, rotate or revoke")
	}
	fs := flag.NewFlagSet("platform "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", envOr("EVIDENCE_DATA", "./data"), "the node's data directory (env EVIDENCE_DATA)")
	switch args[0] {
	case "add":
		quota := fs.Int64("quota", 0, "records the platform may submit per period (0: no cap)")
		period := fs.String("period", "", "quota period: 1y, 6mo, 4w, 30d, 24h (default 1y when --quota is set)")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("platform add: want exactly one NAME")
		}
		key, p, err := platform.Add(*data, pos[0], *quota, *period, time.Now())
		if err != nil {
			return usagef("platform add: %v", err)
		}
		fmt.Fprintf(stdout, "platform %q registered in %s\n", p.Name, *data)
		if p.Quota > 0 {
			fmt.Fprintf(stdout, "quota: %d records per %s\n", p.Quota, p.Period)
		}
		fmt.Fprintln(stdout, "API key (shown once; only its hash is stored; send it as Authorization: Bearer KEY):")
		fmt.Fprintln(stdout, key)
		return nil
	case "list":
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 0 {
			return usagef("platform list takes no arguments")
		}
		r, err := platform.Open(*data, platform.WithLogger(logging.Discard()))
		if err != nil {
			return err
		}
		defer r.Close()
		now := time.Now()
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tKEY\tQUOTA\tPERIOD\tCREATED\tSTATUS")
		for _, p := range r.List() {
			q := "-"
			if p.Quota > 0 {
				q = fmt.Sprint(p.Quota)
			}
			fmt.Fprintf(tw, "%s\t%s…\t%s\t%s\t%s\t%s\n", p.Name, p.KeyHint, q, p.Period, p.Created, status(p, now))
		}
		return tw.Flush()
	case "revoke":
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("platform revoke: want exactly one NAME")
		}
		p, err := platform.Revoke(*data, pos[0], time.Now())
		if err != nil {
			return lifecycleError("platform revoke", *data, err)
		}
		fmt.Fprintf(stdout, "platform %q revoked at %s: its keys are refused (a running node applies this within 1 s)\n",
			p.Name, p.Revoked.UTC().Format(time.RFC3339))
		fmt.Fprintln(stdout, "its records stay attributed to it; the name cannot be registered again")
		return nil
	case "rotate":
		grace := fs.String("grace", "24h", "how long the old key stays accepted: a duration like 24h, 90m, 7d; 0 refuses it at once")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usagef("platform rotate: want exactly one NAME")
		}
		g, err := parseGrace(*grace)
		if err != nil {
			return usagef("platform rotate: %v", err)
		}
		now := time.Now()
		key, p, err := platform.Rotate(*data, pos[0], g, now)
		if err != nil {
			return lifecycleError("platform rotate", *data, err)
		}
		if g > 0 {
			end := p.Retired[len(p.Retired)-1]
			fmt.Fprintf(stdout, "platform %q has a new key; the old key %s… is accepted until %s, then refused\n",
				p.Name, end.KeyHint, end.Until.UTC().Format(time.RFC3339))
		} else {
			fmt.Fprintf(stdout, "platform %q has a new key; the old key is refused from now on (a running node applies this within 1 s)\n", p.Name)
		}
		fmt.Fprintln(stdout, "API key (shown once; only its hash is stored; send it as Authorization: Bearer KEY):")
		fmt.Fprintln(stdout, key)
		return nil
	case "webhook":
		u := fs.String("url", "", "the platform's webhook endpoint (http or https)")
		remove := fs.Bool("remove", false, "remove the platform's webhook")
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 || (*u == "") == !*remove {
			return usagef("platform webhook: want NAME and --url URL (or --remove)")
		}
		secret, err := platform.SetWebhook(*data, pos[0], *u, time.Now())
		if err != nil {
			return lifecycleError("platform webhook", *data, err)
		}
		if *remove {
			fmt.Fprintf(stdout, "platform %q has no webhook any more (a running node applies this within 1 s)\n", pos[0])
			return nil
		}
		fmt.Fprintf(stdout, "platform %q: events (evidence.committed, evidence.timestamped, evidence.failed) go to %s\n", pos[0], *u)
		fmt.Fprintln(stdout, "signed as Standard Webhooks do (webhook-id, webhook-timestamp, webhook-signature); de-duplicate by webhook-id")
		fmt.Fprintln(stdout, "signing secret (shown once; verify deliveries with it, e.g. client.VerifyWebhook):")
		fmt.Fprintln(stdout, secret)
		return nil
	}
	return usagef("platform: unknown subcommand %q (want add, list, rotate, revoke or webhook)", args[0])
}

// cmdDeliveries lists the platform's recent webhook deliveries, or
// redelivers one (platform deliveries | platform redeliver ID).
func cmdDeliveries(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("platform "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf nodeFlags
	nf.add(fs)
	limit := fs.Int("limit", 50, "how many of the newest to list")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	c := nf.client()
	if args[0] == "redeliver" {
		if len(pos) != 1 {
			return usagef("platform redeliver: want one webhook-id")
		}
		if err := c.Redeliver(ctx, pos[0]); err != nil {
			return wrapNode(err)
		}
		fmt.Fprintf(stdout, "%s queued for delivery again\n", pos[0])
		return nil
	}
	if len(pos) != 0 {
		return usagef("platform deliveries takes no arguments")
	}
	ds, err := c.Deliveries(ctx, *limit)
	if err != nil {
		return wrapNode(err)
	}
	if *asJSON {
		return printJSON(stdout, ds)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tWEBHOOK-ID\tTYPE\tATTEMPT\tRESULT")
	for _, d := range ds {
		res := "delivered"
		switch {
		case d.Parked:
			res = "parked: " + d.Error
		case !d.Delivered:
			res = "failed: " + d.Error + " (next " + d.NextAttempt + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", d.At, d.WebhookID, d.Type, d.Attempt, res)
	}
	return tw.Flush()
}

// status describes a platform's keys for platform list.
func status(p platform.Platform, now time.Time) string {
	if !p.Revoked.IsZero() {
		return "revoked " + p.Revoked.UTC().Format(time.RFC3339)
	}
	s := "active"
	if !p.Rotated.IsZero() {
		s += ", key since " + p.Rotated.UTC().Format(time.RFC3339)
	}
	for _, k := range p.Retired {
		if now.Before(k.Until) {
			s += fmt.Sprintf("; old key %s… until %s", k.KeyHint, k.Until.UTC().Format(time.RFC3339))
		}
	}
	return s
}

// lifecycleError explains a failed rotate or revoke: a name that is not
// there or is revoked is the caller's mistake (usage).
func lifecycleError(cmd, data string, err error) error {
	switch {
	case errors.Is(err, platform.ErrNotPlatform):
		return usagef("%s: %v in %s (see evidencectl platform list --data %s)", cmd, err, data, data)
	case errors.Is(err, platform.ErrRevoked), errors.Is(err, platform.ErrBadGrace):
		return usagef("%s: %v", cmd, err)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// parseGrace parses --grace: a Go duration (24h, 90m, 300ms, 0) or whole
// days (7d).
func parseGrace(s string) (time.Duration, error) {
	bad := fmt.Errorf("--grace %q: want a duration like 24h, 90m or 7d, or 0 to refuse the old key at once", s)
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.ParseUint(n, 10, 16)
		if err != nil {
			return 0, bad
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, bad
	}
	return d, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func cmdSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf nodeFlags
	nf.add(fs)
	digest := fs.String("digest", "", "submit this digest (hex or base64) instead of a file")
	text := fs.String("text", "", "submit this text (its exact UTF-8 bytes)")
	alg := fs.String("algorithm", "", "digest algorithm: sha256 (default) or sm3")
	hashOnly := fs.Bool("hash-only", false, "hash FILE here and send only its digest (the file never leaves this machine)")
	docRef := fs.String("doc-ref", "", "your own reference for the document")
	meta := fs.String("metadata", "", "private metadata, a JSON object (kept off-ledger by the node)")
	ikey := fs.String("idempotency-key", "", "retrying with the same key returns the same receipt")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	modes := 0
	for _, b := range []bool{len(pos) > 0, *digest != "", flagSet(fs, "text")} {
		if b {
			modes++
		}
	}
	if modes != 1 || len(pos) > 1 {
		return usagef("submit: give one FILE, or --digest, or --text")
	}
	var md json.RawMessage
	if *meta != "" {
		if !json.Valid([]byte(*meta)) {
			return usagef("submit: --metadata is not valid JSON")
		}
		md = json.RawMessage(*meta)
	}
	c := nf.client()
	sub := client.Submission{Algorithm: *alg, DocRef: *docRef, Metadata: md}
	var rc any
	switch {
	case len(pos) == 1 && !*hashOnly:
		rc, err = c.UploadFile(ctx, pos[0], client.SubmitOptions{Algorithm: *alg, DocRef: *docRef, Metadata: md, IdempotencyKey: *ikey})
	case len(pos) == 1:
		a, err := evidence.ParseAlgorithm(*alg)
		if err != nil {
			return usagef("submit: %v", err)
		}
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		ds, _, err := evidence.HashReader(f, a)
		f.Close()
		if err != nil {
			return err
		}
		sub.Type, sub.Digest = "file", ds[0].Hex()
		rc, err = c.Submit(ctx, sub, *ikey)
		if err != nil {
			return wrapNode(err)
		}
	case *digest != "":
		sub.Type, sub.Digest = "file", *digest
		rc, err = c.Submit(ctx, sub, *ikey)
	default:
		sub.Type, sub.Text = "text", text
		rc, err = c.Submit(ctx, sub, *ikey)
	}
	if pe := (*client.PendingError)(nil); errors.As(err, &pe) {
		fmt.Fprintln(stderr, "evidencectl: accepted and durably queued; not on the ledger yet: run evidencectl get ID later")
		return printJSON(stdout, map[string]string{"id": pe.IDs[0], "status": "pending"})
	}
	if err != nil {
		return wrapNode(err)
	}
	return printJSON(stdout, rc)
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

func cmdGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf nodeFlags
	nf.add(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("get: want one evidence ID")
	}
	if _, err := evidence.ParseID(pos[0]); err != nil {
		return idError(err)
	}
	rc, err := nf.client().Get(ctx, pos[0])
	if pe := (*client.PendingError)(nil); errors.As(err, &pe) {
		return printJSON(stdout, map[string]string{"id": pos[0], "status": "pending"})
	}
	if err != nil {
		return wrapNode(err)
	}
	return printJSON(stdout, rc)
}

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) (bool, error) {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var nf nodeFlags
	nf.add(fs)
	text := fs.String("text", "", "verify this text")
	digest := fs.String("digest", "", "verify this digest (hex or base64)")
	alg := fs.String("algorithm", "", "algorithm of --digest: sha256 (default) or sm3")
	asJSON := fs.Bool("json", false, "print the node's JSON answer")
	pos, err := parse(fs, args)
	if err != nil {
		return false, err
	}
	if len(pos) < 1 {
		return false, usagef("verify: want an evidence ID")
	}
	id := pos[0]
	if _, err := evidence.ParseID(id); err != nil {
		return false, idError(err)
	}
	c := nf.client()
	var v client.Verification
	switch {
	case len(pos) == 2 && *digest == "" && !flagSet(fs, "text"):
		v, err = c.VerifyFile(ctx, id, pos[1])
	case len(pos) == 1 && *digest != "" && !flagSet(fs, "text"):
		a, perr := evidence.ParseAlgorithm(*alg)
		if perr != nil {
			return false, usagef("verify: %v", perr)
		}
		d, perr := evidence.ParseDigest(a, *digest)
		if perr != nil {
			return false, usagef("verify: %v", perr)
		}
		v, err = c.Verify(ctx, id, d)
	case len(pos) == 1 && *digest == "" && flagSet(fs, "text"):
		v, err = c.VerifyText(ctx, id, *text)
	default:
		return false, usagef("verify: give ID and one of FILE, --text, --digest")
	}
	if err != nil {
		return false, wrapNode(err)
	}
	if *asJSON {
		return v.Verdict == "pass", printJSON(stdout, v)
	}
	fmt.Fprintf(stdout, "evidence %s: %s\n", v.ID, strings.ToUpper(v.Verdict))
	for _, ch := range v.Checks {
		mark := "FAIL"
		if ch.Pass {
			mark = "pass"
		}
		fmt.Fprintf(stdout, "  [%s] %-13s %s\n", mark, ch.Name, ch.Reason)
	}
	if v.Receipt != nil {
		fmt.Fprintf(stdout, "  ledger %s, block %d, hash %s, time %s\n", v.Receipt.Ledger, v.Receipt.BlockNumber, v.Receipt.BlockHash, v.Receipt.LedgerTime)
	}
	return v.Verdict == "pass", nil
}

// idError reports a mistyped or invalid ID as the node would (exit code 3),
// without asking it.
func idError(err error) error {
	code := "id_invalid"
	if errors.Is(err, evidence.ErrIDChecksum) {
		code = "id_checksum"
	}
	return &client.APIError{Status: 400, Code: code, Message: err.Error() + "; check the ID against the original"}
}
