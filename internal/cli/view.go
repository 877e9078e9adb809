package cli

import (
	"context"
	"errors"

	"github.com/failback/failback/config"
	"github.com/failback/failback/workflow"
)

// viewWorkflow returns a Service for looking only: the driver's control
// socket when a process drives the jobs, else a read-only view that never
// becomes their driver.
func viewWorkflow(ctx context.Context, cfg *config.Config) (workflow.Service, func(), error) {
	return viewWorkflowWith(ctx, cfg, workflow.Deps{ReadOnly: true})
}

// viewWorkflowWith is viewWorkflow with the read-only view's
// dependencies (plans gives it the storage account, to read sizes).
func viewWorkflowWith(ctx context.Context, cfg *config.Config, d workflow.Deps) (workflow.Service, func(), error) {
	if c, err := workflow.Dial(ctx, cfg.StateDir); err == nil {
		return c, func() { _ = c.Close() }, nil
	} else if errors.Is(err, workflow.ErrUntrustedSocket) {
		return nil, nil, err
	}
	d.ReadOnly = true
	m, err := workflow.Open(ctx, cfg, d)
	if err != nil {
		return nil, nil, err
	}
	return m, func() { _ = m.Close() }, nil
}
