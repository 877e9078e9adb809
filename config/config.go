// Package config is failback's configuration: the TOML schema of
// config.toml, its defaults, the resolution of secrets kept outside the
// file, and a validation that reports every problem at once with file:line
// and what to write instead.
//
// It is plain data: it imports none of failback's packages. The workflow
// maps these values onto the Azure, Hyper-V, engine and SSH packages.
//
// Field tags: `toml` is the key name (snake_case); `cfg:"path"` marks a
// local file or folder that resolves against the config file's folder.
// A Secret field named X also accepts X_env (an environment variable) and
// X_file (a file holding it) so secrets need not sit in config.toml.
package config

import "strconv"

// Config is the whole of config.toml.
type Config struct {
	// StateDir holds jobs, journals and audit logs.
	StateDir string `toml:"state_dir" cfg:"path"`
	// CertificatesDir holds the PEM and PFX files that unlock encrypted disks.
	CertificatesDir string `toml:"certificates_dir" cfg:"path"`

	Azure   Azure   `toml:"azure"`
	Commit  Commit  `toml:"commit"`
	Engine  Engine  `toml:"engine"`
	Reverse Reverse `toml:"reverse"`
	SSH     SSH     `toml:"ssh"`
	Agent   Agent   `toml:"agent"`

	Certificates []Certificate `toml:"certificate"`
	Sites        []Site        `toml:"site"`
	Hosts        []Host        `toml:"host"`
	VMs          []VM          `toml:"vm"`
	Plans        []Plan        `toml:"plan"`

	// File is the config file's path as loaded ("" when built in code).
	File string `toml:"-"`
	// Warnings are problems that do not stop failback (for example a field
	// that is ignored); Load fills them.
	Warnings Problems `toml:"-"`

	pos positions
}

// Azure is the source site: the subscription where the failed-over VMs run
// on managed disks, and the storage account holding any page-blob disks.
type Azure struct {
	// SiteName is how the console names the Azure side.
	SiteName       string `toml:"site_name"`
	SubscriptionID string `toml:"subscription_id"`
	// ResourceGroup is the VMs' group unless a [[vm]] names its own.
	ResourceGroup string `toml:"resource_group"`
	// Compute is "arm" (Azure Resource Manager) or "lab" (simulated VMs).
	Compute string `toml:"compute"`
	// ARMEndpoint replaces Azure Resource Manager's public endpoint: a
	// sovereign cloud, or the lab's loopback endpoint (which takes a lab
	// token instead of Microsoft Entra ID).
	ARMEndpoint string `toml:"arm_endpoint"`
	// LabDir is the lab compute's state folder (Compute = "lab").
	LabDir string `toml:"lab_dir" cfg:"path"`
	// OperationTimeout bounds one power operation (shut down, start, delete).
	OperationTimeout Duration `toml:"operation_timeout"`
	// Stop is how phase 2 stops the Azure VMs: "power-off" keeps their
	// allocation (a quick Undo; compute is still billed) and "deallocate"
	// releases it (no compute billing; a start may wait for capacity).
	Stop string `toml:"stop"`
	// SnapshotResourceGroup is where failback makes managed disks'
	// snapshots (default: each disk's own group).
	SnapshotResourceGroup string `toml:"snapshot_resource_group"`
	// SASDuration is how long one read grant on a snapshot lasts; a pass
	// that reads longer renews it.
	SASDuration Duration `toml:"sas_duration"`
	Storage     Storage  `toml:"storage"`
}

// Ways to stop the Azure VMs for phase 2.
const (
	StopPowerOff   = "power-off"
	StopDeallocate = "deallocate"
)

// Commit says what Commit removes in Azure besides the VMs.
type Commit struct {
	// DeleteDisks deletes the VMs' managed disks too (default: kept; the
	// newest snapshot is kept either way, as the reverse-replication base).
	DeleteDisks bool `toml:"delete_disks"`
}

// Compute back ends.
const (
	ComputeARM = "arm"
	ComputeLab = "lab"
)

