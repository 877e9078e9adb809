package cli

import (
	"context"

	"github.com/failback/failback/mover"
)

// newMoverCommand is "failback mover", the command table's entry (cli.go).
func newMoverCommand() Command {
	return Command{Name: "mover", Summary: "the mover that writes the disks on a Hyper-V host (started by the console over SSH)", Run: runMover}
}

const moverUsage = `mover serve --state-dir DIR        (started by a driver, not by people)

The mover runs on a Hyper-V host: it reads the Azure snapshots a driver
(the console, or failback serve) hands it and writes the host's disks
there, with the undo and resume journals in DIR, so the bytes never cross
the jump box. The driver starts it over the host's SSH connection (or as a
child process for lab and local hosts).`

func runMover(ctx context.Context, s Stdio, args []string) error {
	if len(args) == 0 {
		return usagef("mover: say what to do\nUsage: failback %s", moverUsage)
	}
	switch args[0] {
	case "serve":
		return mover.Main(ctx, args[1:], s.In, s.Out, s.Err)
	case "-h", "--help", "help":
		s.Err.Write([]byte("Usage: failback " + moverUsage + "\n"))
		return nil
	}
	return usagef("mover: unknown subcommand %q\nUsage: failback %s", args[0], moverUsage)
}
