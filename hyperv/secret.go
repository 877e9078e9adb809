package hyperv

// Secret is a password or passphrase. It prints as [redacted] however it is
// formatted or marshalled, so logs and error messages never carry it; Reveal
// returns the value for the one place that needs it.
type Secret string

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s Secret) GoString() string { return `hyperv.Secret("` + s.String() + `")` }

// MarshalText keeps JSON and text encoders from printing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }
