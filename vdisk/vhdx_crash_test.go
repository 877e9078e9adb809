package vdisk

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failback/failback/internal/testenv"
)

// The crash test re-executes the test binary as a child that writes to a
// VHDX and reports each Flush; the parent SIGKILLs it at a random moment.
const (
	vxCrashEnv   = "FAILBACK_VHDX_CRASH_CHILD" // image path, set in the child
	vxCrashRound = "FAILBACK_VHDX_CRASH_ROUND"
	vxCrashSize  = 64 << 20
	vxCrashBlock = 1 << 20
	vxCrashBatch = 3 // blocks written (concurrently) between flushes
)

// vxCrashOp is what the child does to one block in a round.
type vxCrashOp struct {
	blk    int64
	kind   int // 0 write the whole block, 1 write part of it, 2 WriteZeroes the whole block
	off, n int64
	seed   uint64
}

// vxCrashPlan is the child's work for a round: every block once, in a
// random order, each with a random kind of change.
func vxCrashPlan(round int) []vxCrashOp {
	r := rand.New(rand.NewPCG(uint64(round), 0xc4a5))
	var ops []vxCrashOp
	for _, b := range r.Perm(vxCrashSize / vxCrashBlock) {
		op := vxCrashOp{blk: int64(b), kind: r.IntN(5) % 3, seed: r.Uint64()}
		op.off, op.n = 0, vxCrashBlock
		if op.kind == 1 {
			op.off = r.Int64N(vxCrashBlock/4096) * 4096
			op.n = min(r.Int64N(300<<10)+1, vxCrashBlock-op.off)
		}
		ops = append(ops, op)
	}
	return ops
}

// data is what op writes (nil for WriteZeroes).
func (op vxCrashOp) data() []byte {
	if op.kind == 2 {
		return nil
	}
	r := rand.New(rand.NewPCG(op.seed, 1))
	b := make([]byte, op.n)
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// apply returns the block's content after op, given the content before.
func (op vxCrashOp) apply(old []byte) []byte {
	out := bytes.Clone(old)
	if op.kind == 2 {
		clear(out)
	} else {
		copy(out[op.off:], op.data())
	}
	return out
}

// vxCrashChild runs in the child process: apply the round's plan in
// batches, Flush after each, and report the flushed blocks on stdout.
func vxCrashChild(path string, round int) error {
	img, err := Open(path, OpenOptions{Format: VHDX})
	if err != nil {
		return err
	}
	ops := vxCrashPlan(round)
	for i := 0; i < len(ops); i += vxCrashBatch {
		batch := ops[i:min(i+vxCrashBatch, len(ops))]
		var wg sync.WaitGroup
		errs := make([]error, len(batch))
		for j, op := range batch {
			wg.Go(func() {
				base := op.blk * vxCrashBlock
				if op.kind == 2 {
					errs[j] = img.(Zeroer).WriteZeroes(base, vxCrashBlock)
				} else {
					_, errs[j] = img.WriteAt(op.data(), base+op.off)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		if err := img.Flush(); err != nil {
			return err
		}
		line := "F"
		for _, op := range batch {
			line += " " + strconv.FormatInt(op.blk, 10)
		}
		fmt.Println(line) // one write(2): a line is all there or not at all
	}
	return img.Close()
}

// TestVHDXSurvivesKill: a child doing allocating writes, partial writes
// and zeroing with a Flush every few blocks is SIGKILLed at random moments,
// several times over the same image. After each kill the image opens with
// our code (replaying its log), every block the child reported flushed reads
// exactly as written, every other 4 KiB sector reads as either its old or its
// new content, qemu-img check passes, and qemu's own replay of the killed
// file reads the same.
func TestVHDXSurvivesKill(t *testing.T) {
	if path := os.Getenv(vxCrashEnv); path != "" {
		round, _ := strconv.Atoi(os.Getenv(vxCrashRound))
		if err := vxCrashChild(path, round); err != nil {
			fmt.Fprintln(os.Stderr, "crash child:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	testenv.QemuImg(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "killed.vhdx")
	vxClose(t, vxCreate(t, p, CreateOptions{Size: vxCrashSize, BlockSize: vxCrashBlock}))
	state := make([]byte, vxCrashSize) // what the disk holds after the last recovery
	r := rand.New(rand.NewPCG(5, 5))
	pending, qemuReplays := 0, 0
	for round := range 6 {
		flushed := vxCrashRun(t, p, round, 1+r.IntN(12), time.Duration(r.IntN(3000))*time.Microsecond)
		var qemuView []byte
		if c := vxCrashOpen(t, p); !c.hdr.LogGUID.isZero() {
			pending++
			if qemuReplays < 2 { // qemu's replay is slow: fsync per sector
				qemuReplays++
				qemuView = vxCrashQemuReplay(t, p)
			}
		}
		img := vxOpen(t, p, false)
		got := readAll(t, img)
		vxClose(t, img)
		for _, op := range vxCrashPlan(round) {
			base := op.blk * vxCrashBlock
			old, now := state[base:base+vxCrashBlock], got[base:base+vxCrashBlock]
			want := op.apply(old)
			if flushed[op.blk] {
				sameBytes(t, fmt.Sprintf("round %d: flushed block %d", round, op.blk), now, want)
				continue
			}
			for s := 0; s < vxCrashBlock; s += 4096 {
				if !bytes.Equal(now[s:s+4096], old[s:s+4096]) && !bytes.Equal(now[s:s+4096], want[s:s+4096]) {
					t.Fatalf("round %d: block %d sector at %d is neither its old nor its new content", round, op.blk, s)
				}
			}
		}
		if qemuView != nil {
			sameBytes(t, "qemu's replay vs ours", qemuView, got)
		}
		testenv.Qemu(t, "check", "-f", "vhdx", p)
		t.Logf("round %d: %d blocks reported flushed", round, len(flushed))
		state = got
	}
	t.Logf("%d of 6 kills left a log to replay", pending)
}

// vxCrashRun starts the child on round's plan, SIGKILLs it a random
// moment after its afterFlushes-th reported Flush, and returns the blocks it
// reported flushed (the reports are what the child knew was durable).
func vxCrashRun(t *testing.T, p string, round, afterFlushes int, jitter time.Duration) map[int64]bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestVHDXSurvivesKill$", "-test.count=1")
	cmd.Env = append(os.Environ(), vxCrashEnv+"="+p, vxCrashRound+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	flushed := map[int64]bool{}
	sc := bufio.NewScanner(out)
	seen := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != "F" {
			continue
		}
		for _, s := range f[1:] {
			b, _ := strconv.ParseInt(s, 10, 64)
			flushed[b] = true
		}
		if seen++; seen == afterFlushes {
			time.Sleep(jitter)
			_ = cmd.Process.Kill()
		}
	}
	if err := cmd.Wait(); err == nil || stderr.Len() > 0 {
		t.Logf("round %d: the child ended before the kill (%v) %s", round, err, stderr.String())
	}
	return flushed
}

// vxCrashQemuReplay lets qemu replay a copy of the killed file (check -r
// all) and returns what qemu reads.
func vxCrashQemuReplay(t *testing.T, p string) []byte {
	t.Helper()
	q := filepath.Join(t.TempDir(), "qemu.vhdx")
	if err := os.WriteFile(q, vxMustRead(t, p), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Qemu(t, "check", "-r", "all", "-f", "vhdx", q)
	return vxQemuRaw(t, q)
}
