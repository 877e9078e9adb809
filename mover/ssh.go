package mover

import (
	"context"
	"strings"

	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/internal/hostpath"
)

// SSH starts the mover on a host over the runner's SSH connection: one
// session per mover, whose stdin and stdout carry the frames.
func SSH(r *hyperv.SSHRunner, program, stateDir string) Transport {
	return sshTransport{r: r, cmdline: CommandLine(program, stateDir)}
}

type sshTransport struct {
	r       *hyperv.SSHRunner
	cmdline string
}

func (t sshTransport) Describe() string { return t.r.Describe() + ": " + t.cmdline }

func (t sshTransport) Start(ctx context.Context) (Session, error) { return t.r.Start(ctx, t.cmdline) }

// CommandLine is the line the host's login shell runs to start the
// mover: cmd.exe on a Windows OpenSSH server (paths with spaces in
// double quotes; without spaces the same line also runs in PowerShell,
// should the server's default shell be that), a POSIX shell elsewhere.
func CommandLine(program, stateDir string) string {
	q := quotePOSIX
	if hostpath.IsWindowsAbs(program) {
		q = quoteCmd
	}
	args := append([]string{program}, ChildArgs(stateDir, "")...)
	for i, a := range args {
		args[i] = q(a)
	}
	return strings.Join(args, " ")
}

// quoteCmd quotes an argument for cmd.exe and the program's own
// parsing: Windows paths hold no double quote.
func quoteCmd(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t&()[]{}^=;!'+,`~%") {
		return s
	}
	return `"` + s + `"`
}

// quotePOSIX quotes an argument for a POSIX shell.
func quotePOSIX(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
