package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/failback/failback/config"
)

// Every command that needs the configuration finds it the same way:
// --config FILE, else $FAILBACK_CONFIG, else ./config.toml. Commands add
// the flag with configFlag and load with loadConfig.

// configEnv names the environment variable that points at the config file.
const configEnv = "FAILBACK_CONFIG"

// defaultConfigFile is used when neither --config nor $FAILBACK_CONFIG is set.
const defaultConfigFile = "config.toml"

func init() {
	register(Command{Name: "config", Summary: "check or show the configuration file", Run: runConfig})
}

// configFlag adds --config to fs, spelled and explained the same everywhere.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "config `FILE` (default $"+configEnv+", else ./"+defaultConfigFile+")")
}

// configPath picks the config file and says where the choice came from.
func configPath(flagValue string) (path, from string) {
	switch {
	case flagValue != "":
		return flagValue, "--config"
	case os.Getenv(configEnv) != "":
		return os.Getenv(configEnv), "$" + configEnv
	}
	return defaultConfigFile, "the default"
}

// loadConfig loads and validates the config named by flagValue (see
// configPath). A config with problems returns an error that lists them all
// (errors.As finds the config.Problems); warnings stay in Config.Warnings.
func loadConfig(flagValue string) (*config.Config, error) {
	path, from := configPath(flagValue)
	c, err := config.Load(path)
	var ps config.Problems
	switch {
	case err == nil:
		return c, nil
	case errors.As(err, &ps):
		return nil, fmt.Errorf("%s has %s (run 'failback config check' to list them again):\n%w",
			path, plural(len(ps.Errors()), "problem"), ps)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("no config file at %s (%s): pass --config FILE, set %s, or copy config.toml.example to %s and edit it: %w",
			path, from, configEnv, defaultConfigFile, err)
	}
	return nil, fmt.Errorf("config %s: %w", path, err)
}

// printWarnings writes the config's warnings, one per line.
func printWarnings(w io.Writer, c *config.Config) {
	for _, p := range c.Warnings {
		fmt.Fprintln(w, p.Error())
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
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
