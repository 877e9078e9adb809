package sshsrv

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/failback/failback/workflow"
)

func asExit(err error, target **gossh.ExitError) bool { return errors.As(err, target) }

// The host key is created once, private, and reused.
func TestHostKeyPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "host")
	a, err := hostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("host key mode %04o, want 0600", st.Mode().Perm())
	}
	b, err := hostKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if gossh.FingerprintSHA256(a.PublicKey()) != gossh.FingerprintSHA256(b.PublicKey()) {
		t.Error("a second start made a new host key")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := hostKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable host key: %v, want a refusal saying chmod 600", err)
	}
}

func TestAuthorizedKeysRoles(t *testing.T) {
	op, vw := newSigner(t), newSigner(t)
	good := "# comment\n\n" + authLine("operator", op, "alice@laptop") +
		`role="viewer",no-port-forwarding ` + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(vw.PublicKey()))) + "\n"
	a, bad := parseAuthorized("keys", []byte(good))
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	if e, ok := a.lookup(op.PublicKey()); !ok || e.role != workflow.RoleOperator || e.name != "alice@laptop" {
		t.Errorf("operator entry %+v %v", e, ok)
	}
	if e, ok := a.lookup(vw.PublicKey()); !ok || e.role != workflow.RoleViewer || !strings.HasPrefix(e.name, "SHA256:") {
		t.Errorf("viewer entry %+v %v (a key without comment is named by its fingerprint)", e, ok)
	}
	if _, ok := a.lookup(newSigner(t).PublicKey()); ok {
		t.Error("an unknown key was found")
	}

	key := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(op.PublicKey())))
	for _, bad := range []struct{ line, want string }{
		{key + " alice\n", "keys:1: no role"},
		{"role=admin " + key + "\n", `keys:1: unknown role "admin"`},
		{"\nrole=viewer,role=operator " + key + "\n", "keys:2: option role given twice"},
		{"role=viewer ssh-ed25519 notbase64\n", "keys:1: not an authorized_keys line"},
	} {
		a, errs := parseAuthorized("keys", []byte(bad.line))
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), bad.want) {
			t.Errorf("%q: errors %v, want %q", bad.line, errs, bad.want)
		}
		if len(a.entries) != 0 {
			t.Errorf("%q: a refused line grants %+v", bad.line, a.entries)
		}
	}
}

// A key removed from the file is refused from then on, without restart.
func TestKeyFileReloads(t *testing.T) {
	op := newSigner(t)
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(authLine("operator", op, "alice")), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := newKeyFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.lookup(op.PublicKey()); !ok {
		t.Fatal("key not found")
	}
	if err := os.WriteFile(path, []byte("# nobody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.lookup(op.PublicKey()); ok {
		t.Error("a removed key still authorizes")
	}
}

// from= patterns: wildcards, CIDR, negation, IPv6 and IPv4-mapped
// clients; host names (no DNS) refused. expiry-time= in OpenSSH's forms.
func TestKeyOptions(t *testing.T) {
	tcp := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	for _, c := range []struct {
		pattern, addr string
		ok            bool
	}{
		{"10.1.*", "10.1.2.3:22", true},
		{"10.1.*", "10.2.2.3:22", false},
		{"10.0.0.0/8,!10.9.0.0/16", "10.9.1.1:22", false},
		{"10.0.0.0/8,!10.9.0.0/16", "10.8.1.1:22", true},
		{"192.168.1.?", "[::ffff:192.168.1.7]:22", true},
		{"fd00::/8", "[fd00::1]:22", true},
		{"FD00::*", "[fd00::1]:22", true},
		{"!127.0.0.1", "127.0.0.1:22", false},
	} {
		l, err := parseSources(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if got := l.allows(tcp(c.addr)); got != c.ok {
			t.Errorf("from=%q, client %s: allowed %v, want %v", c.pattern, c.addr, got, c.ok)
		}
	}
	for _, bad := range []string{"*.example.com", "10.0.0.0/40", "10.1.*,,10.2.*"} {
		if _, err := parseSources(bad); err == nil {
			t.Errorf("from=%q accepted", bad)
		}
	}
	for _, c := range []struct {
		v    string
		want time.Time
	}{
		{"20261231Z", time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)},
		{"202612311530Z", time.Date(2026, 12, 31, 15, 30, 0, 0, time.UTC)},
		{"20261231153045Z", time.Date(2026, 12, 31, 15, 30, 45, 0, time.UTC)},
		{"20261231", time.Date(2026, 12, 31, 0, 0, 0, 0, time.Local)},
	} {
		if got, err := parseExpiry(c.v); err != nil || !got.Equal(c.want) {
			t.Errorf("expiry-time=%s: %v %v, want %v", c.v, got, err, c.want)
		}
	}
	for _, bad := range []string{"2026-12-31", "20261331", "tomorrow"} {
		if _, err := parseExpiry(bad); err == nil {
			t.Errorf("expiry-time=%s accepted", bad)
		}
	}
	if _, err := parseOptions([]string{"role=operator", "restrict", "no-port-forwarding", "permitopen=\"x:1\""}); err == nil ||
		!strings.Contains(err.Error(), "option permitopen is not implemented") {
		t.Errorf("permitopen: %v", err)
	}
}
