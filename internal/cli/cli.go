// Package cli holds failback's subcommands. main.go only calls Main.
// Command NAME is defined in cmd_NAME.go by newNAMECommand, and commands
// below lists them all, explicitly: the one place that says which commands
// exist. Helpers shared by several commands live in files without the cmd_
// prefix (config.go, act.go, watch.go, view.go, progress.go, size.go,
// wire.go).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/failback/failback/internal/safetext"
)

// Stdio is where a command reads and writes.
type Stdio struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// Command is one subcommand (or group of subcommands).
type Command struct {
	Name    string
	Summary string
	// Run executes the command with the arguments after its name.
	Run func(ctx context.Context, s Stdio, args []string) error
	// Hidden commands are left out of the top-level help.
	Hidden bool
}

// commands is the command table: every top-level command, each defined in
// its cmd_<name>.go. A command that is not here does not exist.
func commands() []Command {
	return []Command{
		newAgentCommand(),
		newCancelCommand(),
		newCertificatesCommand(),
		newCommitCommand(),
		newCompleteCommand(),
		newConfigCommand(),
		newConsoleCommand(),
		newEndTestCommand(),
		newImageCommand(),
		newJobsCommand(),
		newLabCommand(),
		newMoverCommand(),
		newPlansCommand(),
		newReplicaCommand(),
		newResumeCommand(),
		newReverseCommand(),
		newRunCommand(),
		newServeCommand(),
		newStatusCommand(),
		newSyncCommand(),
		newUndoCommand(),
	}
}

// findCommand looks a top-level command up by name.
func findCommand(name string) (Command, bool) {
	for _, c := range commands() {
		if c.Name == name {
			return c, true
		}
	}
	return Command{}, false
}

// UsageError is a mistake in the command line; it exits with code 2.
type UsageError struct{ Msg string }

// Error implements error.
func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ExitError carries a specific exit code (for example 1 for "images
// differ") with an optional message.
type ExitError struct {
	Code int
	Err  error
}

// Error implements error: the message, or the bare exit code.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the error behind the exit code.
func (e *ExitError) Unwrap() error { return e.Err }

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, args []string, s Stdio) int {
	err := run(ctx, args, s)
	return report(err, s)
}

func report(err error, s Stdio) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(s.Err, "failback: %s\nRun 'failback help' for usage.\n", safetext.Lines(ue.Msg))
		return 2
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(s.Err, "failback: %s\n", safetext.Lines(ee.Err.Error()))
		}
		return ee.Code
	}
	fmt.Fprintf(s.Err, "failback: %s\n", safetext.Lines(err.Error()))
	return 1
}

func run(ctx context.Context, args []string, s Stdio) error {
	global, args, err := splitGlobal(args)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		if c, ok := findCommand("console"); ok {
			return c.Run(ctx, s, global)
		}
		return usagef("no command given")
	}
	if len(global) > 0 && !strings.HasPrefix(args[0], "-") {
		// failback --config X plans: the command takes the flag as its own.
		args = withFlags(args, global)
	} else {
		args = append(global, args...)
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help", "-help":
		if len(args) > 1 {
			if c, ok := findCommand(args[1]); ok {
				return c.Run(ctx, s, []string{"--help"})
			}
		}
		printHelp(s.Out)
		return nil
	}
	c, ok := findCommand(name)
	if !ok {
		if strings.HasPrefix(name, "-") {
			if c, ok := findCommand("console"); ok {
				return c.Run(ctx, s, args)
			}
		}
		return usagef("unknown command %q", name)
	}
	return c.Run(ctx, s, args[1:])
}

// splitGlobal takes the flags given before the command that every
// command takes (--config FILE, --config=FILE), as users of git and
// kubectl put them first; the rest starts at the first other argument.
func splitGlobal(args []string) (global, rest []string, err error) {
	for len(args) > 0 {
		a := args[0]
		switch {
		case a == "--config" || a == "-config":
			if len(args) < 2 {
				return nil, nil, usagef("%s needs a FILE", a)
			}
			global, args = append(global, a, args[1]), args[2:]
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config="):
			global, args = append(global, a), args[1:]
		default:
			return global, args, nil
		}
	}
	return global, args, nil
}

// withFlags gives command args (its name first) the global flags, after
// its own arguments (a group's subcommand stays first) but before a "--".
func withFlags(args, global []string) []string {
	out := []string{args[0]}
	rest := args[1:]
	for i, a := range rest {
		if a == "--" {
			out = append(append(append(out, rest[:i]...), global...), rest[i:]...)
			return out
		}
	}
	return append(append(out, rest...), global...)
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "failback: fail Hyper-V VMs back from Azure to on-premises Hyper-V hosts.")
	fmt.Fprintln(w, "\nUsage: failback [--config FILE] [command] [flags]   (no command opens the console)")
	fmt.Fprintln(w, "\nCommands:")
	var list []Command
	for _, c := range commands() {
		if !c.Hidden {
			list = append(list, c)
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	for _, c := range list {
		fmt.Fprintf(w, "  %-10s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintln(w, "\nRun 'failback COMMAND --help' for a command's flags.")
}

// newFlags returns a flag set whose errors and help go to s.Err.
func newFlags(s Stdio, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(s.Err)
	fs.Usage = func() {
		fmt.Fprintf(s.Err, "Usage: failback %s\n", usage)
		var has bool
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintln(s.Err, "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags anywhere among args (flags may follow positional
// arguments, as admins type them) and returns the positional arguments.
// A "--" ends flag parsing.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &UsageError{Msg: err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// dispatch runs one of subs by the first argument.
func dispatch(ctx context.Context, s Stdio, group string, args []string, subs []Command) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintf(s.Err, "Usage: failback %s COMMAND\n\nCommands:\n", group)
		for _, c := range subs {
			fmt.Fprintf(s.Err, "  %-10s %s\n", c.Name, c.Summary)
		}
		if len(args) == 0 {
			return usagef("%s needs a command", group)
		}
		return nil
	}
	for _, c := range subs {
		if c.Name == args[0] {
			return c.Run(ctx, s, args[1:])
		}
	}
	return usagef("unknown command %q for %s", args[0], group)
}

// isTerminal reports whether w (a reader or a writer) is a terminal:
// live progress, and the questions destructive commands ask.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
