package mover

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/failback/failback/hyperv"
)

// ServeUsage is `failback mover serve`'s usage.
const ServeUsage = `mover serve --state-dir DIR [--lock-dir DIR]

Serves one driver (the console, or failback serve) on standard input and
output, with the mover protocol: it is what a driver starts on a Hyper-V
host, over SSH or as a child process. Not for people to run: standard
output carries binary frames. The journals go to DIR (the host's state
folder); the disks' write locks to its disklocks folder, or --lock-dir.`

// ChildArgs are the arguments that start a mover: <program> ChildArgs...
func ChildArgs(stateDir, lockDir string) []string {
	args := []string{"mover", "serve", "--state-dir", stateDir}
	if lockDir != "" {
		args = append(args, "--lock-dir", lockDir)
	}
	return args
}

// IsChild says a process was started with ChildArgs (os.Args): test
// binaries that double as failback run Main then.
func IsChild(args []string) bool { return len(args) > 2 && args[1] == "mover" && args[2] == "serve" }

// Main serves one driver: args are those after "mover serve". It returns
// when the driver closes the session (its calls stopped, their journals
// durable).
func Main(ctx context.Context, args []string, in io.Reader, out, errs io.Writer) error {
	fs := flag.NewFlagSet("mover serve", flag.ContinueOnError)
	fs.SetOutput(errs)
	fs.Usage = func() { fmt.Fprintf(errs, "Usage: failback %s\n", ServeUsage) }
	state := fs.String("state-dir", "", "the host's state `DIR` (journals, sums, disk locks)")
	locks := fs.String("lock-dir", "", "`DIR` of the disks' write locks (default: DIR/disklocks)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("mover serve: --state-dir is required, and nothing else")
	}
	if *locks == "" {
		*locks = NewLocal(*state).LockDir()
	}
	hyperv.SetDiskLockDir(*locks)
	exe, sum, err := Self()
	if err != nil {
		fmt.Fprintf(errs, "mover: cannot hash its own program: %v\n", err)
	}
	return Serve(ctx, in, out, ServerOptions{StateDir: *state, Exe: exe, SHA256: sum, Errors: errs})
}

// RunChild is Main on this process's standard streams, for a test binary
// that IsChild: it exits with Main's outcome.
func RunChild() {
	if err := Main(context.Background(), os.Args[3:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mover:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
