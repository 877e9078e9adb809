package config

import (
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// checker collects problems; each rule names the schema path it is about,
// and Load turns paths into file:line:col.
type checker struct {
	c  *Config
	ps Problems
}

func (k *checker) bad(path, fix, format string, args ...any) {
	k.ps = append(k.ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...), Fix: fix})
}

func (k *checker) warn(path, fix, format string, args ...any) {
	k.ps = append(k.ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...), Fix: fix, Warning: true})
}

// check runs every rule and returns all problems found.
func (c *Config) check() Problems {
	k := &checker{c: c}
	k.unparsed()
	k.azure()
	k.storage()
	k.engine()
	k.reverse()
	k.ssh()
	k.agent()
	k.certificates()
	k.sites()
	k.hosts()
	k.vms()
	k.plans()
	return k.ps
}

// unparsed reports sizes and durations whose text did not parse.
func (k *checker) unparsed() {
	walk(reflect.ValueOf(k.c).Elem(), "", func(f field) {
		switch v := f.v.Interface().(type) {
		case Size:
			if !v.valid() {
				k.bad(f.path, `write bytes (1048576) or a number with K, M, G or T (1024-based), e.g. "4G"`,
					"%s = %q is not a size", tomlName(f.sf), v.text)
			}
		case Duration:
			if !v.valid() {
				k.bad(f.path, `write e.g. "90s", "15m" or "1h30m" (or a number of seconds)`,
					"%s = %q is not a duration", tomlName(f.sf), v.text)
			}
		}
	})
}

var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (k *checker) azure() {
	a := &k.c.Azure
	if strings.TrimSpace(a.SiteName) == "" {
		k.bad("azure.site_name", `write e.g. site_name = "Azure West Europe"`, "azure.site_name is empty")
	}
	switch a.Compute {
	case ComputeARM:
		if a.SubscriptionID == "" {
			k.bad("azure", `add subscription_id = "00000000-0000-0000-0000-000000000000" (az account show --query id)`,
				"[azure] has no subscription_id, which compute = \"arm\" needs")
		} else if !guid.MatchString(a.SubscriptionID) {
			k.bad("azure.subscription_id", "write the subscription's ID (a GUID, az account show --query id), not its name",
				"subscription_id %q is not a subscription ID", a.SubscriptionID)
		}
		if a.ResourceGroup == "" && !k.everyVMHasGroup() {
			k.bad("azure", `add resource_group = "NAME", the group holding the failed-over VMs (or resource_group in every [[vm]])`,
				"[azure] has no resource_group, which compute = \"arm\" needs")
		}
		if a.ARMEndpoint != "" {
			k.checkURL("azure.arm_endpoint", a.ARMEndpoint, true)
		}
		if a.LabDir != "" {
			k.warn("azure.lab_dir", "remove it, or set compute = \"lab\"", "azure.lab_dir is ignored with compute = \"arm\"")
		}
	case ComputeLab:
		if a.LabDir == "" {
			k.bad("azure", `add lab_dir = "lab/azure" (the lab compute's state folder)`,
				"[azure] has no lab_dir, which compute = \"lab\" needs")
		}
	default:
		k.bad("azure.compute", enumFix(a.Compute, ComputeARM, ComputeLab),
			"compute = %q is not a compute back end", a.Compute)
	}
	if a.OperationTimeout.D() <= 0 && a.OperationTimeout.valid() {
		k.bad("azure.operation_timeout", `write e.g. operation_timeout = "10m"`, "azure.operation_timeout must be more than zero")
	}
	if a.Stop != StopPowerOff && a.Stop != StopDeallocate {
		k.bad("azure.stop", enumFix(a.Stop, StopPowerOff, StopDeallocate)+`: "power-off" keeps the VMs allocated for a quick Undo, "deallocate" stops their compute billing`,
			"stop = %q is not a way to stop the Azure VMs", a.Stop)
	}
	if d := a.SASDuration.D(); a.SASDuration.valid() && (d < 5*time.Minute || d > 24*time.Hour) {
		k.bad("azure.sas_duration", `write from "5m" to "24h", e.g. "1h" (a pass renews its grant before it ends)`,
			"sas_duration = %s is out of range", a.SASDuration)
	}
	if g := a.SnapshotResourceGroup; g != "" && !validGroup(g) {
		k.bad("azure.snapshot_resource_group", "resource group names are 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.'",
			"snapshot_resource_group %q is not a resource group name", g)
	}
}

