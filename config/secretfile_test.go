package config

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSecretPastedAsFilePathIsNotRepeated: a SAS, an account key, a
// connection string or a long token pasted into password_file (where a
// path belongs) is reported at its line as "the password_file value",
// never repeated, neither whole nor in part; an ordinary missing path is
// still named.
func TestSecretPastedAsFilePathIsNotRepeated(t *testing.T) {
	const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	for name, pasted := range map[string]string{
		"SAS":               "sv=2022-11-02&ss=b&srt=co&sp=rl&se=2026-12-31T00:00:00Z&sig=TOPSECRETsig0123456789abcdef%3D",
		"account key":       key,
		"connection string": "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=" + key + ";EndpointSuffix=core.windows.net",
		"hex token":         "3f9a6c0e1b7d4a2f8e5c9b0a1d3e7f6c2b4a8d9e",
	} {
		t.Run(name, func(t *testing.T) {
			text := azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, `password_file = "`+pasted+`" #<`, 1)
			ps, _ := loadProblems(t, text)
			p, ok := findProblem(ps, markedLine(text), "cannot read the password_file value (for password)")
			if !ok {
				t.Fatalf("not reported at its line:\n%v", ps)
			}
			if !strings.Contains(p.Fix, "path of a file holding the secret") {
				t.Errorf("fix: %q", p.Fix)
			}
			b, _ := json.Marshal(ps)
			all := ps.Error() + string(b)
			for _, part := range []string{pasted, "TOPSECRET", "Eby8vdM02", "KBHBeksoGMGw", "3f9a6c0e1b7d"} {
				if strings.Contains(pasted, part) && strings.Contains(all, part) {
					t.Fatalf("the pasted secret shows (%q):\n%s", part, all)
				}
			}
		})
	}

	text := azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, `password_file = "secrets/hv01-admin.pw" #<`, 1)
	ps, _ := loadProblems(t, text)
	if _, ok := findProblem(ps, markedLine(text), "hv01-admin.pw (for password)"); !ok {
		t.Fatalf("an ordinary missing path is not named:\n%v", ps)
	}
}

func TestLooksLikeSecret(t *testing.T) {
	for v, want := range map[string]bool{
		"/etc/failback/secrets/hv01.pw":                        false,
		`C:\ProgramData\failback\storage-key.txt`:              false,
		"/home/ops/.config/failback/very-long-but-plain-name":  false,
		"/etc/failback/a=b":                                    true,
		"/etc/failback/x;y":                                    true,
		"/etc/failback/0123456789abcdef0123456789abcdef":       true,
		"/etc/failback/fb_agent_token_Q2hhbmdlTWUyMDI2X2Zvcg_": true,
	} {
		if got := looksLikeSecret(v); got != want {
			t.Errorf("looksLikeSecret(%q) = %v, want %v", v, got, want)
		}
	}
}
