package azure

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// redacted is what every printed form of a Secret shows.
const redacted = "[redacted]"

// Secret holds a credential (account key, SAS token, connection string).
// Every way Go prints or encodes it shows "[redacted]", so a secret cannot
// leak through a log line, a %v of a config struct, or a JSON dump; only
// Reveal returns the value, and only the code that authenticates calls it.
type Secret struct{ v string }

// NewSecret wraps a credential value.
func NewSecret(v string) Secret { return Secret{v: v} }

// Reveal returns the credential itself, for the authentication code only.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no value is set.
func (s Secret) IsZero() bool { return s.v == "" }

// String is redacted (empty when unset, so "is it set?" stays visible).
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return redacted
}

// GoString is redacted, for %#v.
func (s Secret) GoString() string { return "azure.Secret(" + s.String() + ")" }

// Format makes every fmt verb (%v, %s, %q, %x, %#v...) print the redacted
// form; without it %x would print the hex of the value.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = fmt.Fprint(f, s.GoString())
	case verb == 'q':
		_, _ = fmt.Fprintf(f, "%q", s.String())
	default:
		_, _ = fmt.Fprint(f, s.String())
	}
}

// MarshalJSON is redacted.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText is redacted (TOML and other text encoders).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText lets config decoders (TOML, JSON strings) fill a Secret.
func (s *Secret) UnmarshalText(b []byte) error {
	s.v = string(b)
	return nil
}

// LogValue is redacted for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