// Storage is the storage account holding the disks as page blobs. Exactly
// one way to authenticate is set: ConnectionString, AccountKey, SAS or
// EntraID.
type Storage struct {
	// AccountURL is the blob endpoint, e.g. https://NAME.blob.core.windows.net.
	AccountURL string `toml:"account_url"`
	// AccountName defaults to the first label of AccountURL's host.
	AccountName string `toml:"account_name"`
	// AccountID is the account's ARM id, which turning a recovery point
	// into managed disks (createOption Import) needs.
	AccountID string `toml:"account_id"`

	ConnectionString     Secret `toml:"connection_string"`
	ConnectionStringEnv  string `toml:"connection_string_env"`
	ConnectionStringFile string `toml:"connection_string_file" cfg:"path"`
	AccountKey           Secret `toml:"account_key"`
	AccountKeyEnv        string `toml:"account_key_env"`
	AccountKeyFile       string `toml:"account_key_file" cfg:"path"`
	SAS                  Secret `toml:"sas"`
	SASEnv               string `toml:"sas_env"`
	SASFile              string `toml:"sas_file" cfg:"path"`
	// EntraID authenticates with azidentity's DefaultAzureCredential.
	EntraID bool `toml:"entra_id"`

	// Retries is how often a failed request is tried again.
	Retries int `toml:"retries"`
	// RetryDelay is the first pause between tries (it grows each time).
	RetryDelay Duration `toml:"retry_delay"`
	// MaxRetryDelay caps the pause between tries.
	MaxRetryDelay Duration `toml:"max_retry_delay"`
	// TryTimeout bounds one try of one request.
	TryTimeout Duration `toml:"try_timeout"`
}

// Storage authentication methods, named as [azure.storage] spells their
// keys (validation names the ones a config sets).
const (
	AuthConnectionString = "connection_string"
	AuthAccountKey       = "account_key"
	AuthSAS              = "sas"
	AuthEntraID          = "entra_id"
)

// Configured reports whether a way to authenticate to the storage
// account is set.
func (s *Storage) Configured() bool {
	return s.ConnectionString.IsSet() || s.AccountKey.IsSet() || s.SAS.IsSet() || s.EntraID
}

// Engine tunes the sync engine.
type Engine struct {
	// BlockSize is the unit that is hashed, compared and transferred.
	BlockSize Size `toml:"block_size"`
	// Threads is the most parallel transfers per disk (1..32); how many
	// run adapts to Azure's throttling.
	Threads int `toml:"threads"`
	// ParallelDisks is how many disks one job syncs at once (1..64).
	ParallelDisks int `toml:"parallel_disks"`
	// BandwidthLimit caps bytes per second over the WAN (0 = no limit).
	BandwidthLimit Size `toml:"bandwidth_limit"`
	// Verify compares the target with the source snapshot after a sync.
	Verify bool `toml:"verify"`
	// DowntimeRetry is how long phase 2 (the Azure VMs are off) keeps
	// retrying after a failure before it stops for the operator; 0 stops
	// at the first failure.
	DowntimeRetry Duration `toml:"downtime_retry"`
	CatchUp       CatchUp  `toml:"catch_up"`
}

// CatchUp bounds the passes after phase 1 that sync what changed while it
// ran, so phase 2 (the downtime) has little left to move.
type CatchUp struct {
	// MaxPasses is the most catch-up passes before waiting (0 = none).
	MaxPasses int `toml:"max_passes"`
	// StopBelow ends catch-up once a pass moved less than this.
	StopBelow Size `toml:"stop_below"`
}

// Reverse tunes reverse replication (on-premises back to Azure).
type Reverse struct {
	// Interval is the time between two cycles.
	Interval Duration `toml:"interval"`
	// KeepRecoveryPoints is how many recovery points (snapshots of every
	// disk of a VM, taken together after a cycle) to keep.
	KeepRecoveryPoints int `toml:"keep_recovery_points"`
	// RPOTarget is the recovery point objective: the console warns when
	// a VM's newest recovery point is older (0: no target).
	RPOTarget Duration `toml:"rpo_target"`
	// ReplicaContainer holds the replicas (page blobs) of the disks of
	// VMs that ran on managed disks, in the Storage account.
	ReplicaContainer string `toml:"replica_container"`
	// CrashConsistent allows a cycle to read a running VM's disks without
	// a production checkpoint (crash-consistent) when one cannot be taken.
	CrashConsistent bool `toml:"crash_consistent"`
	// Storage is the account holding the replicas (default: the
	// [azure.storage] account).
	Storage Storage `toml:"storage"`
}

