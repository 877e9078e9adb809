package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const examplePath = "../config.toml.example"

// exampleEnv sets the variables the example takes its secrets from.
func exampleEnv(t *testing.T) {
	t.Setenv("FAILBACK_STORAGE_KEY", "a2V5")
	t.Setenv("FAILBACK_REPLICA_KEY", "a2V5")
	t.Setenv("FAILBACK_AGENT_TOKEN", "token")
	t.Setenv("FAILBACK_PFX_TENANT_A", "pfx")
	t.Setenv("FAILBACK_HV02_PASSWORD", "pw")
}

// TestExampleLoadsClean proves config.toml.example parses and validates
// without a problem or a warning.
func TestExampleLoadsClean(t *testing.T) {
	exampleEnv(t)
	c, err := Load(examplePath)
	if err != nil {
		t.Fatalf("config.toml.example does not load:\n%v", err)
	}
	if len(c.Warnings) > 0 {
		t.Errorf("config.toml.example has warnings:\n%v", c.Warnings)
	}
	if len(c.VMs) != 3 || len(c.Plans) != 2 || len(c.Hosts) != 2 {
		t.Errorf("example has %d VMs, %d plans, %d hosts", len(c.VMs), len(c.Plans), len(c.Hosts))
	}
	if got := c.Azure.Storage.Account(); got != "failbackdisks" {
		t.Errorf("account name from URL = %q", got)
	}
	dir, _ := filepath.Abs("..")
	if c.StateDir != filepath.Join(dir, "state") {
		t.Errorf("state_dir = %q, want it resolved against the file's folder", c.StateDir)
	}
	if c.Certificates[0].File != filepath.Join(dir, "certificates", "tenant-a.pfx") {
		t.Errorf("certificate file = %q, want it under certificates_dir", c.Certificates[0].File)
	}
	if got, _ := c.Host("hv01.example.com").LocalPath(c.VM("db01").Disks[0].Image); got != filepath.FromSlash("/mnt/hv01/vms/db01/db01-os.vhdx") {
		t.Errorf("db01 os disk writes through %q", got)
	}
}

// TestExampleUsesExampleNames proves the example holds no real-looking
// addresses: every host name is under example.com.
func TestExampleUsesExampleNames(t *testing.T) {
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	hostLike := regexp.MustCompile(`[a-z0-9-]+\.[a-z0-9.-]+\.(com|net|org|io)\b`)
	for _, h := range hostLike.FindAllString(string(b), -1) {
		if !strings.HasSuffix(h, "example.com") && !strings.HasSuffix(h, "core.windows.net") {
			t.Errorf("example names %q; use *.example.com", h)
		}
	}
}

var (
	exHeader = regexp.MustCompile(`^\s*(?:#\s*)?(\[\[?)\s*([a-z_.]+)\s*\]\]?\s*(?:#.*)?$`)
	exKey    = regexp.MustCompile(`^\s*(?:#\s*)?([a-z_]+)\s*=`)
)

// documentedKeys lists the keys the example writes, live or commented out
// ("# sas_env = ..."), as index-free dotted paths. Headers, commented out
// or not, set the table the following keys belong to.
func documentedKeys(text string) map[string]bool {
	out := map[string]bool{}
	table := ""
	for _, line := range strings.Split(text, "\n") {
		if m := exHeader.FindStringSubmatch(line); m != nil {
			table = m[2]
			out[table] = true
			continue
		}
		if m := exKey.FindStringSubmatch(line); m != nil {
			out[join(table, m[1])] = true
		}
	}
	return out
}

// TestExampleDocumentsEveryKey proves every key of the schema (found by
// reflection over the struct tags) appears in config.toml.example, live or
// commented out, so the example cannot fall behind the schema.
func TestExampleDocumentsEveryKey(t *testing.T) {
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	doc := documentedKeys(string(b))
	for _, k := range SchemaKeys() {
		if !doc[k] {
			t.Errorf("config.toml.example does not document %q", k)
		}
	}
	// And it documents nothing the schema lacks (a renamed key).
	known := map[string]bool{}
	for _, k := range SchemaKeys() {
		known[k] = true
	}
	for k := range doc {
		if !known[k] {
			t.Errorf("config.toml.example documents %q, which the schema does not have", k)
		}
	}
}

// TestDocumentedKeysSeesCommentedKeys proves the example check counts
// commented-out keys and follows commented headers, and would notice a
// missing key.
func TestDocumentedKeysSeesCommentedKeys(t *testing.T) {
	doc := documentedKeys("a = 1\n# [agent]\n# token_env = \"X\"\n[[host]]\n  # password_file = \"p\"\n# Just prose = words here\n")
	for _, k := range []string{"a", "agent", "agent.token_env", "host", "host.password_file"} {
		if !doc[k] {
			t.Errorf("missed %q", k)
		}
	}
	if doc["host.Just"] || doc["host.prose"] {
		t.Error("took prose for a key")
	}
}