// everyVMHasGroup reports whether every [[vm]] names its resource group.
func (k *checker) everyVMHasGroup() bool {
	for _, vm := range k.c.VMs {
		if vm.ResourceGroup == "" {
			return false
		}
	}
	return len(k.c.VMs) > 0
}

var groupName = regexp.MustCompile(`^[-\w._()]{1,90}$`)

// validGroup reports whether g is an Azure resource group name.
func validGroup(g string) bool { return groupName.MatchString(g) && !strings.HasSuffix(g, ".") }

// enumFix suggests the closest allowed value and lists them all.
func enumFix(got string, allowed ...string) string {
	list := `"` + strings.Join(allowed, `", "`) + `"`
	if got == "" {
		return "write one of " + list
	}
	if s := didYouMean(got, allowed); s != "" {
		return s + " (one of " + list + ")"
	}
	return "write one of " + list
}

// Account is the storage account name: AccountName, else the first label
// of AccountURL's host, else (an IP or localhost, as with Azurite) the
// URL's first path segment.
func (s *Storage) Account() string {
	if s.AccountName != "" {
		return s.AccountName
	}
	u, err := url.Parse(s.AccountURL)
	if err != nil || u.Host == "" {
		return ""
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil || host == "localhost" {
		seg, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
		return seg
	}
	name, _, _ := strings.Cut(host, ".")
	return name
}

func (k *checker) storage() {
	k.storageAt("azure.storage", &k.c.Azure.Storage, k.c.UsesPageBlobs(), "the page-blob disks (blob = ...) need")
	if r := &k.c.Reverse.Storage; r.Configured() || r.AccountURL != "" {
		k.storageAt("reverse.storage", r, true, "the replicas of reverse replication need")
	}
}

// storageAt checks one storage account's section at path; required says
// the configuration needs the account (why says for what).
func (k *checker) storageAt(path string, s *Storage, required bool, why string) {
	table := "[" + path + "]"
	var ways []string
	for _, w := range []struct {
		name string
		set  bool
	}{
		{AuthConnectionString, k.secretGiven(s.ConnectionString, s.ConnectionStringEnv, s.ConnectionStringFile)},
		{AuthAccountKey, k.secretGiven(s.AccountKey, s.AccountKeyEnv, s.AccountKeyFile)},
		{AuthSAS, k.secretGiven(s.SAS, s.SASEnv, s.SASFile)},
		{AuthEntraID, s.EntraID},
	} {
		if w.set {
			ways = append(ways, w.name)
		}
	}
	switch len(ways) {
	case 0:
		if !required {
			return // managed disks only: no storage account is needed
		}
		k.bad(path, "set one of connection_string, account_key, sas or entra_id = true (the last three with account_url)",
			"%s says no way to authenticate to the storage account, which %s", table, why)
	case 1:
	default:
		k.bad(path, "keep only one of them", "%s sets %s: choose one way to authenticate", table, strings.Join(ways, " and "))
	}
	needsURL := len(ways) == 1 && ways[0] != AuthConnectionString
	switch {
	case s.AccountURL == "" && needsURL:
		k.bad(path, `add account_url = "https://NAME.blob.core.windows.net"`,
			"%s has no account_url, which %s needs", table, ways[0])
	case s.AccountURL != "" && len(ways) == 1 && ways[0] == AuthConnectionString:
		k.warn(path+".account_url", "remove account_url", "account_url is ignored: the connection string names the endpoint")
	case s.AccountURL != "":
		k.checkURL(path+".account_url", s.AccountURL, true)
	}
	if len(ways) == 1 && ways[0] == AuthAccountKey && s.AccountURL != "" && s.Account() == "" {
		k.bad(path, `add account_name = "NAME"`, "the storage account's name cannot be read from account_url")
	}
	if s.SAS.IsSet() && !strings.Contains(s.SAS.Reveal(), "sig=") {
		k.bad(secretPath(path, "sas", s.SASEnv, s.SASFile), "paste the whole SAS query string (sv=...&sig=...)",
			"the SAS token has no sig= part")
	}
	if s.Retries < 0 || s.Retries > 20 {
		k.bad(path+".retries", "write a number from 0 to 20 (default 5)", "retries = %d is out of range", s.Retries)
	}
	if s.RetryDelay.valid() && s.RetryDelay.D() <= 0 {
		k.bad(path+".retry_delay", `write e.g. "2s"`, "retry_delay must be more than zero")
	}
	if s.MaxRetryDelay.valid() && s.MaxRetryDelay.D() < s.RetryDelay.D() {
		k.bad(path+".max_retry_delay", fmt.Sprintf("write at least %s", s.RetryDelay), "max_retry_delay is less than retry_delay")
	}
	if s.TryTimeout.valid() && s.TryTimeout.D().Seconds() < 1 {
		k.bad(path+".try_timeout", `write e.g. "2m"`, "try_timeout must be at least one second")
	}
}

// where names the place of path for "also at ..." remarks: "line 12",
// or the path itself when the Config was not loaded from a file.
func (k *checker) where(path string) string {
	if p, ok := k.c.pos.at(path); ok {
		return fmt.Sprintf("line %d", p.Line)
	}
	return path
}

// secretGiven reports whether a secret is given in any of its three ways
// (a bad _env or _file is reported on its own).
func (k *checker) secretGiven(s Secret, env, file string) bool {
	return s.IsSet() || env != "" || file != ""
}

// secretPath is the key a secret came from, for pointing at it.
func secretPath(table, name, env, file string) string {
	switch {
	case env != "":
		return join(table, name+"_env")
	case file != "":
		return join(table, name+"_file")
	}
	return join(table, name)
}

// checkURL checks an http(s) URL; plain http only on loopback (Azurite).
// Credentials have keys of their own: a URL carrying a query (a SAS
// token) or a password is refused, and never printed whole.
func (k *checker) checkURL(path, raw string, httpLoopback bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		k.bad(path, `write a full URL, e.g. "https://NAME.blob.core.windows.net"`, "%q is not an http(s) URL", safeURL(raw))
		return
	}
	if u.RawQuery != "" || u.ForceQuery {
		fix := "keep only scheme, host and path"
		if strings.HasSuffix(path, "storage.account_url") {
			fix = `keep only "https://NAME.blob.core.windows.net" and give the SAS token (the part after "?") as sas_env or sas_file`
		}
		k.bad(path, fix, "%q carries a query; a SAS token or other credential must not sit in a URL (it would show in logs)", safeURL(raw))
	}
	if _, ok := u.User.Password(); ok {
		k.bad(path, "remove the user and password from the URL", "%q carries a password", safeURL(raw))
	}
	if u.Scheme == "http" {
		ip := net.ParseIP(u.Hostname())
		loop := u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())
		if !httpLoopback || !loop {
			k.bad(path, "use https://", "%q is plain http, which is allowed only to this machine (loopback)", safeURL(raw))
		}
	}
}

