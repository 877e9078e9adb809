package config

import (
	"bytes"

	"github.com/BurntSushi/toml"
)

// Redacted returns the whole configuration as TOML, defaults filled in and
// paths resolved, with every secret shown as "[redacted]". It is safe to
// log or show to an operator.
func (c *Config) Redacted() string {
	var b bytes.Buffer
	enc := toml.NewEncoder(&b)
	enc.Indent = ""
	if err := enc.Encode(c); err != nil {
		// Every type in the schema encodes; this is a programming error.
		return "# cannot show the configuration: " + err.Error() + "\n"
	}
	// Unset text keys carry nothing; leave them out so the dump reads.
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(b.Bytes(), []byte("\n")) {
		if !bytes.HasSuffix(bytes.TrimRight(line, "\n"), []byte(` = ""`)) {
			out.Write(line)
		}
	}
	return out.String()
}

// String is Redacted, so printing a Config never shows a secret.
func (c *Config) String() string { return c.Redacted() }
