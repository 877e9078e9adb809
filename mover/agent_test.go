package mover

import (
	"context"
	"testing"

	"github.com/failback/failback/engine"
)

type hashingSource struct {
	engine.Source
	down bool
}

func (hashingSource) HashBlocks(context.Context, int64, []int64) ([]engine.Sum, error) {
	return nil, nil
}

func (s hashingSource) FallingBack() bool { return s.down }

// The final verification compares the whole disk only while checksums
// come from next to the data; an agent that is down would make every
// block of the disk cross the WAN.
func TestWholeDiskVerifyOnlyWhileTheAgentAnswers(t *testing.T) {
	if !CheapSums(hashingSource{}) {
		t.Fatal("an agent that answers computes sums next to the data")
	}
	if CheapSums(hashingSource{down: true}) {
		t.Fatal("an agent that is down reads directly: not cheap")
	}
	if CheapSums(struct{ engine.Source }{}) {
		t.Fatal("a direct source has no cheap sums")
	}
}
