package config

import (
	"encoding/json"
	"fmt"
)

// redacted is what a set secret prints as, everywhere.
const redacted = "[redacted]"

// Secret holds a password, key, token or connection string. Every way of
// printing or encoding it (fmt verbs, %#v, JSON, TOML, text) shows
// "[redacted]", so a secret cannot leak into a log or a dump by accident;
// only Reveal returns the value. The value sits behind a pointer so that
// even fmt's reflection (a Secret in an unexported field of some other
// struct, where its methods cannot be called) prints an address, not it.
type Secret struct{ v *string }

// NewSecret wraps a value (for code that builds a Config).
func NewSecret(v string) Secret {
	if v == "" {
		return Secret{}
	}
	return Secret{v: &v}
}

// Reveal returns the secret's value, for the one call that needs it.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsSet reports whether the secret has a value.
func (s Secret) IsSet() bool { return s.v != nil }

// String is redacted.
func (s Secret) String() string {
	if s.v == nil {
		return ""
	}
	return redacted
}

// GoString is redacted, so %#v of a struct holding a Secret is safe.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// Format redacts every verb, including %x and %q.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, s.GoString())
		return
	}
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	fmt.Fprint(f, s.String())
}

// MarshalJSON is redacted.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText is redacted, which keeps TOML and other text encoders safe.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText takes the value from config.toml.
func (s *Secret) UnmarshalText(b []byte) error {
	*s = NewSecret(string(b))
	return nil
}
