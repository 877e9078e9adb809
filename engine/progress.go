package engine

import (
	"sync"
	"sync/atomic"
	"time"
)

// Phase names what a sync is doing now.
type Phase string

// The phases, in the order a sync goes through them.
const (
	PhasePrepare  Phase = "prepare"  // opening journals, listing allocated ranges
	PhaseCompare  Phase = "compare"  // delta: checksumming both sides, transferring differences
	PhaseCopy     Phase = "copy"     // full and ranges: transferring blocks
	PhaseVerify   Phase = "verify"   // comparing the target with the source
	PhaseSums     Phase = "sums"     // writing the target's block checksums
	PhaseRollback Phase = "rollback" // restoring the target from the undo journal
	PhaseDone     Phase = "done"
)

// Counters are what the engine counted. Bytes are disk bytes.
type Counters struct {
	// BlocksChecked are blocks whose fate is decided (equal, transferred,
	// or skipped because both sides are unallocated).
	BlocksChecked int64 `json:"blocks_checked"`
	// BlocksDiffered are blocks written or zeroed on the target because
	// they differed (full mode without a journal cannot compare: there it
	// counts every block it had to write).
	BlocksDiffered int64 `json:"blocks_differed"`
	// ZeroBlocks are source blocks that were zero (unallocated, or read
	// and found zero); they never allocate target space.
	ZeroBlocks      int64 `json:"zero_blocks"`
	BytesChecked    int64 `json:"bytes_checked"`
	BytesReadSource int64 `json:"bytes_read_source"`
	BytesReadTarget int64 `json:"bytes_read_target"`
	// BytesTransferred are the bytes of the differing blocks (tail block at
	// its real length), whether written or zeroed.
	BytesTransferred int64 `json:"bytes_transferred"`
	BytesWritten     int64 `json:"bytes_written"`
	BytesZeroed      int64 `json:"bytes_zeroed"`
	// UndoBytes are old target bytes saved in the undo journal.
	UndoBytes      int64 `json:"undo_bytes"`
	BlocksVerified int64 `json:"blocks_verified"`
}

// counters is the hot path's side of Counters: atomic adds only.
type counters struct {
	blocksChecked, blocksDiffered, zeroBlocks              atomic.Int64
	bytesChecked, bytesReadSource, bytesReadTarget         atomic.Int64
	bytesTransferred, bytesWritten, bytesZeroed, undoBytes atomic.Int64
	blocksVerified                                         atomic.Int64
	phaseDone, phaseTotal, blocksTotal                     atomic.Int64
	phase                                                  atomic.Value // Phase
}

func (c *counters) snapshot() Counters {
	return Counters{
		BlocksChecked:    c.blocksChecked.Load(),
		BlocksDiffered:   c.blocksDiffered.Load(),
		ZeroBlocks:       c.zeroBlocks.Load(),
		BytesChecked:     c.bytesChecked.Load(),
		BytesReadSource:  c.bytesReadSource.Load(),
		BytesReadTarget:  c.bytesReadTarget.Load(),
		BytesTransferred: c.bytesTransferred.Load(),
		BytesWritten:     c.bytesWritten.Load(),
		BytesZeroed:      c.bytesZeroed.Load(),
		UndoBytes:        c.undoBytes.Load(),
		BlocksVerified:   c.blocksVerified.Load(),
	}
}

// setPhase starts a phase of total bytes (total of 0 means unknown).
func (c *counters) setPhase(p Phase, done, total int64) {
	c.phaseTotal.Store(total)
	c.phaseDone.Store(done)
	c.phase.Store(p)
}

// Progress is one sample of a running job.
type Progress struct {
	Phase Phase `json:"phase"`
	// Blocks is the number of blocks in the job's scope.
	Blocks int64 `json:"blocks"`
	Counters
	// Done and Total are the bytes of the current phase covered so far and
	// in all (a resumed job starts with Done > 0).
	Done    int64   `json:"done"`
	Total   int64   `json:"total"`
	Percent float64 `json:"percent"`
	// Rate is Done per second over the last few seconds; TransferRate is
	// BytesTransferred per second over the same window.
	Rate         float64 `json:"rate"`
	TransferRate float64 `json:"transfer_rate"`
	// ETA of the current phase; negative when not known yet.
	ETA     time.Duration `json:"eta_ns"`
	Elapsed time.Duration `json:"elapsed_ns"`
}

// rateWindow is how far back the moving average of rates looks.
const rateWindow = 5 * time.Second

// sampler turns counters into Progress events on a ticker.
type sampler struct {
	c     *counters
	fn    func(Progress)
	every time.Duration
	start time.Time
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once

	hist      []sample
	lastPhase Phase
}

type sample struct {
	at         time.Time
	done, xfer int64
}

func startSampler(c *counters, fn func(Progress), every time.Duration) *sampler {
	if every <= 0 {
		every = DefaultProgressInterval
	}
	s := &sampler{c: c, fn: fn, every: every, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	if fn == nil {
		close(s.done)
		return s
	}
	go s.loop()
	return s
}

func (s *sampler) loop() {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.fn(s.sample(now))
		}
	}
}

// finish stops the ticker and sends the last event, with phase Done when
// the job succeeded or the phase it stopped in when it did not.
func (s *sampler) finish(ok bool) {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		if s.fn == nil {
			return
		}
		p := s.sample(time.Now())
		if ok {
			p.Phase = PhaseDone
			p.ETA = 0
		}
		s.fn(p)
	})
}

func (s *sampler) sample(now time.Time) Progress {
	ph, _ := s.c.phase.Load().(Phase)
	p := Progress{
		Phase:    ph,
		Blocks:   s.c.blocksTotal.Load(),
		Counters: s.c.snapshot(),
		Done:     s.c.phaseDone.Load(),
		Total:    s.c.phaseTotal.Load(),
		Elapsed:  now.Sub(s.start),
		ETA:      -1,
	}
	if ph != s.lastPhase {
		s.hist, s.lastPhase = s.hist[:0], ph
	}
	s.hist = append(s.hist, sample{at: now, done: p.Done, xfer: p.BytesTransferred})
	for len(s.hist) > 2 && now.Sub(s.hist[1].at) >= rateWindow {
		s.hist = s.hist[1:]
	}
	if p.Total > 0 {
		p.Percent = 100 * float64(p.Done) / float64(p.Total)
	}
	if first := s.hist[0]; len(s.hist) > 1 {
		if dt := now.Sub(first.at).Seconds(); dt > 0 {
			p.Rate = float64(p.Done-first.done) / dt
			p.TransferRate = float64(p.BytesTransferred-first.xfer) / dt
		}
	}
	if p.Total > 0 && p.Rate > 0 {
		p.ETA = time.Duration(float64(p.Total-p.Done) / p.Rate * float64(time.Second))
	} else if p.Total > 0 && p.Done >= p.Total {
		p.ETA = 0
	}
	return p
}
