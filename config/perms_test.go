//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Attack: another user of the machine reads the config file holding a
// password inline, a password file, the hosts' SSH key or a certificate's
// private key. Each is warned about, naming the file, its mode and the
// chmod that fixes it; once fixed, nothing is said.
func TestReadableSecretsAreWarnedAbout(t *testing.T) {
	text := azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, `key_file = "id_ed25519"
password = "hunter2-hunter2"`, 1) + `
[agent]
url = "https://agent.example.com"
cert_fingerprint = "` + strings.Repeat("ab", 32) + `"
token_file = "agent.token"
` + vmWeb01 + planWeb
	path := writeConfig(t, text)
	dir := filepath.Dir(path)
	for name, content := range map[string]string{"agent.token": "0123456789abcdef0123", "id_ed25519": "key"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	certs := filepath.Join(dir, "certificates")
	if err := os.Mkdir(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, "disk.pfx"), []byte("pfx"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	all := c.Warnings.Error()
	for _, want := range []string{
		path + " holds secrets written inline (host[0].password) and is mode 0644: other users can read it",
		"chmod 600 " + path,
		"agent.token holds the token secret and is mode 0644",
		"id_ed25519 holds an SSH private key and is mode 0644",
		"disk.pfx holds a certificate's private key (if it has one) and is mode 0640",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning %q in:\n%s", want, all)
		}
	}
	if strings.Contains(all, "hunter2") {
		t.Fatal("a warning repeats the secret")
	}
	for _, p := range []string{path, filepath.Join(dir, "agent.token"), filepath.Join(dir, "id_ed25519"), filepath.Join(certs, "disk.pfx")} {
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if c, err = Load(path); err != nil || len(c.Warnings) != 0 {
		t.Fatalf("after chmod 600: %v %v", err, c.Warnings)
	}
}
