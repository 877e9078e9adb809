package labtest

import (
	"fmt"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/config"
	"github.com/failback/failback/crypt"
	"github.com/failback/failback/hyperv"
	"github.com/failback/failback/workflow"
)

// DepsFromConfig builds a drill's dependencies from its config.toml alone
// (connection string, lab folders), as a separate process must.
func DepsFromConfig(cfg *config.Config) (workflow.Deps, error) {
	st, err := azure.NewStorage(azure.StorageOptions{ConnectionString: azure.NewSecret(cfg.Azure.Storage.ConnectionString.Reveal()),
		RetryDelay: 10 * time.Millisecond, MaxRetryDelay: 100 * time.Millisecond, TryTimeout: 30 * time.Second})
	if err != nil {
		return workflow.Deps{}, err
	}
	lc, err := azure.NewLabCompute(cfg.Azure.LabDir, azure.LabOptions{AckTimeout: 20 * time.Second})
	if err != nil {
		return workflow.Deps{}, err
	}
	hosts := map[string]hyperv.Host{}
	for _, h := range cfg.Hosts {
		lh, err := hyperv.OpenLab(h.LabDir)
		if err != nil {
			return workflow.Deps{}, fmt.Errorf("host %s: %w", h.Name, err)
		}
		hosts[h.Name] = lh
	}
	return workflow.Deps{Storage: st, Compute: lc, Hosts: hosts, Certs: crypt.NewStore(cfg.CertificatesDir, crypt.StoreOptions{})}, nil
}
