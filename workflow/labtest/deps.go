package labtest

import (
	"context"

	"github.com/failback/failback/config"
	"github.com/failback/failback/internal/wire"
	"github.com/failback/failback/workflow"
)

// DepsFromConfig builds a drill's dependencies from its config.toml alone,
// as a separate process must: through the product's own wiring, so the
// drills exercise it. release closes what it opened.
func DepsFromConfig(cfg *config.Config) (workflow.Deps, func(), error) {
	return wire.Deps(context.Background(), cfg)
}

// OpenConfigured opens a Manager on the drill wired as config.toml says
// (the lab hosts' movers as child processes, the agent when named), as
// the console does; everything is released when the test ends.
func (l *Lab) OpenConfigured() *workflow.Manager {
	l.T.Helper()
	d, release, err := DepsFromConfig(l.Cfg)
	if err != nil {
		l.T.Fatal(err)
	}
	l.T.Cleanup(release)
	return l.Open(d)
}
