package cli

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/astro-ci/astro-ci/internal/astro"
	"github.com/astro-ci/astro-ci/internal/report"
	"github.com/astro-ci/astro-ci/internal/target"
)

// usageError marks errors that are the user's to fix (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// reportedError is a failure the command already explained line by line
// (token check's expired tokens): no second error line, but JSON output
// still carries it.
type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }

// stopError is a run cut short by --deadline or a signal, saying what it was
// waiting for.
type stopError struct {
	kind    string // "deadline" or "interrupted"
	msg     string
	request string // the request in flight, if one was
	err     error
}

func (e *stopError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *stopError) Unwrap() error { return e.err }

// Failure kinds of the JSON "error" member (docs/schema).
const (
	kindUsage       = "usage"
	kindFailed      = "failed"
	kindDeadline    = "deadline"
	kindInterrupted = "interrupted"
	kindInternal    = "internal"
)

// failure describes err for the JSON document: its kind, and the target or
// request that failed when the error says.
func failure(err error) report.Failure {
	f := report.Failure{Message: err.Error(), Kind: kindFailed, ExitCode: ExitFailed}
	var (
		se *stopError
		te *target.Error
		ae *astro.APIError
		ue *url.Error
	)
	switch {
	case isUsage(err):
		f.Kind, f.ExitCode = kindUsage, ExitUsage
	case errors.As(err, &se):
		f.Kind, f.Request = se.kind, se.request
	}
	if errors.As(err, &te) {
		f.Target = te.Target
	}
	switch {
	case f.Request != "":
	case errors.As(err, &ae) && ae.Method != "":
		f.Request = ae.Method + " " + ae.Path
	case errors.As(err, &ue):
		f.Request = ue.Op + " " + stripQuery(ue.URL)
	}
	return f
}

// stripQuery drops the query and fragment of a URL for messages: signed
// URLs carry credentials there.
func stripQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}
