package agent

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failback/failback/engine"
)

// killAfter is a ResponseWriter for checksum answers that kills the
// agent mid-answer, 1,000 bytes in, once the engine has finished enough
// blocks (armed): the client sees an answer cut short and then a dead
// address, as when the agent's VM dies.
type killAfter struct {
	http.ResponseWriter
	k *killSetup
	n int
}

func (w *killAfter) Write(p []byte) (int, error) {
	const cut = 1000
	if w.k.armed.Load() && w.n+len(p) > cut && w.k.killed.CompareAndSwap(false, true) {
		_, _ = w.ResponseWriter.Write(p[:max(0, cut-w.n)])
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		w.k.agent.kill()
		if w.k.after != nil {
			go w.k.after(w.k.agent)
		}
		panic(http.ErrAbortHandler)
	}
	w.n += len(p)
	return w.ResponseWriter.Write(p)
}

func (w *killAfter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// killSetup is a 32 MiB disk of 2,048 blocks of 16 KiB (checksums asked
// for in requests of up to 256, read-ahead included), every twentieth
// block changed, and an agent that dies in the middle of the first
// checksum answer it sends after the engine finished armAt blocks, then
// calls after(). Arming at 200 leaves requests to come: the engine plus
// read-ahead are at most 768 blocks ahead of the blocks it finished.
type killSetup struct {
	*phase1Setup
	agent  *testAgent
	after  func(*testAgent)
	armed  atomic.Bool
	killed atomic.Bool
}

const (
	killBS = 16 << 10
	armAt  = 200
)

func newKillSetup(t *testing.T, after func(*testAgent)) *killSetup {
	t.Helper()
	const size = 32 * mib
	var changed []int64
	for b := int64(5); b < size/killBS; b += 20 {
		changed = append(changed, b)
	}
	k := &killSetup{phase1Setup: newPhase1(t, size, killBS, changed), after: after}
	wrap := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == pathSums && !k.killed.Load() {
				w = &killAfter{ResponseWriter: w, k: k}
			}
			h.ServeHTTP(w, r)
		})
	}
	k.agent = startAgent(t, newStorage(t, nil), ServerOptions{}, wrap)
	return k
}

// options are the engine options of the kill tests: progress arms the
// kill.
func (k *killSetup) options(journal string) engine.Options {
	return engine.Options{BlockSize: killBS, JournalDir: journal, SourceID: "snapshot:" + k.snap,
		ProgressInterval: 2 * time.Millisecond, CheckpointInterval: 10 * time.Millisecond,
		Progress: func(p engine.Progress) {
			if p.BlocksChecked >= armAt {
				k.armed.Store(true)
			}
		}}
}

func (k *killSetup) check(t *testing.T, differed int64) {
	t.Helper()
	if !k.killed.Load() {
		t.Fatal("the agent was never killed: the test proves nothing")
	}
	if !bytes.Equal(k.onPrem.Bytes(), k.azure) {
		t.Fatal("on-premises disk differs from the snapshot")
	}
	if differed != int64(len(k.changed)) {
		t.Errorf("%d blocks written, want exactly the %d changed ones", differed, len(k.changed))
	}
}

