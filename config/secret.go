package config

import "github.com/failback/failback/internal/secret"

// redacted is what a set secret prints as, everywhere.
const redacted = secret.Redacted

// Secret holds a password, key, token or connection string. Every way of
// printing or encoding it (fmt verbs, %#v, JSON, TOML, text) shows
// "[redacted]", also inside a struct that holds it in an unexported field;
// only Reveal returns the value. It is internal/secret's type under this
// package's name, so the azure and crypt packages take it as it is.
type Secret = secret.Secret

// NewSecret wraps a value (for code that builds a Config); "" gives an
// unset Secret.
func NewSecret(v string) Secret { return secret.New(v) }
