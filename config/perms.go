package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Secrets other users of this machine can read are warned about (not
// refused: the operator may have reasons, and failback cannot fix a
// group's membership): the config file when it holds a secret written
// inline, each *_file secret, each host's SSH key_file, and the key and
// PFX files of the certificates folder. Windows is not checked (ACLs,
// not modes, protect files there).

// readableByOthers returns a warning's text when others may read or
// write path, else "".
func readableByOthers(path string) string {
	if runtime.GOOS == "windows" {
		return ""
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o077 == 0 {
		return ""
	}
	who := "other users can read it"
	if st.Mode().Perm()&0o044 == 0 {
		who = "other users can write it"
	}
	return fmt.Sprintf("%s is mode %04o: %s", path, st.Mode().Perm(), who)
}

func permProblem(path, what, file string) Problem {
	return Problem{Path: path, Warning: true,
		Msg: fmt.Sprintf("%s holds %s and %s", file, what, strings.TrimPrefix(readableByOthers(file), file+" ")),
		Fix: fmt.Sprintf("run chmod 600 %s (and keep it owned by the user running failback)", file)}
}

// secretPermissions warns about readable secrets; inline are the paths of
// the secrets written in the config file itself.
func (c *Config) secretPermissions(inline []string) Problems {
	var ps Problems
	if len(inline) > 0 && c.File != "" && readableByOthers(c.File) != "" {
		p := permProblem(inline[0], "secrets written inline ("+strings.Join(inline, ", ")+")", c.File)
		p.Fix += ", or move the secrets to _file or _env keys"
		ps = append(ps, p)
	}
	for i, h := range c.Hosts {
		if h.KeyFile != "" && readableByOthers(h.KeyFile) != "" {
			ps = append(ps, permProblem(fmt.Sprintf("host[%d].key_file", i), "an SSH private key", h.KeyFile))
		}
	}
	if c.CertificatesDir != "" {
		ents, _ := os.ReadDir(c.CertificatesDir)
		for _, e := range ents {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".pfx", ".p12", ".key", ".pem":
				if f := filepath.Join(c.CertificatesDir, e.Name()); e.Type().IsRegular() && readableByOthers(f) != "" {
					ps = append(ps, permProblem("certificates_dir", "a certificate's private key (if it has one)", f))
				}
			}
		}
	}
	return ps
}

// publicSecret says whether a value only looks like a secret: Azurite's
// well-known development connection string opens nothing real.
func publicSecret(v string) bool {
	return strings.EqualFold(strings.TrimSpace(v), "UseDevelopmentStorage=true")
}