// The agent dies mid-answer and comes back on the same address: the
// client reconnects, asks only for the checksums it is missing, and the
// sync ends right with every block checked exactly once.
func TestAgentKilledMidSyncReconnectsToRestartedAgent(t *testing.T) {
	k := newKillSetup(t, func(a *testAgent) {
		time.Sleep(150 * time.Millisecond)
		if err := a.restart(); err != nil {
			t.Error(err)
		}
	})
	ctx := context.Background()
	o := k.agent.options(k.disk, k.snap)
	o.MaxRetries = 20
	src, err := NewSource(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, err := engine.Sync(ctx, src, k.onPrem, k.options(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	k.check(t, st.BlocksDiffered)
	cs := src.Stats()
	t.Logf("client stats %+v", cs)
	if cs.Retries == 0 || cs.Dials < 2 {
		t.Errorf("retries %d, dials %d: the client never reconnected", cs.Retries, cs.Dials)
	}
	if cs.CheckedBytes != k.disk.size || cs.Fallback || src.FallingBack() || cs.FallbackHashedBytes != 0 {
		t.Errorf("checked %d bytes (want each of %d once), fallback %v", cs.CheckedBytes, k.disk.size, cs.Fallback)
	}
	if st.BlocksChecked != st.Blocks {
		t.Errorf("engine checked %d of %d blocks", st.BlocksChecked, st.Blocks)
	}
}

// The agent dies and stays dead: the source falls back to direct reads of
// the same snapshot; the checksums the agent had sent are kept, so every
// block is hashed exactly once, in Azure or here.
func TestAgentKilledMidSyncFallsBackToDirectReads(t *testing.T) {
	k := newKillSetup(t, nil)
	ctx := context.Background()
	direct := k.disk.direct(t, newStorage(t, nil), k.snap)
	o := k.agent.options(k.disk, k.snap)
	o.MaxRetries = 2
	o.Fallback = direct
	src, err := NewSource(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	st, err := engine.Sync(ctx, src, k.onPrem, k.options(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	k.check(t, st.BlocksDiffered)
	cs := src.Stats()
	t.Logf("client stats %+v; direct read %d bytes", cs, direct.Stats().Bytes.Load())
	if !cs.Fallback || !src.FallingBack() || cs.FallbackSwitches != 1 {
		t.Errorf("fallback %v after %d switches, want on after 1", cs.Fallback, cs.FallbackSwitches)
	}
	if cs.CheckedBytes+cs.FallbackHashedBytes != k.disk.size {
		t.Errorf("agent checked %d + fallback hashed %d bytes, want each block once (%d)", cs.CheckedBytes, cs.FallbackHashedBytes, k.disk.size)
	}
	if cs.CheckedBytes == 0 || cs.FallbackHashedBytes == 0 {
		t.Errorf("agent checked %d bytes, fallback %d: want the first blocks from the agent, the rest direct", cs.CheckedBytes, cs.FallbackHashedBytes)
	}
	if got := direct.Stats().Bytes.Load(); got > cs.FallbackHashedBytes+cs.FallbackReadBytes {
		t.Errorf("direct reads moved %d bytes, more than the fallback accounted for (%d)", got, cs.FallbackHashedBytes+cs.FallbackReadBytes)
	}
}

// Without a fallback, a dead agent stops the sync with an error that says
// so; once the agent is back, the same job resumes from its journal and
// asks only for the blocks it had not finished.
func TestAgentDownStopsSyncAndJournalResumesWithoutRedoingBlocks(t *testing.T) {
	k := newKillSetup(t, nil)
	ctx := context.Background()
	journal := t.TempDir()
	o := k.agent.options(k.disk, k.snap)
	o.MaxRetries = 1
	src, err := NewSource(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	eo := k.options(journal)
	st1, err := engine.Sync(ctx, src, k.onPrem, eo)
	src.Close()
	if err == nil || !errors.Is(err, errAgentDown) {
		t.Fatalf("sync with a dead agent and no fallback: %v, want an agent-unreachable error", err)
	}
	t.Logf("first run: %v; checked %d blocks", err, st1.BlocksChecked)
	if err := k.agent.restart(); err != nil {
		t.Fatal(err)
	}
	src2, err := NewSource(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	st2, err := engine.Sync(ctx, src2, k.onPrem, eo)
	if err != nil {
		t.Fatal(err)
	}
	k.check(t, st1.BlocksDiffered+st2.BlocksDiffered)
	if !st2.Resumed || st2.ResumedBlocks < armAt/2 {
		t.Fatalf("second run resumed %v with %d blocks done, want most of the %d the first had finished", st2.Resumed, st2.ResumedBlocks, armAt)
	}
	if st2.ResumedBlocks+st2.BlocksChecked != st2.Blocks {
		t.Errorf("resumed %d + checked %d != %d blocks: finished blocks were redone", st2.ResumedBlocks, st2.BlocksChecked, st2.Blocks)
	}
	if want := (st2.Blocks - st2.ResumedBlocks) * killBS; src2.Stats().CheckedBytes != want {
		t.Errorf("second run asked the agent for %d bytes of checksums, want only the unfinished %d", src2.Stats().CheckedBytes, want)
	}
}
