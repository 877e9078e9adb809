package azure

import "github.com/failback/failback/internal/secret"

// Secret holds a credential (account key, SAS token, connection string,
// agent token). Every way Go prints or encodes it shows "[redacted]",
// also inside a struct that holds it in an unexported field; only Reveal
// returns the value. It is internal/secret's type under this package's name.
type Secret = secret.Secret

// NewSecret wraps a credential value ("" gives an unset Secret).
func NewSecret(v string) Secret { return secret.New(v) }
