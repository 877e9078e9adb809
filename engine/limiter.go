package engine

import (
	"github.com/failback/failback/internal/pace"
)

// Bandwidth is a cap on source reads shared by every sync (and verify)
// given it in Options.Bandwidth: the configured bandwidth limit holds for
// the whole link however many disks move at once. The nil *Bandwidth
// does not limit.
type Bandwidth struct{ p *pace.Pacer }

// NewBandwidth caps reads at bytesPerSec over every sync sharing it; nil
// when bytesPerSec is not positive (no limit).
func NewBandwidth(bytesPerSec int64) *Bandwidth {
	if bytesPerSec <= 0 {
		return nil
	}
	return &Bandwidth{p: pace.New(float64(bytesPerSec))}
}

// Rate is the cap in bytes per second (0: none).
func (b *Bandwidth) Rate() int64 {
	if b == nil {
		return 0
	}
	return int64(b.p.Rate())
}

// pacer is the sync's limit: the shared one when given, else one of its
// own from BandwidthLimit.
func (c *config) pacer() *pace.Pacer {
	if c.Bandwidth != nil {
		return c.Bandwidth.p
	}
	return pace.New(float64(c.BandwidthLimit))
}
