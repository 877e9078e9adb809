package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/failback/failback/workflow"
)

// hostile answers with terminal sequences everywhere a front end draws.
type hostile struct{ workflow.Service }

const osc = "\x1b]0;owned\x07"

func (hostile) Jobs() []workflow.JobView {
	return []workflow.JobView{{ID: "j1", Title: "web" + osc}}
}

func (hostile) Log(string, int) []workflow.LogLine {
	return []workflow.LogLine{{Text: "Hyper-V: " + osc}}
}

func (hostile) Act(context.Context, string, workflow.Action, workflow.Actor) error {
	return fmt.Errorf("agent said %s: %w", osc, workflow.ErrNotAllowed)
}

func (hostile) Start(context.Context, workflow.Choices, workflow.Actor) (string, error) {
	return "", &workflow.PreflightError{Report: workflow.PreflightReport{Checks: []workflow.CheckRow{{What: "host", Detail: "\x1b[2J" + osc}}}}
}

// What a console draws through Sanitized carries no escape character,
// and errors keep their kind (errors.Is, errors.As) with clean text.
func TestSanitizedServiceCleansAnswersAndErrors(t *testing.T) {
	s := workflow.Sanitized(hostile{})
	if got := s.Jobs()[0].Title; strings.Contains(got, "\x1b") || got != `web\x1b]0;owned\x07` {
		t.Errorf("title %q", got)
	}
	if got := s.Log("", 0)[0].Text; strings.Contains(got, "\x1b") {
		t.Errorf("log %q", got)
	}
	err := s.Act(context.Background(), "j1", workflow.ActCommit, workflow.Actor{})
	if !errors.Is(err, workflow.ErrNotAllowed) || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("act error %q (Is ErrNotAllowed: %v)", err, errors.Is(err, workflow.ErrNotAllowed))
	}
	_, err = s.Start(context.Background(), workflow.Choices{}, workflow.Actor{})
	var pe *workflow.PreflightError
	if !errors.As(err, &pe) || strings.Contains(pe.Report.Checks[0].Detail, "\x1b") || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("start error %q, report %+v", err, pe)
	}
	if workflow.Sanitized(s) != s {
		t.Error("wrapped twice")
	}
}
