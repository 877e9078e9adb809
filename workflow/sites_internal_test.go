package workflow

import (
	"strings"
	"testing"

	"github.com/failback/failback/config"
	"github.com/failback/failback/internal/secret"
)

// The Direction step names the account the disks come from, however
// config.toml reaches it, and never shows a key or a signature.
func TestStorageWhereNamesAccountAndHostWithoutSecrets(t *testing.T) {
	const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq"
	for _, c := range []struct {
		name string
		st   config.Storage
		want string
	}{
		{"azurite connection string", config.Storage{ConnectionString: secret.New("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key + ";BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;")},
			"devstoreaccount1 at 127.0.0.1:10000"},
		{"azure connection string", config.Storage{ConnectionString: secret.New("DefaultEndpointsProtocol=https;AccountName=contoso;AccountKey=" + key + ";EndpointSuffix=core.windows.net")},
			"contoso at contoso.blob.core.windows.net"},
		{"SAS connection string", config.Storage{ConnectionString: secret.New("BlobEndpoint=https://fabrikam.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&sig=" + key)},
			"fabrikam at fabrikam.blob.core.windows.net"},
		{"development storage", config.Storage{ConnectionString: secret.New("UseDevelopmentStorage=true")},
			"devstoreaccount1 at 127.0.0.1:10000"},
		{"account URL", config.Storage{AccountURL: "https://contoso.blob.core.windows.net"},
			"contoso at contoso.blob.core.windows.net"},
		{"name only", config.Storage{AccountName: "contoso", EntraID: true}, "contoso"},
	} {
		got := storageWhere(&c.st)
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
		if strings.Contains(got, key[:12]) || strings.Contains(got, "sig=") {
			t.Errorf("%s: shows a secret: %q", c.name, got)
		}
	}
}
