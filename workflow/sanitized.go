package workflow

import (
	"context"
	"errors"

	"github.com/failback/failback/internal/safetext"
)

// Sanitized returns s as a front end that draws on a terminal must see
// it: every string of every answer (job titles, VM and disk names, log
// and audit text, PowerShell, agent and Azure error messages that reached
// a view) and every error message passes safetext, so no control
// sequence from outside reaches a console. Calls go through unchanged
// (the actor included); only answers are cleaned, into copies.
func Sanitized(s Service) Service {
	if _, ok := s.(sanitized); ok || s == nil {
		return s
	}
	return sanitized{s: s}
}

type sanitized struct{ s Service }

func (z sanitized) Plans() []PlanInfo { return safetext.Value(z.s.Plans()) }
func (z sanitized) Sites() SiteInfo   { return safetext.Value(z.s.Sites()) }
func (z sanitized) Jobs() []JobView   { return safetext.Value(z.s.Jobs()) }

func (z sanitized) Job(id string) (JobView, bool) {
	v, ok := z.s.Job(id)
	return safetext.Value(v), ok
}

func (z sanitized) Log(id string, n int) []LogLine { return safetext.Value(z.s.Log(id, n)) }

func (z sanitized) Actions(id string, who Actor) []ActionState {
	return safetext.Value(z.s.Actions(id, who))
}

func (z sanitized) Subscribe() (<-chan struct{}, func()) { return z.s.Subscribe() }

func (z sanitized) CheckLocation(ctx context.Context, c Choices) (LocationReport, error) {
	v, err := z.s.CheckLocation(ctx, c)
	return safetext.Value(v), cleanError(err)
}

func (z sanitized) Estimate(ctx context.Context, c Choices) (Estimate, error) {
	v, err := z.s.Estimate(ctx, c)
	return safetext.Value(v), cleanError(err)
}

func (z sanitized) Certificates(ctx context.Context, c Choices) (CertReport, error) {
	v, err := z.s.Certificates(ctx, c)
	return safetext.Value(v), cleanError(err)
}

func (z sanitized) Preflight(ctx context.Context, c Choices) (PreflightReport, error) {
	v, err := z.s.Preflight(ctx, c)
	return safetext.Value(v), cleanError(err)
}

func (z sanitized) Start(ctx context.Context, c Choices, who Actor) (string, error) {
	id, err := z.s.Start(ctx, c, who)
	return safetext.Clean(id), cleanError(err)
}

func (z sanitized) Act(ctx context.Context, id string, a Action, who Actor) error {
	return cleanError(z.s.Act(ctx, id, a, who))
}

// cleanError is err with its message cleaned (newlines kept: pre-flight
// errors list their problems a line each). errors.Is still finds what err
// wraps; errors.As for a *PreflightError gets a cleaned copy.
func cleanError(err error) error {
	if err == nil {
		return nil
	}
	msg := safetext.Lines(err.Error())
	var pe *PreflightError
	if msg == err.Error() && !errors.As(err, &pe) {
		return err
	}
	return &cleanedError{msg: msg, err: err}
}

type cleanedError struct {
	msg string
	err error
}

func (e *cleanedError) Error() string { return e.msg }
func (e *cleanedError) Unwrap() error { return e.err }

// As hands out a cleaned copy of a pre-flight report, never the raw one.
func (e *cleanedError) As(target any) bool {
	t, ok := target.(**PreflightError)
	if !ok {
		return false
	}
	var pe *PreflightError
	if !errors.As(e.err, &pe) {
		return false
	}
	*t = &PreflightError{Report: safetext.Value(pe.Report)}
	return true
}
