// Command specsubset trims an official OpenAPI 3.0 description down to the
// operations the project uses, so that tests can check the project's clients
// and HTTP fakes against the real contract without committing multi-megabyte
// upstream files.
//
// It keeps the selected operations (and their path-level parameters), every
// component they reference transitively, and the document's openapi, info,
// servers, security and securitySchemes. It drops prose and vendor
// extensions (description, summary, example, examples, externalDocs, x-*),
// which validation does not need, and writes deterministic JSON (sorted keys),
// so that regenerating from the same input is byte-identical.
//
// Usage:
//
//	specsubset -in spec.yaml -out subset.json -source "where it comes from" \
//	    -ops ops.txt [-op "GET /path"]...
//
// The ops file holds one "METHOD /path" per line; blank lines and # comments
// are ignored.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// opFlag collects repeated -op values.
type opFlag []string

func (o *opFlag) String() string     { return strings.Join(*o, ", ") }
func (o *opFlag) Set(s string) error { *o = append(*o, s); return nil }

// run is main without the process exit, so tests can drive it.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("specsubset", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "input OpenAPI 3.0 description (JSON or YAML)")
	out := fs.String("out", "", "output file (JSON)")
	source := fs.String("source", "", "text noting where the input comes from (recorded in info.x-astro-ci-source)")
	opsFile := fs.String("ops", "", `file with one "METHOD /path" per line (# comments allowed)`)
	var opArgs opFlag
	fs.Var(&opArgs, "op", `operation to keep, "METHOD /path" (repeatable)`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *in == "" || *out == "" || *source == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "specsubset: -in, -out and -source are required, and no positional arguments are accepted")
		fs.Usage()
		return 2
	}

	var lines []string
	if *opsFile != "" {
		data, err := os.ReadFile(*opsFile)
		if err != nil {
			fmt.Fprintf(stderr, "specsubset: %v\n", err)
			return 1
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if err := sc.Err(); err != nil {
			fmt.Fprintf(stderr, "specsubset: reading %s: %v\n", *opsFile, err)
			return 1
		}
	}
	lines = append(lines, opArgs...)
	ops, err := parseOps(lines)
	if err != nil {
		fmt.Fprintf(stderr, "specsubset: %v\n", err)
		return 2
	}
	if len(ops) == 0 {
		fmt.Fprintln(stderr, "specsubset: no operations given (use -op or -ops)")
		return 2
	}

	raw, err := os.ReadFile(*in)
	if err != nil {
		fmt.Fprintf(stderr, "specsubset: %v\n", err)
		return 1
	}
	doc, err := decodeDocument(raw)
	if err != nil {
		fmt.Fprintf(stderr, "specsubset: %s: %v\n", *in, err)
		return 1
	}
	sum := sha256.Sum256(raw)
	result, err := subset(doc, ops, sourceInfo{
		Text:   *source,
		File:   filepath.Base(*in),
		SHA256: hex.EncodeToString(sum[:]),
	})
	if err != nil {
		// A *missingOpsError lists every missing operation on its own line.
		fmt.Fprintf(stderr, "specsubset: %s: %v\n", *in, err)
		return 1
	}
	encoded, err := encodeJSON(result)
	if err != nil {
		fmt.Fprintf(stderr, "specsubset: %v\n", err)
		return 1
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintf(stderr, "specsubset: %v\n", err)
		return 1
	}
	if err := os.WriteFile(*out, encoded, 0o644); err != nil {
		fmt.Fprintf(stderr, "specsubset: %v\n", err)
		return 1
	}
	return 0
}

// operation is one "METHOD /path" to keep.
type operation struct {
	Method string // lower case, as the key in a path item
	Path   string
}

func (o operation) String() string { return strings.ToUpper(o.Method) + " " + o.Path }

var httpMethods = map[string]bool{
	"get": true, "put": true, "post": true, "delete": true,
	"options": true, "head": true, "patch": true, "trace": true,
}

// parseOps parses "METHOD /path" lines, ignoring blanks and # comments, and
// drops duplicates while keeping the first occurrence's order.
func parseOps(lines []string) ([]operation, error) {
	var ops []operation
	seen := map[operation]bool{}
	var errs []error
	for i, line := range lines {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 || !httpMethods[strings.ToLower(fields[0])] || !strings.HasPrefix(fields[1], "/") {
			errs = append(errs, fmt.Errorf("operation %d: want \"METHOD /path\", got %q", i+1, strings.TrimSpace(line)))
			continue
		}
		op := operation{Method: strings.ToLower(fields[0]), Path: fields[1]}
		if !seen[op] {
			seen[op] = true
			ops = append(ops, op)
		}
	}
	return ops, errors.Join(errs...)
}
