package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
)

// envName is what an environment variable name may look like.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// resolveSecrets fills every Secret field X from X_env or X_file when one
// of them is given. It runs after resolvePaths, so X_file is absolute
// (dir is the config file's folder, which relative values were joined to).
func (c *Config) resolveSecrets(dir string) (ps Problems) {
	var inline []string
	defer func() { ps = append(ps, c.secretPermissions(inline)...) }()
	walk(reflect.ValueOf(c).Elem(), "", func(f field) {
		if f.sf.Type != secretType {
			return
		}
		name := tomlName(f.sf)
		table := parentPath(f.path)
		envV, envOK := siblingString(f.parent, name+"_env")
		fileV, fileOK := siblingString(f.parent, name+"_file")
		if !envOK || !fileOK {
			return // Every Secret has both siblings; a test guards it.
		}
		secret := f.v.Addr().Interface().(*Secret)
		var set []string
		if secret.IsSet() {
			set = append(set, name)
			if !publicSecret(secret.Reveal()) {
				inline = append(inline, join(table, name))
			}
		}
		if envV != "" {
			set = append(set, name+"_env")
		}
		if fileV != "" {
			set = append(set, name+"_file")
		}
		if len(set) > 1 {
			ps = append(ps, Problem{
				Path: join(table, set[1]),
				Msg:  fmt.Sprintf("%s are all set; they are ways to give the same secret", strings.Join(set, " and ")),
				Fix:  fmt.Sprintf("keep only one of %s, %s_env and %s_file", name, name, name),
			})
			return
		}
		switch {
		case envV != "" && !envName.MatchString(envV):
			// Not a variable name: most likely the secret itself pasted
			// into the wrong key. Never repeat it.
			ps = append(ps, Problem{
				Path: join(table, name+"_env"),
				Msg:  fmt.Sprintf("%s_env is not an environment variable name (letters, digits and _, not starting with a digit); its value is not shown in case it is the secret itself", name),
				Fix:  fmt.Sprintf("write the variable's name, e.g. %s_env = \"FAILBACK_%s\"; if you pasted the secret here, put it in %s_file instead and change it if this file was shared", name, strings.ToUpper(name), name),
			})
		case envV != "":
			v, ok := os.LookupEnv(envV)
			switch {
			case !ok:
				ps = append(ps, Problem{
					Path: join(table, name+"_env"),
					Msg:  fmt.Sprintf("environment variable %s (for %s) is not set", envV, name),
					Fix:  fmt.Sprintf("set %s in failback's environment, or use %s_file = \"path\" instead", envV, name),
				})
			case strings.TrimSpace(v) == "":
				ps = append(ps, Problem{
					Path: join(table, name+"_env"),
					Msg:  fmt.Sprintf("environment variable %s (for %s) is empty", envV, name),
					Fix:  fmt.Sprintf("give %s the secret's value", envV),
				})
			default:
				*secret = NewSecret(v)
			}
		case fileV != "":
			b, err := os.ReadFile(fileV)
			v := strings.TrimRight(string(b), "\r\n")
			switch {
			case err != nil && looksLikeSecret(written(dir, fileV)):
				// Most likely the secret itself pasted as the path: never
				// repeat it.
				ps = append(ps, Problem{
					Path: join(table, name+"_file"),
					Msg:  fmt.Sprintf("cannot read the %s_file value (for %s): %v; the value is not shown because it looks like a secret (a key, SAS or connection string), not a path", name, name, unwrapPathErr(err)),
					Fix:  fmt.Sprintf("%s_file takes the path of a file holding the secret; if you pasted the secret here, put it in such a file (or use %s_env) and change the secret if this file was shared", name, name),
				})
			case err != nil:
				ps = append(ps, Problem{
					Path: join(table, name+"_file"),
					Msg:  fmt.Sprintf("cannot read %s (for %s): %v", fileV, name, unwrapPathErr(err)),
					Fix:  "create the file with the secret on its first line, readable by the user running failback",
				})
			case strings.TrimSpace(v) == "":
				ps = append(ps, Problem{
					Path: join(table, name+"_file"),
					Msg:  fmt.Sprintf("%s (for %s) is empty", fileV, name),
					Fix:  "write the secret into the file",
				})
			default:
				*secret = NewSecret(v)
				if readableByOthers(fileV) != "" {
					ps = append(ps, permProblem(join(table, name+"_file"), "the "+name+" secret", fileV))
				}
			}
		}
	})
	return ps
}

// written is about what the user wrote for a path that resolvePaths
// joined to dir: the part below dir (the folder's own name says nothing
// about the value), else the whole path.
func written(dir, path string) string {
	if dir != "" {
		if rel, err := filepath.Rel(dir, path); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return rel
		}
	}
	return path
}

// looksLikeSecret says whether a _file value looks like a credential
// rather than a path: '=' or ';' (SAS tokens, account keys' padding,
// connection strings), or a long run of key-like characters (letters
// and digits mixed, base64 or hex) as one path component. Paths rarely
// look like that; a false alarm only hides the path from one message.
func looksLikeSecret(v string) bool {
	if strings.ContainsAny(v, "=;") {
		return true
	}
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == '/' || r == '\\' }) {
		if len(part) >= 32 && keyLike.MatchString(part) && strings.ContainsAny(part, "0123456789") &&
			strings.ContainsAny(strings.ToLower(part), "abcdefghijklmnopqrstuvwxyz") {
			return true
		}
	}
	return false
}

// keyLike is a run of base64, base64url or hex characters.
var keyLike = regexp.MustCompile(`^[A-Za-z0-9+_-]+$`)

// siblingString returns the string field keyed key in the struct v.
func siblingString(v reflect.Value, key string) (string, bool) {
	sf, ok := fieldByKey(v.Type(), key)
	if !ok || sf.Type.Kind() != reflect.String {
		return "", false
	}
	return v.FieldByIndex(sf.Index).String(), true
}

// unwrapPathErr drops the path an *os.PathError repeats.
func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
