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
