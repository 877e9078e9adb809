package config

import (
	"fmt"
	"math/bits"

	"github.com/failback/failback/engine"
	"github.com/failback/failback/internal/units"
)

// BlockSizeFix is what to write instead of a block size the engine
// refuses.
const BlockSizeFix = `write a power of two from "4K" to "32M", e.g. "1M"`

// BlockSizeProblem says what is wrong with an engine block size ("" when
// the engine takes it): the one rule for [engine] block_size, which
// config check applies and the pre-flight applies again. The bounds are
// the engine's own (engine.MinBlockSize, engine.MaxBlockSize).
func BlockSizeProblem(bs int64) string {
	if bs >= engine.MinBlockSize && bs <= engine.MaxBlockSize && bits.OnesCount64(uint64(bs)) == 1 {
		return ""
	}
	return fmt.Sprintf("is not a power of two from %s to %s (the engine hashes, compares and copies blocks of that size)",
		units.Bytes(engine.MinBlockSize), units.Bytes(engine.MaxBlockSize))
}
