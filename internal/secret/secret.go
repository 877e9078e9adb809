// Package secret is the one type failback keeps credentials in (storage
// keys, SAS tokens, connection strings, passwords, agent tokens). Every
// way Go prints or encodes it shows "[redacted]"; only Reveal returns the
// value, and only the code that authenticates calls it.
//
// The azure, crypt and config packages expose it under their own names
// (type aliases), so one implementation carries every guarantee.
package secret

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
)

// Redacted is what a set secret prints as, everywhere.
const Redacted = "[redacted]"

// Secret holds a credential. The value sits behind a pointer: fmt cannot
// call methods on a Secret in an unexported field of some other struct
// and prints its fields instead, which for a pointer is an address, never
// the value. The zero Secret is unset.
type Secret struct{ v *string }

// New wraps a value; the empty string gives an unset Secret.
func New(v string) Secret {
	if v == "" {
		return Secret{}
	}
	return Secret{v: &v}
}

// Reveal returns the value, for the one call that authenticates.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s.v != nil }

// IsZero reports whether the secret is unset (the inverse of IsSet; JSON's
// omitzero and other encoders use it).
func (s Secret) IsZero() bool { return s.v == nil }

// String is redacted, and empty when unset so "is it set?" stays visible.
func (s Secret) String() string {
	if s.v == nil {
		return ""
	}
	return Redacted
}

// GoString is redacted, for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("secret.Secret(%q)", s.String()) }

// Format makes every verb (%v, %s, %q, %x, %d, %#v...) print the redacted
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

// LogValue is redacted for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON is redacted.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText is redacted, which keeps TOML and other text encoders safe.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// ErrPlaceholder: the value is the redaction marker itself, as a redacted
// dump (failback config show) prints it, not a credential.
var ErrPlaceholder = errors.New(`"` + Redacted + `" is the placeholder a redacted dump prints, not a secret: write the real value (or use the _env or _file form)`)

// UnmarshalText fills a Secret from a config file. It refuses the
// redaction marker, so a dump pasted back as a config fails loudly
// instead of authenticating with "[redacted]".
func (s *Secret) UnmarshalText(b []byte) error {
	if string(b) == Redacted {
		return ErrPlaceholder
	}
	*s = New(string(b))
	return nil
}
