package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const topSecret = "hunter2-TOP-SECRET"

// TestSecretNeverPrints proves every way of printing or encoding a Secret
// hides its value, and Reveal still returns it.
func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(topSecret)
	holder := struct {
		Password Secret
		P        *Secret
		hidden   Secret // fmt cannot call methods on unexported fields
	}{s, &s, s}
	outs := map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%q": fmt.Sprintf("%q", s),
		"%x": fmt.Sprintf("%x", s), "%X": fmt.Sprintf("%X", s), "%#v": fmt.Sprintf("%#v", s),
		"%+v struct": fmt.Sprintf("%+v", holder), "%#v struct": fmt.Sprintf("%#v", holder),
		"%d": fmt.Sprintf("%d", s), "String": s.String(), "GoString": s.GoString(),
	}
	j, _ := json.Marshal(holder)
	outs["json"] = string(j)
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(map[string]Secret{"password": s}); err != nil {
		t.Fatal(err)
	}
	outs["toml"] = b.String()
	for how, out := range outs {
		if strings.Contains(out, topSecret) || strings.Contains(out, fmt.Sprintf("%x", topSecret)) {
			t.Errorf("%s shows the secret: %s", how, out)
		}
		if how != "%+v struct" && how != "%#v struct" && !strings.Contains(out, redacted) {
			t.Errorf("%s does not say it is redacted: %s", how, out)
		}
	}
	if s.Reveal() != topSecret {
		t.Error("Reveal lost the value")
	}
	if NewSecret("").String() != "" {
		t.Error("an unset secret should print as empty, not as redacted")
	}
}

// TestSecretFromEnv proves X_env fills the secret from the environment.
func TestSecretFromEnv(t *testing.T) {
	t.Setenv("FB_TEST_PW", topSecret)
	text := azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, `password_env = "FB_TEST_PW"`, 1)
	c := loadOK(t, text)
	if got := c.Hosts[0].Password.Reveal(); got != topSecret {
		t.Errorf("password = %q", got)
	}
}

// TestSecretFromUnsetEnvNamesTheVariable proves an unset variable is an
// error that names it, at the _env key's line.
func TestSecretFromUnsetEnvNamesTheVariable(t *testing.T) {
	os.Unsetenv("FB_TEST_UNSET_VAR")
	text := azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, `password_env = "FB_TEST_UNSET_VAR" #<`, 1)
	ps, _ := loadProblems(t, text)
	p, ok := findProblem(ps, markedLine(text), "environment variable FB_TEST_UNSET_VAR (for password) is not set")
	if !ok {
		t.Fatalf("no problem naming the variable at its line:\n%v", ps)
	}
	if !strings.Contains(p.Fix, "password_file") {
		t.Errorf("fix should offer password_file: %q", p.Fix)
	}
	// The missing secret is not reported a second time as "no password".
	for _, q := range ps {
		if strings.Contains(q.Msg, "neither key_file nor password") {
			t.Errorf("double report: %s", q.Error())
		}
	}
}

// TestSecretFromFile proves X_file reads the first line (trailing newline
// dropped), relative to the config file's folder.
func TestSecretFromFile(t *testing.T) {
	text := azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, `password_file = "secrets/hv01.pw"`, 1)
	path := writeConfig(t, text)
	dir := filepath.Join(filepath.Dir(path), "secrets")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hv01.pw"), []byte(topSecret+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Hosts[0].Password.Reveal(); got != topSecret {
		t.Errorf("password = %q", got)
	}
}

// TestSecretFromMissingOrEmptyFile proves an unreadable or empty secret
// file is reported at its key.
func TestSecretFromMissingOrEmptyFile(t *testing.T) {
	text := azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, `password_file = "nope.pw" #<`, 1)
	ps, _ := loadProblems(t, text)
	if _, ok := findProblem(ps, markedLine(text), "cannot read"); !ok {
		t.Fatalf("missing file not reported at its line:\n%v", ps)
	}

	text = strings.Replace(text, "nope.pw", "empty.pw", 1)
	path := writeConfig(t, text)
	os.WriteFile(filepath.Join(filepath.Dir(path), "empty.pw"), []byte("\n"), 0o600)
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), "empty.pw (for password) is empty") {
		t.Fatalf("empty file: %v", err)
	}
}

// TestEverySecretHasEnvAndFile proves each Secret field X has X_env and
// X_file string siblings, so the three ways work for every secret.
func TestEverySecretHasEnvAndFile(t *testing.T) {
	var rec func(t2 reflect.Type)
	n := 0
	rec = func(t2 reflect.Type) {
		for i := 0; i < t2.NumField(); i++ {
			sf := t2.Field(i)
			switch {
			case sf.Type == secretType:
				n++
				for _, suffix := range []string{"_env", "_file"} {
					sib, ok := fieldByKey(t2, tomlName(sf)+suffix)
					if !ok || sib.Type.Kind() != reflect.String {
						t.Errorf("%s.%s has no string sibling %s%s", t2.Name(), sf.Name, tomlName(sf), suffix)
					}
				}
				if f, _ := fieldByKey(t2, tomlName(sf)+"_file"); f.Tag.Get("cfg") != "path" {
					t.Errorf("%s.%s_file must be tagged cfg:\"path\"", t2.Name(), tomlName(sf))
				}
			case sf.Type.Kind() == reflect.Struct && !isLeaf(sf.Type):
				rec(sf.Type)
			case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct:
				rec(sf.Type.Elem())
			}
		}
	}
	rec(reflect.TypeFor[Config]())
	if n < 7 {
		t.Errorf("found %d secrets, expected at least 7", n)
	}
}

