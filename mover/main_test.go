package mover

import (
	"os"
	"testing"
)

// TestMain doubles as failback's mover: the SSH tests' host shell starts
// this program as a mover, with ChildArgs.
func TestMain(m *testing.M) {
	if IsChild(os.Args) {
		RunChild()
	}
	os.Exit(m.Run())
}
