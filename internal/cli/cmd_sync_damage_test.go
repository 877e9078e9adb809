package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// damagedRollback syncs a pair differing in 1 MiB blocks with --undo-dir,
// damages the undo journal with hurt, and runs the rollback.
func damagedRollback(t *testing.T, hurt func(undo []byte) []byte) (dst, undo string, dstData, got []byte, errOut string, code int) {
	t.Helper()
	differ := []int64{1, 2, 4, 5, 7, 8, 10, 11, 13, 14}
	src, dst, _, dstData := syncPair(t, 16<<20, "dst.vhdx", differ)
	undo = filepath.Join(filepath.Dir(dst), "u")
	if _, errOut, code := syncCLI(context.Background(), "sync", "--quiet", "--undo-dir", undo, src, dst); code != 0 {
		t.Fatalf("sync: exit %d: %s", code, errOut)
	}
	path := filepath.Join(undo, "undo")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, hurt(b), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = syncCLI(context.Background(), "sync", "--quiet", "--rollback", undo, dst)
	return dst, undo, dstData, readImageFile(t, dst), errOut, code
}

// namedBlocks parses the block numbers a rollback error names.
func namedBlocks(t *testing.T, msg string) map[int64]bool {
	t.Helper()
	out := map[int64]bool{}
	for _, m := range regexp.MustCompile(`blocks? (\d+)(?:-(\d+))? \(bytes`).FindAllStringSubmatch(msg, -1) {
		first, _ := strconv.ParseInt(m[1], 10, 64)
		last := first
		if m[2] != "" {
			last, _ = strconv.ParseInt(m[2], 10, 64)
		}
		for b := first; b <= last; b++ {
			out[b] = true
		}
	}
	return out
}

// TestRollbackOfDamagedJournalFailsAndSaysWhat: a byte flipped in the
// middle of the undo journal, or the journal cut to a third, is not a
// partial rollback reported as success: the command exits non-zero,
// keeps the journal, names the disk and the blocks it could not restore
// (exactly those left unlike before), and says what helps instead of
// "run the same command again".
func TestRollbackOfDamagedJournalFailsAndSaysWhat(t *testing.T) {
	for _, tc := range []struct {
		name string
		hurt func([]byte) []byte
	}{
		{"byte flipped in the middle", func(b []byte) []byte { b[len(b)/2] ^= 0x08; return b }},
		{"cut to a third", func(b []byte) []byte { return b[:len(b)/3] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst, undo, dstData, got, errOut, code := damagedRollback(t, tc.hurt)
			if code == 0 {
				t.Fatalf("a damaged rollback exited 0: %s", errOut)
			}
			if _, err := os.Stat(filepath.Join(undo, "undo")); err != nil {
				t.Fatalf("the journal was not kept: %v", err)
			}
			abs, _ := filepath.Abs(dst)
			if !strings.Contains(errOut, abs) || !strings.Contains(errOut, "is incomplete") || strings.Contains(errOut, "rolled back") ||
				strings.Contains(errOut, "run the same command again") || !strings.Contains(errOut, "from a backup") {
				t.Fatalf("message: %s", errOut)
			}
			named := namedBlocks(t, errOut)
			if len(named) == 0 {
				t.Fatalf("no block named: %s", errOut)
			}
			for b := int64(0); b < 16; b++ {
				same := bytes.Equal(got[b<<20:(b+1)<<20], dstData[b<<20:(b+1)<<20])
				if !same && !named[b] {
					t.Fatalf("block %d is not restored and not named: %s", b, errOut)
				}
			}
			t.Log(errOut)
		})
	}
}

// TestRollbackWithBothHeadersDamaged: one damaged header costs nothing
// (the other journal's stands in); with both damaged nothing can be
// trusted, and the message says rerunning fails the same way and what
// helps instead.
func TestRollbackWithBothHeadersDamaged(t *testing.T) {
	_, _, dstData, got, errOut, code := damagedRollback(t, func(b []byte) []byte { b[30] ^= 1; return b })
	if code != 0 || !bytes.Equal(got, dstData) {
		t.Fatalf("one damaged header must not matter: exit %d: %s", code, errOut)
	}
	src, dst, _, _ := syncPair(t, 4<<20, "dst.raw", []int64{1, 2})
	undo := filepath.Join(filepath.Dir(dst), "u")
	if _, errOut, code := syncCLI(context.Background(), "sync", "--quiet", "--undo-dir", undo, src, dst); code != 0 {
		t.Fatalf("sync: exit %d: %s", code, errOut)
	}
	for _, name := range []string{"undo", "resume"} {
		p := filepath.Join(undo, name)
		b, _ := os.ReadFile(p)
		b[30] ^= 1
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, errOut, code = syncCLI(context.Background(), "sync", "--quiet", "--rollback", undo, dst)
	if code == 0 || strings.Contains(errOut, "run the same command again") || !strings.Contains(errOut, "fails the same way") || !strings.Contains(errOut, "from a backup") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Log(errOut)
}

// TestSyncOnDamagedJournalRefuses: a sync that would resume a damaged
// journal writes nothing, does not claim to resume, names the lost block
// and says what helps, not "run the same command again".
func TestSyncOnDamagedJournalRefuses(t *testing.T) {
	src, dst, _, _ := syncPair(t, 16<<20, "dst.raw", []int64{0, 1, 2, 3, 9, 12, 15})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	if _, errOut, code := syncCLI(ctx, "sync", src, dst, "--bwlimit", "16M", "--threads", "1"); code != 1 {
		t.Fatalf("interrupted sync: exit %d: %s", code, errOut)
	}
	p := filepath.Join(dst+journalSuffix, "undo")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 4
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before := readImageFile(t, dst)
	_, errOut, code := syncCLI(context.Background(), "sync", src, dst)
	if code == 0 || strings.Contains(errOut, "resuming") || strings.Contains(errOut, "same command again") ||
		!strings.Contains(errOut, "Nothing was written") || !strings.Contains(errOut, "is damaged") || len(namedBlocks(t, errOut)) != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !bytes.Equal(readImageFile(t, dst), before) {
		t.Fatal("the refused sync wrote to the target")
	}
	t.Log(errOut)
}
