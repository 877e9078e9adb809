package cli

import (
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

// plural writes n what, with an s unless n is 1 ("1 disk", "3 disks").
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