// safeURL is raw for messages: the query (where a SAS signature lives) and
// any password replaced.
func safeURL(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i] + "?" + redacted
	}
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
			return strings.Replace(u.String(), url.QueryEscape(redacted), redacted, 1)
		}
	}
	return raw
}

func (k *checker) engine() {
	e := &k.c.Engine
	if e.BlockSize.valid() {
		if problem := BlockSizeProblem(e.BlockSize.Bytes()); problem != "" {
			k.bad("engine.block_size", BlockSizeFix, "block_size = %s %s", e.BlockSize, problem)
		}
	}
	if e.Threads < 1 || e.Threads > 32 {
		k.bad("engine.threads", "write a number from 1 to 32 (default 8)", "threads = %d is out of range", e.Threads)
	}
	if e.ParallelDisks < 1 || e.ParallelDisks > 64 {
		k.bad("engine.parallel_disks", "write a number from 1 to 64 (default 2)", "parallel_disks = %d is out of range", e.ParallelDisks)
	}
	if bl := e.BandwidthLimit.Bytes(); bl > 0 && bl < 64<<10 {
		k.warn("engine.bandwidth_limit", `it is bytes per second: write e.g. "100M", or 0 for no limit`,
			"bandwidth_limit = %s per second is very low", e.BandwidthLimit)
	}
	if e.CatchUp.MaxPasses < 0 || e.CatchUp.MaxPasses > 20 {
		k.bad("engine.catch_up.max_passes", "write a number from 0 (no catch-up) to 20", "max_passes = %d is out of range", e.CatchUp.MaxPasses)
	}
	if d := e.DowntimeRetry.D(); e.DowntimeRetry.valid() && (d < 0 || d > 24*time.Hour) {
		k.bad("engine.downtime_retry", `write from "0s" (stop at the first failure) to "24h", e.g. "15m"`,
			"downtime_retry = %s is out of range", e.DowntimeRetry)
	}
}

