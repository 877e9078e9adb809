package hyperv

import "github.com/failback/failback/internal/secret"

// Secret is a password or passphrase. It is internal/secret's type under
// this package's name: every way Go prints or encodes it shows
// "[redacted]", also inside a struct that holds an SSHConfig in an
// unexported field (a string-typed secret printed raw there); only Reveal
// returns the value.
type Secret = secret.Secret
