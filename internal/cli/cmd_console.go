package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"net"
	"os"
	"path/filepath"

	"github.com/failback/failback/config"

	"github.com/failback/failback/sshsrv"
	"github.com/failback/failback/ui"
	"github.com/failback/failback/workflow"
)

// newConsoleCommand is "failback console", the command table's entry
// (cli.go); it also runs when no command is given.
func newConsoleCommand() Command {
	return Command{Name: "console", Summary: "open the failback console (the default when no command is given)", Run: runConsole}
}

const consoleUsage = `[console] [--config FILE] [--watchers ADDR]

Opens the console: choose a recovery plan, confirm the direction (Azure to
on-premises), the location, the sync option and the certificate, then watch
every disk and act (Complete failover, Commit, Reverse replicate, Cancel,
Undo). When 'failback serve' already drives this state folder, the console
attaches to it; otherwise this process drives the jobs, and jobs it leaves
running resume from their journals at the next start.

--watchers ADDR also serves this console over SSH (the [ssh] section's host
key and authorized-keys file) so others can watch or act; its log (sessions,
refused keys) is the state folder's ssh.log. The console 'lab up' opens
serves the lab's watchers this way on its [ssh] listen address.`

func runConsole(ctx context.Context, s Stdio, args []string) error {
	f := newFlags(s, "console", consoleUsage)
	cfgFlag := configFlag(f)
	watchers := f.String("watchers", "", "also serve the console over SSH on `ADDR` (e.g. 127.0.0.1:2222)")
	pos, err := parse(f, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("console takes no arguments (got %q)", pos[0])
	}
	return consoleWith(ctx, s, *cfgFlag, watchOpts{addr: *watchers})
}

// watchOpts say whether the console is also served over SSH.
type watchOpts struct {
	addr string
	// fromConfig serves it on [ssh] listen; optional goes on without
	// watchers when that cannot be (the port is taken, no keys file).
	fromConfig, optional bool
}

// consoleOnConfig is what lab up opens: the console, served to watchers
// on the lab's SSH port.
func consoleOnConfig(ctx context.Context, s Stdio, configPath string) error {
	return consoleWith(ctx, s, configPath, watchOpts{fromConfig: true, optional: true})
}

func consoleWith(ctx context.Context, s Stdio, cfgFlag string, wo watchOpts) error {
	cfg, err := loadConfig(cfgFlag)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w\nTo rehearse on this machine, run 'failback lab up'; to set up a real site, copy config.toml.example to config.toml and edit it", err)
		}
		return err
	}
	printWarnings(s.Err, cfg)
	svc, closeSvc, err := openWorkflow(ctx, cfg, wireOptions{Command: "failback console", AutoResume: true})
	if err != nil {
		return err
	}
	defer closeSvc()
	if wo.fromConfig {
		wo.addr = cfg.SSH.Listen
	}
	if wo.addr != "" {
		stop, err := serveWatchers(ctx, svc, cfg, wo.addr)
		switch {
		case err == nil:
			defer stop()
		case !wo.optional:
			return err
		default:
			fmt.Fprintf(s.Err, "failback: the console is not served to watchers: %v\n", err)
		}
	}
	err = ui.Run(ctx, svc, ui.LocalActor(), ui.Options{Context: ctx}, ui.RunIO{In: s.In, Out: s.Out})
	if _, owned := svc.(*workflow.Manager); owned {
		if n := working(svc.Jobs()); n > 0 {
			fmt.Fprintf(s.Err, "failback: %d job(s) were still running in this console; they stop here and resume from their journals at the next 'failback' or 'failback serve' on this config (nothing is lost).\n", n)
		}
	}
	return err
}

// serveWatchers serves the console over SSH on addr with the [ssh] keys;
// its log (sessions, refused keys) goes to the state folder's ssh.log,
// since the terminal belongs to the console.
func serveWatchers(ctx context.Context, svc workflow.Service, cfg *config.Config, addr string) (func(), error) {
	logPath := filepath.Join(cfg.StateDir, "ssh.log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the watchers' log %s: %w", logPath, err)
	}
	srv, err := sshsrv.New(svc, sshsrv.Options{
		HostKeyPath:    cfg.SSH.HostKey,
		AuthorizedKeys: cfg.SSH.AuthorizedKeys,
		Logger:         log.New(lf, "", log.LstdFlags),
	})
	if err != nil {
		lf.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		lf.Close()
		return nil, fmt.Errorf("serve the console to watchers on %s: %w (is failback serve or another console using it?)", addr, err)
	}
	go func() { _ = srv.Serve(ctx, ln) }()
	return func() { _ = srv.Close(); lf.Close() }, nil
}

// working counts jobs that are doing work (not resting for the operator).
func working(jobs []workflow.JobView) int {
	n := 0
	for _, j := range jobs {
		if j.State.Moving() {
			n++
		}
	}
	return n
}