// TestRedactedConfigHasNoSecret proves the whole config, dumped or
// printed, never contains a secret, yet shows the rest.
func TestRedactedConfigHasNoSecret(t *testing.T) {
	secrets := map[string]string{
		"FB_T_CONN": "conn-" + topSecret, "FB_T_PW": "pw-" + topSecret,
		"FB_T_PASS": "pass-" + topSecret, "FB_T_TOKEN": "token-" + topSecret, "FB_T_PFX": "pfx-" + topSecret,
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	text := `
[azure]
compute = "lab"
lab_dir = "lab"
[azure.storage]
connection_string_env = "FB_T_CONN"
[agent]
url = "https://agent.example.com:8443"
cert_file = "agent.pem"
token_env = "FB_T_TOKEN"
[[certificate]]
file = "a.pfx"
password_env = "FB_T_PFX"
` + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, "key_file = \"k\"\npassword_env = \"FB_T_PW\"\nkey_passphrase_env = \"FB_T_PASS\"", 1) + vmWeb01
	c := loadOK(t, text)
	dumps := map[string]string{
		"Redacted": c.Redacted(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", *c),
		"%#v": fmt.Sprintf("%#v", *c),
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	dumps["json"] = string(j)
	for how, d := range dumps {
		if strings.Contains(d, topSecret) {
			t.Errorf("%s contains a secret:\n%s", how, d)
		}
	}
	r := c.Redacted()
	for _, want := range []string{`password = "[redacted]"`, `token = "[redacted]"`, `connection_string = "[redacted]"`,
		`key_passphrase = "[redacted]"`, `name = "web01"`, `block_size = "1M"`, `threads = 8`} {
		if !strings.Contains(r, want) {
			t.Errorf("Redacted lacks %s:\n%s", want, r)
		}
	}
	// And the secrets are really there for the code that needs them.
	if c.Agent.Token.Reveal() != secrets["FB_T_TOKEN"] || c.Certificates[0].Password.Reveal() != secrets["FB_T_PFX"] {
		t.Error("secrets were not resolved")
	}
}

// TestRedactedDumpIsNotASecret proves a value copied from a redacted dump
// (failback config show) is refused at its line instead of being used as
// the password.
func TestRedactedDumpIsNotASecret(t *testing.T) {
	text := azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, `password = "[redacted]" #<`, 1)
	ps, _ := loadProblems(t, text)
	if p, ok := findProblem(ps, markedLine(text), "placeholder"); !ok || strings.Contains(p.Msg, "not valid TOML") {
		t.Fatalf("no problem at the line of the placeholder:\n%v", ps)
	}
}

// TestSyntaxErrorsNeverShowASecret proves a secret written wrongly (no
// quotes, an unclosed quote, a bad escape) is not echoed by the parser's
// complaint, which still points at its line. The parser quotes what it
// found ("expected value but found \"hunter\" instead").
func TestSyntaxErrorsNeverShowASecret(t *testing.T) {
	for _, bad := range []string{
		`password = truexSECRET`,
		`password = hunter2SECRET`,
		`password = 0xSECRET`,
		`password = "hunter2\qSECRET"`,
		`password = hunter2 SECRET`,
		`"password" = truexSECRET`,
		`password="""SECRET\q"""`,
		`key_passphrase = SECRETpass`,
	} {
		text := azureLab + siteDC + strings.Replace(hostSSH, `key_file = "id_ed25519"`, bad+" #<", 1)
		ps, _ := loadProblems(t, text)
		if len(ps) == 0 || ps[0].Line != markedLine(text) {
			t.Errorf("%s: not located at its line: %v", bad, ps)
			continue
		}
		for _, leak := range []string{"SECRET", "hunter", "truex", "0xS", `\q`} {
			if strings.Contains(ps.Error(), leak) {
				t.Errorf("%s: the message shows part of the secret (%s): %v", bad, leak, ps)
			}
		}
	}
	// Other keys keep the parser's quote: it helps.
	text := azureLab + siteDC + strings.Replace(hostSSH, `user = "failback"`, `user = failback #<`, 1)
	ps, _ := loadProblems(t, text)
	if !strings.Contains(ps.Error(), `"failback"`) {
		t.Errorf("a plain key lost the parser's quote: %v", ps)
	}
}

// TestSecretPastedIntoEnvKeyIsNotEchoed proves a secret written where a
// variable name belongs (account_key_env = "<the key>") is refused at its
// line without repeating it.
func TestSecretPastedIntoEnvKeyIsNotEchoed(t *testing.T) {
	const key = "c2VjcmV0LWtleS1UT1BTRUNSRVQ+/w=="
	text := strings.Replace(azureLab, `connection_string = "UseDevelopmentStorage=true"`,
		"account_url = \"https://a.blob.core.windows.net\"\naccount_key_env = \""+key+"\" #<", 1) + siteDC + hostSSH + vmWeb01 + planWeb
	ps, _ := loadProblems(t, text)
	if _, ok := findProblem(ps, markedLine(text), "not an environment variable name"); !ok {
		t.Fatalf("no problem at the line:\n%v", ps)
	}
	if strings.Contains(ps.Error(), "TOPSECRET") || strings.Contains(ps.Error(), key) {
		t.Fatalf("the pasted key shows:\n%v", ps)
	}
}
