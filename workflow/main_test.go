package workflow_test

import (
	"os"
	"testing"

	"github.com/failback/failback/mover"
)

// TestMain doubles as failback's mover: a driver wired from config.toml
// (labtest.DepsFromConfig) starts its lab hosts' movers as child
// processes of this program, with mover.ChildArgs.
func TestMain(m *testing.M) {
	if mover.IsChild(os.Args) {
		mover.RunChild()
	}
	os.Exit(m.Run())
}
