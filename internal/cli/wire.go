package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/failback/failback/config"
	"github.com/failback/failback/internal/safetext"
	"github.com/failback/failback/internal/wire"
	"github.com/failback/failback/workflow"
)

// The workflow's real dependencies are built by internal/wire, the one
// wiring; this file decides whether a command drives the jobs itself or
// goes through the process that does.

// cliActor is the person running a script command: an operator (whoever
// may run failback with this config may act).
func cliActor() workflow.Actor {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "operator"
	}
	return workflow.Actor{Name: name, Role: workflow.RoleOperator, Via: "cli"}
}

// wireOptions say how a process uses the workflow.
type wireOptions struct {
	// Command names this process to others ("failback run --plan web").
	Command string
	// AutoResume resumes interrupted jobs at once (the console and
	// failback serve; script commands resume only what they act on).
	AutoResume bool
}

// openWorkflow returns the Service of cfg's state folder: the control
// socket of the process that drives its jobs when one runs, else a
// Manager driving them in this process. close releases it (a Manager
// stops its jobs at a safe point: they resume later).
func openWorkflow(ctx context.Context, cfg *config.Config, o wireOptions) (svc workflow.Service, close func(), err error) {
	var busy error
	for range 3 {
		if c, err := workflow.Dial(ctx, cfg.StateDir); err == nil {
			return c, func() { _ = c.Close() }, nil
		} else if errors.Is(err, workflow.ErrUntrustedSocket) {
			return nil, nil, err
		}
		d, release, err := wire.Deps(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		d.Command, d.AutoResume = o.Command, o.AutoResume
		m, err := workflow.Open(ctx, cfg, d)
		if errors.Is(err, workflow.ErrBusy) {
			release() // another process took the folder meanwhile: use it
			busy = err
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if err != nil {
			release()
			return nil, nil, err
		}
		for _, e := range m.LoadErrors() {
			fmt.Fprintf(os.Stderr, "failback: warning: %s\n", safetext.Lines(e.Error()))
		}
		return m, func() { _ = m.Close(); release() }, nil
	}
	return nil, nil, fmt.Errorf("%w (its control socket does not answer)", busy)
}
