package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The lab's background processes (Azurite and the lab's Azure) outlive the
// command that started them: each runs in a session of its own, with its
// output in a log file (a pipe to a process that has exited would kill it
// at its next write). lab down stops them by the process ids in lab.json,
// after checking each id still names the process the lab started, so a
// reused id never gets a stranger killed.

// tieEnv, when set to 1 (tests do), makes the lab's processes die with
// the process that started them, so a killed test run leaves none behind.
const tieEnv = "FAILBACK_LAB_TIE_TO_PARENT"

// startDetached starts argv[0] with argv[1:] in a new session, output
// appended to logPath, and returns its pid. The child is reaped in the
// background while this process lives, so it never lingers as a zombie.
func startDetached(argv []string, env []string, logPath string) (int, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return 0, err
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open log %s: %w", logPath, err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = detachAttr(os.Getenv(tieEnv) == "1")
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", argv[0], err)
	}
	go func() { _ = cmd.Wait() }()
	return cmd.Process.Pid, nil
}

// ownedBy reports whether pid runs a command line that matches.
func ownedBy(pid int, match func(argv []string) bool) bool {
	if pid <= 0 || !alive(pid) {
		return false
	}
	argv, err := cmdline(pid)
	return err == nil && match(argv)
}

// stopProcess ends pid if it still runs a command line that matches:
// SIGTERM, then SIGKILL after grace. It returns once the process is gone.
func stopProcess(ctx context.Context, pid int, match func([]string) bool, grace time.Duration) error {
	if !ownedBy(pid, match) {
		return nil
	}
	if err := signalTerm(pid); err != nil && alive(pid) {
		return fmt.Errorf("stop process %d: %w", pid, err)
	}
	if waitGone(ctx, pid, grace) {
		return nil
	}
	if err := signalKill(pid); err != nil && alive(pid) {
		return fmt.Errorf("kill process %d: %w", pid, err)
	}
	if waitGone(ctx, pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("process %d did not exit after SIGKILL; check it with 'ps -p %d'", pid, pid)
}

func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return !alive(pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// isAzurite matches the lab's Azurite: azurite-blob with its data folder.
func isAzurite(dataDir string) func([]string) bool {
	return func(argv []string) bool {
		bin := slices.IndexFunc(argv, func(a string) bool { return strings.HasSuffix(a, "azurite-blob") })
		loc := slices.Index(argv, "--location")
		return bin >= 0 && loc >= 0 && loc+1 < len(argv) && argv[loc+1] == dataDir
	}
}

// azureArgs is the lab's Azure process's command line after the program
// name. The command is still 'lab vms' (its name when it ran only the VM
// writers), so lab down stops an older lab's process too.
func azureArgs(dir string) []string { return []string{"lab", "vms", "--dir", dir} }

// isAzure matches the lab's Azure process for dir.
func isAzure(dir string) func([]string) bool {
	want := azureArgs(dir)
	return func(argv []string) bool {
		return len(argv) >= 1+len(want) && slices.Equal(argv[1:1+len(want)], want)
	}
}
