package hyperv

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os/exec"
	"runtime"
	"strings"
)

// Runner runs a PowerShell script somewhere and returns what it printed.
// A non-nil error means the script could not be run at all (the host is
// unreachable, the login was refused); a script that ran and failed returns
// its output and exit code with a nil error.
type Runner interface {
	Run(ctx context.Context, script string) (Output, error)
	// Describe says where scripts run ("ssh admin@hv01.example.com:22").
	Describe() string
}

// Output is what a script printed and how it exited.
type Output struct {
	Stdout   []byte
	Stderr   []byte
	ExitCode int
}

// Command-line limits: cmd.exe (OpenSSH's default shell on Windows) takes
// at most 8191 characters, CreateProcess 32767. Longer scripts go through
// standard input behind a short bootstrap.
const (
	maxSSHCommandLine   = 8000
	maxLocalCommandLine = 32000
)

// stdinBootstrap reads a base64 UTF-8 script from standard input and runs
// it. Base64 keeps the transfer ASCII whatever the console code page.
const stdinBootstrap = `$ErrorActionPreference='Stop';$s=[Text.Encoding]::UTF8.GetString([Convert]::FromBase64String([Console]::In.ReadToEnd().Trim()));& ([scriptblock]::Create($s))`

// psArgs are the flags every invocation uses: no profile (it could print or
// change settings), never prompt.
var psArgs = []string{"-NoProfile", "-NonInteractive", "-EncodedCommand"}

// invocation is how a script reaches PowerShell.
type invocation struct {
	Args  []string // after the executable name
	Stdin []byte   // nil when the script is on the command line
}

// buildInvocation puts the script on the command line when the whole line
// (exe plus arguments) fits in max characters, and otherwise sends it on
// standard input behind stdinBootstrap.
func buildInvocation(exe, script string, max int) invocation {
	enc := encodeCommand(script)
	args := append(append([]string{}, psArgs...), enc)
	if len(exe)+len(strings.Join(args, " "))+1 <= max {
		return invocation{Args: args}
	}
	args = append(append([]string{}, psArgs...), encodeCommand(stdinBootstrap))
	stdin := []byte(base64.StdEncoding.EncodeToString([]byte(script)) + "\n")
	return invocation{Args: args, Stdin: stdin}
}

// LocalRunner runs scripts with the PowerShell of this machine (Windows).
type LocalRunner struct {
	// Exe is "powershell.exe" (Windows PowerShell 5.1, the default, which
	// has the Hyper-V module everywhere) or "pwsh.exe".
	Exe string
}

// Describe names the runner.
func (r LocalRunner) Describe() string { return "local " + r.exe() }

func (r LocalRunner) exe() string {
	if r.Exe == "" {
		return "powershell.exe"
	}
	return r.Exe
}

// ErrNotWindows is returned by LocalRunner on other systems.
var ErrNotWindows = errors.New("local Hyper-V control needs Windows")

// Run runs the script and waits for it (or for ctx).
func (r LocalRunner) Run(ctx context.Context, script string) (Output, error) {
	if runtime.GOOS != "windows" {
		return Output{}, &HostError{Kind: ErrUnreachable, Host: "localhost", Op: "run PowerShell", Err: ErrNotWindows,
			Hint: "This console runs on " + runtime.GOOS + ": configure the Hyper-V host with an SSH address (host = \"hv01.example.com\") instead of a local host"}
	}
	inv := buildInvocation(r.exe(), script, maxLocalCommandLine)
	cmd := exec.CommandContext(ctx, r.exe(), inv.Args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if inv.Stdin != nil {
		cmd.Stdin = bytes.NewReader(inv.Stdin)
	}
	err := cmd.Run()
	out := Output{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return out, ctx.Err()
	case errors.As(err, &ee):
		out.ExitCode = ee.ExitCode()
	default:
		return out, &HostError{Kind: ErrUnreachable, Host: "localhost", Op: "run " + r.exe(), Err: err,
			Hint: "Check that Windows PowerShell is installed and on PATH"}
	}
	return out, nil
}
