package cli

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/failback/failback/mover"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes this test binary failback itself for the scripts of
// TestScripts: testscript runs "failback" in a script as this binary,
// which then goes through Main, the dispatcher main.go calls. Every other
// test runs as usual.
func TestMain(m *testing.M) {
	if mover.IsChild(os.Args) { // a lab host's mover, started by a driver here
		mover.RunChild()
	}
	testscript.Main(m, map[string]func(){
		"failback": func() {
			os.Exit(Main(context.Background(), os.Args[1:], Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}))
		},
	})
}

// TestScripts runs testdata/script/*.txtar: the command line as a user
// meets it, with what it prints and how it exits (usage errors, config
// check, disk images, local syncs and their rollback, plans), for what
// needs no Azure. Each script is a txtar archive: the commands first, the
// files they work on after.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:  filepath.Join("testdata", "script"),
		Cmds: map[string]func(*testscript.TestScript, bool, []string){"exits": exitsCmd},
	})
}

// exitsCmd is the scripts' "exits CODE PROGRAM [ARGS...]": it runs PROGRAM
// as exec does (stdout and stderr stay for the next assertions) and fails
// unless it exits with CODE, so a script tells a usage error (2) from a
// refusal (3) or a failure (1).
func exitsCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: CODE %q is not a number", args[0])
	}
	got := 0
	var ee *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}
