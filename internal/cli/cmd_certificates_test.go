package cli

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/crypt"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// The pre-flight's fix for an encrypted disk names 'failback
// certificates': it exists, lists the store with what --cert takes, and
// with --vm says which certificate each encrypted disk needs.
func TestCertificatesListsTheStoreAndWhatTheDisksNeed(t *testing.T) {
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{{Name: "sql", Disks: []int64{1 << 20}, Encrypted: true}}})
	// A certificate without its key, and a PFX no password opens.
	other := labtest.NewCert(t, t.TempDir(), "other-cert")
	certOnly := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.X509.Raw})
	if err := os.WriteFile(filepath.Join(l.CertsDir, "nokey.pem"), certOnly, 0o644); err != nil {
		t.Fatal(err)
	}
	pfx, err := os.ReadFile(filepath.Join("..", "..", "crypt", "testdata", "aes256.pfx"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(l.CertsDir, "tenant.pfx"), pfx, 0o600); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := wfCLI(t, l, "certificates")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "THUMBPRINT") || !strings.Contains(lines[0], "EXPIRES") || !strings.Contains(lines[0], "KEY") {
		t.Fatalf("header: %q", lines[0])
	}
	for _, want := range [][]string{
		{l.Cert.Thumbprint, "CN=lab-cert", l.Cert.X509.NotAfter.UTC().Format("2006-01-02"), "usable", "lab-cert.pem"},
		{other.Thumbprint, "CN=other-cert", "no private key", "nokey.pem"},
		{"locked: give the PFX password in a [[certificate]] entry", "tenant.pfx"},
	} {
		if !hasLineWithAll(out, want) {
			t.Errorf("no line with all of %q in:\n%s", want, out)
		}
	}
	out, _, code = wfCLI(t, l, "certificates", "--json")
	var list []crypt.CertInfo
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 3 {
		t.Fatalf("--json (exit %d): %s", code, out)
	}

	out, errOut, code = wfCLI(t, l, "certificates", "--vm", "sql")
	if code != 0 {
		t.Fatalf("--vm sql: exit %d\n%s", code, errOut)
	}
	if !hasLineWithAll(out, []string{l.Cert.Thumbprint, "usable", "yes"}) || !hasLineWithAll(out, []string{other.Thumbprint, "no"}) ||
		!strings.Contains(out, "needs certificate "+l.Cert.Thumbprint) {
		t.Fatalf("--vm sql:\n%s", out)
	}
	out, _, code = wfCLI(t, l, "certificates", "--vm", "sql", "--json")
	var rep workflow.CertReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Needed) != 1 || rep.Needed[0] != l.Cert.Thumbprint {
		t.Fatalf("--vm --json (exit %d): %s", code, out)
	}

	if _, errOut, code = wfCLI(t, l, "certificates", "--plan", "nosuch"); code != exitRefused || !strings.Contains(errOut, `no [[plan]] named "nosuch"`) {
		t.Fatalf("unknown plan: exit %d\n%s", code, errOut)
	}
	if _, _, code = wfCLI(t, l, "certificates", "extra"); code != exitUsage {
		t.Fatalf("an argument: exit %d", code)
	}
}

func hasLineWithAll(out string, want []string) bool {
	for _, line := range strings.Split(out, "\n") {
		all := true
		for _, w := range want {
			all = all && strings.Contains(line, w)
		}
		if all {
			return true
		}
	}
	return false
}
