package cli

import (
	"context"
	"fmt"
	"log"

	"github.com/failback/failback/sshsrv"
	"github.com/failback/failback/workflow"
)

// newServeCommand is "failback serve", the command table's entry (cli.go).
func newServeCommand() Command {
	return Command{Name: "serve", Summary: "drive jobs and serve the console over SSH to operators and viewers", Run: runServe}
}

const serveUsage = `serve [--config FILE] [--listen ADDR]

Drives every job of the state folder in this process (resuming interrupted
ones) and serves the console over SSH. Keys come from the [ssh] section:
the host key (created on first start) and the authorized-keys file, whose
lines start with role=operator or role=viewer, e.g.
  role=operator ssh-ed25519 AAAA... alice@jumpbox
Viewers see everything and can act on nothing. Closing a session never
touches a job. Script commands on the same config go through this process.
Stop with Ctrl-C: running jobs stop and resume at the next start.`

func runServe(ctx context.Context, s Stdio, args []string) error {
	f := newFlags(s, "serve", serveUsage)
	cfgFlag := configFlag(f)
	listen := f.String("listen", "", "SSH listen `ADDR` (default [ssh] listen, else "+sshsrv.DefaultListen+")")
	pos, err := parse(f, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve takes no arguments (got %q)", pos[0])
	}
	cfg, err := loadConfig(*cfgFlag)
	if err != nil {
		return err
	}
	printWarnings(s.Err, cfg)
	if cfg.SSH.AuthorizedKeys == "" {
		return usagef("serve needs [ssh] authorized_keys in the config: a file of public keys marked role=operator or role=viewer")
	}
	addr := *listen
	if addr == "" {
		addr = cfg.SSH.Listen
	}
	if addr == "" {
		addr = sshsrv.DefaultListen
	}
	svc, closeSvc, err := openWorkflow(ctx, cfg, wireOptions{Command: "failback serve", AutoResume: true})
	if err != nil {
		return err
	}
	defer closeSvc()
	if c, isClient := svc.(*workflow.Client); isClient {
		pid, cmd := c.Driver()
		return &ExitError{Code: 3, Err: fmt.Errorf("process %d (%s) already drives this state folder; use it (a console started with --watchers, or lab up's, serves watchers over SSH itself: ssh -t -p PORT HOST of its [ssh] listen), or quit it first", pid, cmd)}
	}
	srv, err := sshsrv.New(svc, sshsrv.Options{
		Listen:         addr,
		HostKeyPath:    cfg.SSH.HostKey,
		AuthorizedKeys: cfg.SSH.AuthorizedKeys,
		Logger:         log.New(s.Err, "", log.LstdFlags),
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(s.Err, "failback serve: console on ssh://%s (host key %s)\n", addr, cfg.SSH.HostKey)
	err = srv.ListenAndServe(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
