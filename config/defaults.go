package config

import (
	"path/filepath"
	"time"
)

// Every default lives in this file: Default holds the fixed ones (the file
// is decoded on top of it, so a key that is written wins) and
// applyDefaults the ones that depend on other values or fill list elements.

// DefaultSiteName names the on-premises site when config.toml has no [[site]].
const DefaultSiteName = "on-premises"

// Default returns a Config holding every fixed default.
func Default() *Config {
	return &Config{
		StateDir:        "state",
		CertificatesDir: "certificates",
		Azure: Azure{
			SiteName:         "Azure",
			Compute:          ComputeARM,
			OperationTimeout: Span(10 * time.Minute),
			Stop:             StopPowerOff,
			SASDuration:      Span(time.Hour),
			Storage: Storage{
				Retries:       5,
				RetryDelay:    Span(2 * time.Second),
				MaxRetryDelay: Span(time.Minute),
				TryTimeout:    Span(2 * time.Minute),
			},
		},
		Engine: Engine{
			BlockSize:     Bytes(1 << 20),
			Threads:       8,
			ParallelDisks: 2,
			Verify:        true,
			DowntimeRetry: Span(15 * time.Minute),
			CatchUp: CatchUp{
				MaxPasses: 3,
				StopBelow: Bytes(256 << 20),
			},
		},
		Reverse: Reverse{
			Interval:           Span(15 * time.Minute),
			KeepRecoveryPoints: 24,
			RPOTarget:          Span(time.Hour),
			ReplicaContainer:   "failback-replicas",
			Storage: Storage{
				Retries:       5,
				RetryDelay:    Span(2 * time.Second),
				MaxRetryDelay: Span(time.Minute),
				TryTimeout:    Span(2 * time.Minute),
			},
		},
		SSH: SSH{
			Listen:         "127.0.0.1:2222",
			AuthorizedKeys: "authorized_keys",
		},
	}
}

// Defaults for list elements and derived values.
const (
	defaultShutdownTimeout = 5 * time.Minute
	// defaultMaxDisks: a host's disks and network take a few streams at
	// once well; a plan over several hosts moves on all of them.
	defaultMaxDisks    = 4
	defaultKnownHosts  = "~/.ssh/known_hosts"
	defaultHostKeyName = "ssh_host_ed25519_key"
)

// applyDefaults fills what depends on other values; it runs after decoding
// and before paths are resolved.
func (c *Config) applyDefaults() {
	if c.SSH.HostKey == "" {
		c.SSH.HostKey = filepath.Join(c.StateDir, defaultHostKeyName)
	}
	if len(c.Sites) == 0 {
		c.Sites = []Site{{Name: DefaultSiteName, Description: "on-premises Hyper-V hosts"}}
	}
	for i := range c.Hosts {
		h := &c.Hosts[i]
		if h.Site == "" && len(c.Sites) == 1 {
			h.Site = c.Sites[0].Name
		}
		if !h.ShutdownTimeout.IsSet() {
			h.ShutdownTimeout = Span(defaultShutdownTimeout)
		}
		if h.Transport == TransportSSH && h.KnownHosts == "" {
			h.KnownHosts = defaultKnownHosts
		}
		if h.DataPath == "" {
			h.DataPath = DataMover
		}
		if h.MaxDisks == 0 {
			h.MaxDisks = defaultMaxDisks
		}
		if h.MoverDir == "" && h.Transport != TransportLab {
			h.MoverDir = DefaultMoverDir
		}
	}
	for i := range c.VMs {
		if c.VMs[i].AzureVM == "" {
			c.VMs[i].AzureVM = c.VMs[i].Name
		}
	}
}