func (k *checker) reverse() {
	r := &k.c.Reverse
	if r.Interval.valid() && r.Interval.D().Seconds() < 60 {
		k.bad("reverse.interval", `write at least "1m", e.g. "15m"`, "reverse.interval = %s is shorter than a minute", r.Interval)
	}
	if r.KeepRecoveryPoints < 1 || r.KeepRecoveryPoints > 1000 {
		k.bad("reverse.keep_recovery_points", "write a number from 1 to 1000", "keep_recovery_points = %d is out of range", r.KeepRecoveryPoints)
	}
	if r.ReplicaContainer != "" && !validContainer(r.ReplicaContainer) {
		k.bad("reverse.replica_container", "container names are 3-63 lowercase letters, digits and single hyphens", "replica_container %q is not a container name", r.ReplicaContainer)
	}
}

// hostPort checks "host:port" (host may be empty: every address).
func hostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536
}

func (k *checker) ssh() {
	s := &k.c.SSH
	if !hostPort(s.Listen) {
		k.bad("ssh.listen", `write host:port, e.g. "127.0.0.1:2222", or ":2222" for every address`, "ssh.listen = %q is not host:port", s.Listen)
	}
}

var hexOnly = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func (k *checker) agent() {
	a := &k.c.Agent
	if a.URL == "" {
		if a.CertFingerprint != "" || a.CertFile != "" || k.secretGiven(a.Token, a.TokenEnv, a.TokenFile) {
			k.bad("agent", `add url = "https://agent.example.com:8443", or remove [agent] to read blobs directly`, "[agent] has settings but no url")
		}
		return
	}
	k.checkURL("agent.url", a.URL, false)
	if u, err := url.Parse(a.URL); err == nil && u.Scheme == "http" {
		return // already reported: the agent always speaks TLS
	}
	switch {
	case a.CertFingerprint == "" && a.CertFile == "":
		k.bad("agent", `add cert_fingerprint = "SHA-256 of the agent's certificate" or cert_file = "agent.pem"`,
			"[agent] pins no certificate")
	case a.CertFingerprint != "" && a.CertFile != "":
		k.bad("agent.cert_file", "keep only one of cert_fingerprint and cert_file", "[agent] pins its certificate twice")
	case a.CertFingerprint != "":
		fp := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(a.CertFingerprint), "sha256:"), ":", "")
		if !hexOnly.MatchString(fp) {
			k.bad("agent.cert_fingerprint", "write the certificate's SHA-256 in hex (64 digits, colons allowed), as failback agent prints it",
				"cert_fingerprint is not a SHA-256 fingerprint")
		}
	}
	if !k.secretGiven(a.Token, a.TokenEnv, a.TokenFile) {
		k.bad("agent", `add token_env = "FAILBACK_AGENT_TOKEN" (or token_file)`, "[agent] has no token")
	}
}

func (k *checker) certificates() {
	seen := map[string]int{}
	for i, c := range k.c.Certificates {
		p := fmt.Sprintf("certificate[%d]", i)
		if c.File == "" {
			k.bad(p, `add file = "tenant.pfx"`, "[[certificate]] %d has no file", i+1)
			continue
		}
		low := strings.ToLower(c.File)
		if !strings.HasSuffix(low, ".pfx") && !strings.HasSuffix(low, ".p12") {
			k.bad(p+".file", "only PFX files (.pfx, .p12) need an entry; PEM files in certificates_dir are found without one",
				"%s is not a PFX file", c.File)
		}
		if j, dup := seen[low]; dup {
			k.bad(p+".file", "remove one of the two entries", "%s is listed twice (also %s)", c.File, k.where(fmt.Sprintf("certificate[%d]", j)))
		}
		seen[low] = i
	}
}