// SSH is the console's SSH server (failback serve).
type SSH struct {
	// Listen is host:port; a --listen flag overrides it.
	Listen string `toml:"listen"`
	// HostKey is the server's private key, created on first start.
	HostKey string `toml:"host_key" cfg:"path"`
	// AuthorizedKeys lists the public keys allowed in, each marked
	// operator or viewer.
	AuthorizedKeys string `toml:"authorized_keys" cfg:"path"`
}

// Agent is the optional Azure-side agent that computes checksums next to
// the data. Unset URL means no agent: reads go straight to the blobs.
type Agent struct {
	URL string `toml:"url"`
	// CertFingerprint pins the agent's TLS certificate (SHA-256, hex).
	CertFingerprint string `toml:"cert_fingerprint"`
	// CertFile pins the agent's TLS certificate by its PEM file.
	CertFile  string `toml:"cert_file" cfg:"path"`
	Token     Secret `toml:"token"`
	TokenEnv  string `toml:"token_env"`
	TokenFile string `toml:"token_file" cfg:"path"`
}

// Certificate is a PFX file in CertificatesDir that needs a password.
// PEM files need no entry.
type Certificate struct {
	// File is the PFX file name, relative to CertificatesDir.
	File         string `toml:"file"`
	Password     Secret `toml:"password"`
	PasswordEnv  string `toml:"password_env"`
	PasswordFile string `toml:"password_file" cfg:"path"`
}

// Site is an on-premises site (Azure is the implicit source site).
type Site struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
}

// Host is an on-premises Hyper-V host.
type Host struct {
	Name string `toml:"name"`
	// Site names the [[site]] the host belongs to.
	Site string `toml:"site"`
	// Transport is how PowerShell reaches the host: local, ssh or lab.
	Transport string `toml:"transport"`

	// Address is host or host:port (ssh; port 22 by default).
	Address           string   `toml:"address"`
	User              string   `toml:"user"`
	KeyFile           string   `toml:"key_file" cfg:"path"`
	KeyPassphrase     Secret   `toml:"key_passphrase"`
	KeyPassphraseEnv  string   `toml:"key_passphrase_env"`
	KeyPassphraseFile string   `toml:"key_passphrase_file" cfg:"path"`
	Password          Secret   `toml:"password"`
	PasswordEnv       string   `toml:"password_env"`
	PasswordFile      string   `toml:"password_file" cfg:"path"`
	KnownHosts        string   `toml:"known_hosts" cfg:"path"`
	ShutdownTimeout   Duration `toml:"shutdown_timeout"`

	// LabDir is the lab host's folder (transport = "lab").
	LabDir string `toml:"lab_dir" cfg:"path"`
	// VMFolder is the host folder where VMs and disks are created at an
	// alternate location (a host path, e.g. D:\Hyper-V).
	VMFolder string `toml:"vm_folder"`
	// PathMap maps host paths to the paths this machine writes through
	// (data_path = "share").
	PathMap []PathMap `toml:"path_map"`
	// DataPath is how disk bytes reach the host: "mover" (a mover on the
	// host reads Azure and writes its disks itself) or "share" (this
	// machine writes them through path_map).
	DataPath string `toml:"data_path"`
	// MaxDisks is how many disks the host's mover syncs at once, over
	// every job of this driver (1..64).
	MaxDisks int `toml:"max_disks"`
	// MoverDir is the host folder holding the mover (failback.exe) and
	// its state folder (state: journals, sums, disk locks); a lab host's
	// mover keeps its state in lab_dir/mover-state.
	MoverDir string `toml:"mover_dir"`
}

// Data paths of a host.
const (
	DataMover = "mover"
	DataShare = "share"
)

// DefaultMoverDir is where a Windows host keeps the mover.
const DefaultMoverDir = `C:\ProgramData\failback`

// Host transports.
const (
	TransportLocal = "local"
	TransportSSH   = "ssh"
	TransportLab   = "lab"
)

// PathMap maps a host path prefix (D:\VMs) to a local one (/mnt/hv01/vms).
type PathMap struct {
	Host  string `toml:"host"`
	Local string `toml:"local" cfg:"path"`
}

