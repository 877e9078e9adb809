package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/failback/failback/workflow"
)

// LocalActor is the person at this terminal: the OS user, as an operator.
func LocalActor() workflow.Actor {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "operator"
	}
	return workflow.Actor{Name: name, Role: workflow.RoleOperator, Via: "console"}
}

// RunIO overrides the terminal Run uses (tests); nil fields mean stdin
// and stdout.
type RunIO struct {
	In  io.Reader
	Out io.Writer
}

// Run shows the console on the local terminal until the operator quits
// or ctx ends. Jobs it started keep running: they belong to svc. The
// colour profile comes from the terminal and the environment, so
// NO_COLOR is honoured.
func Run(ctx context.Context, svc workflow.Service, who workflow.Actor, o Options, rio RunIO) error {
	in, out := rio.In, rio.Out
	if in == nil {
		in = os.Stdin
	}
	if out == nil {
		out = os.Stdout
	}
	if o.Renderer == nil {
		o.Renderer = lipgloss.NewRenderer(out)
	}
	if o.Context == nil {
		o.Context = ctx
	}
	if _, drives := svc.(*workflow.Manager); drives {
		o.QuitStopsJobs = true // this process drives the jobs: quitting stops them
	}
	m := New(svc, who, o)
	defer m.Close()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	if _, err := p.Run(); err != nil {
		if ctx.Err() != nil && errors.Is(err, tea.ErrProgramKilled) {
			return nil // asked to stop: not a failure
		}
		return fmt.Errorf("console: %w (is this a terminal? use the script commands otherwise)", err)
	}
	return nil
}
