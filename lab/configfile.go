package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/failback/failback/config"
	"github.com/failback/failback/internal/azurite"
)

// ConfigFile is the lab's config.toml inside the lab folder.
const ConfigFile = "config.toml"

// Folders inside the lab folder, as config.toml names them (relative paths
// resolve against config.toml's folder).
const (
	stateDirName = "state"
	certDirName  = "certs"
	computeDir   = "azure/vms"
	armDir       = "azure/arm"
	hostsDir     = "hosts"
)

// trimShare is the share of the Azure VMs' writes that are trims.
const trimShare = 0.05

// configText writes the lab's config.toml. It is text, not an encoded
// config.Config, because the config package keeps secrets (the connection
// string) out of anything it encodes; Azurite's key is public anyway.
// Managed disks are named by their place in the VM (os, lun), as a real
// configuration names them; app01's disk by its page blob.
func configText(m *Manifest) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# failback lab: written by 'failback lab up'; 'failback lab down' removes it.")
	w("# Azure is the lab's: an ARM endpoint on 127.0.0.1:%d (managed disks, snapshots,", m.ARMPort)
	w("# VMs, NICs) and a storage account (Azurite, reached through a blob front on")
	w("# 127.0.0.1:%d). The Azure VMs keep writing to their disks until they are shut", m.FrontPort)
	w("# down. The Hyper-V hosts are folders under %s.", tomlString(filepath.Join(m.Dir, hostsDir)))
	w("")
	w("state_dir = %s", tomlString(stateDirName))
	w("certificates_dir = %s", tomlString(certDirName))
	w("")
	w("[azure]")
	w("site_name = %s", tomlString("Azure (lab)"))
	w("compute = %s", tomlString(config.ComputeARM))
	w("subscription_id = %s", tomlString(m.SubscriptionID))
	w("resource_group = %s", tomlString(m.ResourceGroup))
	w("# A loopback http:// endpoint is the lab's: failback sends it the lab token.")
	w("arm_endpoint = %s", tomlString(m.ARMEndpoint()))
	w("operation_timeout = \"2m\"")
	w("stop = \"power-off\"")
	w("sas_duration = \"1h\"")
	w("")
	w("# The storage account of app01's page blobs (its retry settings also apply to")
	w("# reading the managed disks' snapshots): Azurite through the lab's blob front,")
	w("# which answers snapshot diffs as Azure does, cleared pages included.")
	w("[azure.storage]")
	w("# Azurite's well-known development account (a public constant, not a secret).")
	w("connection_string = %s", tomlString(azurite.ConnectionString(m.FrontPort)))
	w("retries = 3")
	w("retry_delay = \"200ms\"")
	w("max_retry_delay = \"5s\"")
	w("try_timeout = \"1m\"")
	w("")
	w("# Commit deletes the Azure VMs, their NICs and public IPs, and keeps their")
	w("# managed disks (even web01's OS disk, which is set to go with its VM).")
	w("[commit]")
	w("delete_disks = false")
	w("")
	w("[engine]")
	w("block_size = \"1M\"")
	w("threads = 4")
	w("verify = true")
	w("")
	w("# The VMs keep writing, so each catch-up pass has a little to move.")
	w("[engine.catch_up]")
	w("max_passes = 2")
	w("stop_below = \"16M\"")
	w("")
	w("[reverse]")
	w("interval = \"1m\"")
	w("keep_recovery_points = 4")
	w("")
	w("# The console over SSH for watchers: the console lab up opens serves it")
	w("# here, as does 'failback serve --config this-file'. The host key is kept")
	w("# outside the lab folder, so ssh knows the lab again after lab down and up.")
	w("[ssh]")
	w("listen = %s", tomlString(sshListen))
	w("host_key = %s", tomlString(m.hostKey()))
	w("authorized_keys = %s", tomlString(authorizedKeysFile))
	w("")
	w("[[site]]")
	w("name = \"lab-datacenter\"")
	w("description = %s", tomlString("Lab Hyper-V hosts (folders under "+filepath.Join(m.Dir, hostsDir)+")"))
	for _, h := range m.Hosts {
		w("")
		w("# %s", h.Role)
		w("[[host]]")
		w("name = %s", tomlString(h.Name))
		w("site = \"lab-datacenter\"")
		w("transport = %s", tomlString(config.TransportLab))
		w("lab_dir = %s", tomlString(h.Dir))
		w("shutdown_timeout = \"30s\"")
		w("vm_folder = %s", tomlString(filepath.Join(m.Path(h.Dir), "disks")))
	}
	for _, v := range m.VMs {
		w("")
		w("[[vm]]")
		w("name = %s", tomlString(v.Name))
		w("host = %s", tomlString(v.HostOf()))
		w("switch = %s", tomlString(SwitchName))
		w("generation = %d", v.Generation)
		w("cpus = %d", v.CPUs)
		w("memory = %s", tomlString(fmt.Sprintf("%dG", v.Memory>>30)))
		for _, d := range v.Disks {
			w("")
			w("[[vm.disk]]")
			switch {
			case d.Managed == "":
				w("# An unmanaged disk: a page blob in [azure.storage].")
				w("blob = %s", tomlString(d.Blob))
			case d.OS:
				w("os = true")
			default:
				w("lun = %d", d.LUN)
			}
			w("image = %s", tomlString(d.Image))
		}
	}
	for _, p := range []struct{ name, desc string }{
		{PlanTier1, "The database first, then the web servers"},
		{PlanTier2, "The application servers (app01's disk is encrypted: pick the lab certificate)"},
	} {
		var groups []string
		for _, g := range planGroups(m.VMs, p.name) {
			var names []string
			for _, n := range g {
				names = append(names, tomlString(n))
			}
			groups = append(groups, "["+strings.Join(names, ", ")+"]")
		}
		w("")
		w("[[plan]]")
		w("name = %s", tomlString(p.name))
		w("description = %s", tomlString(p.desc))
		w("groups = [%s]", strings.Join(groups, ", "))
	}
	return b.String()
}

// tomlString quotes s for TOML: a literal string when it can be one (no
// escapes to think about), else a basic string.
func tomlString(s string) string {
	if !strings.ContainsAny(s, "'\n\r\t") {
		return "'" + s + "'"
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// writeConfig writes config.toml and loads it back through config.Load,
// so a lab never hands out a configuration failback would refuse.
func writeConfig(m *Manifest) (string, error) {
	if err := writeAuthorizedKeys(m.Path(authorizedKeysFile)); err != nil {
		return "", err
	}
	p := m.Path(m.Config)
	if err := os.WriteFile(p, []byte(configText(m)), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	c, err := config.Load(p)
	if err != nil {
		return "", fmt.Errorf("the lab wrote a config that does not load (a bug in the lab): %w", err)
	}
	if len(c.Warnings) > 0 {
		return "", fmt.Errorf("the lab wrote a config with warnings (a bug in the lab): %w", c.Warnings)
	}
	return p, nil
}
