package osfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Two opens of one file conflict, also within one process; closing the
// holder frees the lock; TryLockPath sees both states and takes nothing.
func TestLockConflictsAndReleases(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	if held, err := TryLockPath(p); held || err != nil {
		t.Fatalf("missing file: held %v, %v", held, err)
	}
	a, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := Lock(a, true, false); err != nil {
		t.Fatal(err)
	}
	b, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := Lock(b, false, false); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open while held exclusively: %v", err)
	}
	if held, err := TryLockPath(p); !held || err != nil {
		t.Fatalf("held file: held %v, %v", held, err)
	}
	a.Close()
	if held, err := TryLockPath(p); held || err != nil {
		t.Fatalf("after close: held %v, %v", held, err)
	}
	if err := Lock(b, true, false); err != nil {
		t.Fatalf("after the holder closed: %v", err)
	}
}

// TestHelperHoldLock is not a test: the process-death test runs it as a
// child that takes the lock and waits to be killed.
func TestHelperHoldLock(t *testing.T) {
	p := os.Getenv("OSFILE_HOLD")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil || Lock(f, true, false) != nil {
		os.Exit(3)
	}
	os.WriteFile(p+".ready", nil, 0o644)
	time.Sleep(time.Minute)
}

// A lock dies with its process: SIGKILL of the holder frees it.
func TestLockDiesWithItsProcess(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "OSFILE_HOLD="+p)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(p + ".ready"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal("the child never took the lock")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if held, _ := TryLockPath(p); !held {
		t.Fatal("the child's lock is not seen")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if held, err := TryLockPath(p); held || err != nil {
		t.Fatalf("after the holder died: held %v, %v", held, err)
	}
}

// WriteJSON writes indented JSON with a final newline, and writes nothing
// when the value cannot be encoded.
func TestWriteJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	if err := WriteJSON(p, map[string]int{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "{\n  \"a\": 1\n}\n" {
		t.Fatalf("content %q", b)
	}
	if err := WriteJSON(p, func() {}); err == nil {
		t.Fatal("a func encoded")
	}
	if b, _ := os.ReadFile(p); string(b) != "{\n  \"a\": 1\n}\n" {
		t.Fatalf("a failed write changed the file: %q", b)
	}
}

// WriteAtomic replaces the file whole and leaves no temporary behind.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, s := range []string{"one", "two, longer"} {
		if err := WriteAtomic(p, []byte(s)); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != s {
			t.Fatalf("content %q, want %q", b, s)
		}
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("left %d files", len(es))
	}
	if err := WriteAtomic(filepath.Join(dir, "no", "such", "dir"), nil); err == nil {
		t.Fatal("a missing folder must fail")
	}
}
