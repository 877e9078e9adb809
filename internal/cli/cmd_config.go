package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/failback/failback/config"
)

// newConfigCommand is "failback config", the command table's entry (cli.go).
func newConfigCommand() Command {
	return Command{Name: "config", Summary: "check or show the configuration file", Run: runConfig}
}

func runConfig(ctx context.Context, s Stdio, args []string) error {
	return dispatch(ctx, s, "config", args, []Command{
		{Name: "check", Summary: "validate the config file and list every problem with file:line", Run: runConfigCheck},
		{Name: "show", Summary: "print the config with defaults filled in and secrets redacted", Run: runConfigShow},
	})
}

// checkReport is config check's --json output.
type checkReport struct {
	File     string           `json:"file"`
	OK       bool             `json:"ok"`
	Error    string           `json:"error,omitempty"`
	Sites    int              `json:"sites"`
	Hosts    int              `json:"hosts"`
	VMs      int              `json:"vms"`
	Disks    int              `json:"disks"`
	Plans    int              `json:"plans"`
	Problems []config.Problem `json:"problems"`
}

func runConfigCheck(_ context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "config check", "config check [--config FILE] [--json]")
	file := configFlag(fl)
	asJSON := fl.Bool("json", false, "print the result as JSON")
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("config check takes no arguments (got %q); name the file with --config", pos[0])
	}
	path, _ := configPath(*file)
	rep := checkReport{File: path, Problems: []config.Problem{}}
	c, err := loadConfig(*file)
	var ps config.Problems
	switch {
	case err == nil:
		rep.OK = true
		rep.Problems = append(rep.Problems, c.Warnings...)
		rep.Sites, rep.Hosts, rep.VMs, rep.Plans = len(c.Sites), len(c.Hosts), len(c.VMs), len(c.Plans)
		for _, vm := range c.VMs {
			rep.Disks += len(vm.Disks)
		}
	case errors.As(err, &ps):
		rep.Problems = append(rep.Problems, ps...)
	default:
		rep.Error = err.Error()
	}

	if *asJSON {
		enc := json.NewEncoder(s.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
		if !rep.OK {
			return &ExitError{Code: 1}
		}
		return nil
	}
	if rep.Error != "" {
		return &ExitError{Code: 1, Err: errors.New(rep.Error)}
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(s.Out, p.Error())
	}
	if !rep.OK {
		return &ExitError{Code: 1, Err: fmt.Errorf("%s has %s", path, plural(len(ps.Errors()), "problem"))}
	}
	fmt.Fprintf(s.Out, "config OK: %s (%s), %s, %s in %s: %s\n",
		plural(rep.VMs, "VM"), plural(rep.Disks, "disk"), plural(rep.Plans, "plan"),
		plural(rep.Hosts, "host"), plural(rep.Sites, "site"), path)
	return nil
}

func runConfigShow(_ context.Context, s Stdio, args []string) error {
	fl := newFlags(s, "config show", "config show [--config FILE]")
	file := configFlag(fl)
	pos, err := parse(fl, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("config show takes no arguments (got %q)", pos[0])
	}
	c, err := loadConfig(*file)
	if err != nil {
		return err
	}
	printWarnings(s.Err, c)
	fmt.Fprint(s.Out, c.Redacted())
	return nil
}