// VM is a virtual machine to fail back: its Azure VM, its disks and where
// it lived on premises. A VM is defined once and may sit in any plans.
type VM struct {
	// Name is the on-premises (Hyper-V) VM name.
	Name string `toml:"name"`
	// AzureVM is the VM's name in Azure (default: Name).
	AzureVM string `toml:"azure_vm"`
	// ResourceGroup is the Azure VM's group (default: [azure]'s).
	ResourceGroup string `toml:"resource_group"`
	// Host is the original Hyper-V host.
	Host string `toml:"host"`
	// Switch is the virtual switch of the VM's network adapter.
	Switch string `toml:"switch"`
	// Generation is the Hyper-V generation, 1 or 2 (0: as the original VM).
	Generation int `toml:"generation"`
	// CPUs is the virtual processor count (0: as the original VM).
	CPUs int `toml:"cpus"`
	// Memory is the startup memory (0: as the original VM).
	Memory Size `toml:"memory"`
	// StartedWhen and StartTimeout say when the VM counts as started, so
	// the next group may start, and how long to wait (see started.go).
	StartedWhen  string   `toml:"started_when"`
	StartTimeout Duration `toml:"start_timeout"`
	Disks        []Disk   `toml:"disk"`
	// TestPorts are TCP ports a test failback checks from the host once
	// the test VM runs (its service answers).
	TestPorts []int `toml:"test_ports"`
}

// Disk pairs one of the Azure VM's disks with its on-premises image. The
// Azure disk is a managed disk found in the VM's storage profile (OS, or
// a data disk by LUN), or a page blob named by Blob (an unmanaged disk).
type Disk struct {
	// OS marks the VM's OS disk.
	OS bool `toml:"os"`
	// LUN is a data disk's logical unit number in the Azure VM.
	LUN *int `toml:"lun"`
	// Blob is "container/path/name.vhd" in the storage account: an
	// unmanaged disk (a page blob holding a fixed VHD).
	Blob string `toml:"blob"`
	// Image is the on-premises image as the host names it.
	Image string `toml:"image"`
	// AlternateFolder is the host folder for this disk at an alternate
	// location (default: that host's vm_folder).
	AlternateFolder string `toml:"alternate_folder"`
}

// Plan is a recovery plan: groups of VMs started in order.
type Plan struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
	// Groups are started one after the other; VMs within one group together.
	Groups [][]string `toml:"groups"`
}

// Disk kinds, as Disk.Kind reports them.
const (
	DiskManaged  = "managed"
	DiskPageBlob = "page-blob"
)

// Kind says how the Azure disk is found: a page blob by name, or a
// managed disk by its place in the VM's storage profile.
func (d *Disk) Kind() string {
	if d.Blob != "" {
		return DiskPageBlob
	}
	return DiskManaged
}

// Slot names the disk's place in the Azure VM: "OS disk", "LUN 2", or the
// blob's name.
func (d *Disk) Slot() string {
	switch {
	case d.Blob != "":
		return d.Blob
	case d.OS:
		return "OS disk"
	case d.LUN != nil:
		return "LUN " + strconv.Itoa(*d.LUN)
	}
	return "disk"
}

// ResourceGroupOf is the Azure VM's resource group.
func (c *Config) ResourceGroupOf(vm *VM) string {
	if vm.ResourceGroup != "" {
		return vm.ResourceGroup
	}
	return c.Azure.ResourceGroup
}

// UsesPageBlobs reports whether any disk is a page blob, so the storage
// account is needed.
func (c *Config) UsesPageBlobs() bool {
	for _, vm := range c.VMs {
		for _, d := range vm.Disks {
			if d.Blob != "" {
				return true
			}
		}
	}
	return false
}

// VM returns the VM named name, or nil.
func (c *Config) VM(name string) *VM {
	for i := range c.VMs {
		if c.VMs[i].Name == name {
			return &c.VMs[i]
		}
	}
	return nil
}

// Host returns the host named name, or nil.
func (c *Config) Host(name string) *Host {
	for i := range c.Hosts {
		if c.Hosts[i].Name == name {
			return &c.Hosts[i]
		}
	}
	return nil
}

// Plan returns the plan named name, or nil.
func (c *Config) Plan(name string) *Plan {
	for i := range c.Plans {
		if c.Plans[i].Name == name {
			return &c.Plans[i]
		}
	}
	return nil
}

// Site returns the site named name, or nil.
func (c *Config) Site(name string) *Site {
	for i := range c.Sites {
		if c.Sites[i].Name == name {
			return &c.Sites[i]
		}
	}
	return nil
}

// VMs lists the plan's VM names in start order.
func (p *Plan) VMs() []string {
	var out []string
	for _, g := range p.Groups {
		out = append(out, g...)
	}
	return out
}
