// Command evidence-vectors writes the published test vectors of the
// evidence format (docs/vectors/*.json) from the reference
// implementation, or checks a directory of them against it:
//
//	go run ./cmd/evidence-vectors -out docs/vectors     # regenerate
//	go run ./cmd/evidence-vectors -check docs/vectors   # run every case
//
// The vectors are deterministic (fixed keys, times and IDs, RFC 6979
// signatures): regenerating them without a change of the format writes
// the same bytes, and `go test ./cmd/evidence-vectors` (part of make test)
// fails when the committed files differ from what this command makes or
// when a case does not pass or fail as labelled. docs/vectors/README.md
// describes the files and the reason codes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "evidence-vectors:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("evidence-vectors", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "write the vectors into this directory")
	check := fs.String("check", "", "run every case of the vectors in this directory through the verifier")
	root := fs.String("root", ".", "the repository root (the Fabric golden data is read from verifier/testdata/fabric)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *out != "":
		files, err := Generate(*root)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		names := make([]string, 0, len(files))
		for n := range files {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(*out, n), files[n], 0o644); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %s (%d bytes)\n", filepath.Join(*out, n), len(files[n]))
		}
		return nil
	case *check != "":
		n, fails, err := CheckDir(*check)
		if err != nil {
			return err
		}
		for _, f := range fails {
			fmt.Fprintln(stdout, "FAIL", f)
		}
		fmt.Fprintf(stdout, "%d cases, %d failed\n", n, len(fails))
		if len(fails) > 0 {
			return errors.New("some cases do not pass or fail as labelled")
		}
		return nil
	}
	fs.Usage()
	return errors.New("give -out DIR or -check DIR")
}
