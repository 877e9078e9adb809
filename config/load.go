package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads, completes and validates the config file at path. It returns
// a valid Config (its Warnings may be non-empty), or an error: a Problems
// listing everything wrong with file:line, or an I/O error.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load on text already read; file names it in messages, and its
// folder is where relative paths resolve.
func Parse(file string, data []byte) (*Config, error) {
	text := string(data)
	c := Default()
	md, err := toml.Decode(text, c)
	if err != nil {
		return nil, Problems{decodeProblem(file, text, err)}
	}
	c.File = file
	c.pos = scanPositions(text)
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, fmt.Errorf("config folder of %s: %w", file, err)
	}

	ps := c.unknownKeys(md)
	ps = append(ps, c.miscasedKeys(md)...)
	c.applyDefaults()
	c.resolvePaths(dir)
	ps = append(ps, c.resolveSecrets(dir)...)
	ps = append(ps, c.check()...)
	c.place(ps)
	ps.sortByPlace()
	c.Warnings = ps.Warnings()
	if errs := ps.Errors(); len(errs) > 0 {
		return nil, ps
	}
	return c, nil
}

// Validate checks c and returns a Problems of its errors, or nil; it also
// sets c.Warnings. Load has already run it; call it after changing a
// Config in code.
func (c *Config) Validate() error {
	ps := c.check()
	c.place(ps)
	ps.sortByPlace()
	c.Warnings = ps.Warnings()
	if errs := ps.Errors(); len(errs) > 0 {
		return errs
	}
	return nil
}

// place fills each problem's file, line and column from its path.
func (c *Config) place(ps Problems) {
	for i := range ps {
		if ps[i].File == "" {
			ps[i].File = c.File
		}
		if ps[i].Line == 0 {
			if p, ok := c.pos.at(ps[i].Path); ok {
				ps[i].Line, ps[i].Col = p.Line, p.Col
			}
		}
	}
}

// unknownKeys reports every key the schema does not have, at each place it
// is written, with the closest known key as a suggestion.
func (c *Config) unknownKeys(md toml.MetaData) Problems {
	seen := map[string]bool{}
	var ps Problems
	for _, k := range md.Undecoded() {
		// Report the first part the schema lacks: [agnet] once, not each
		// key under it.
		for i := 1; i <= len(k); i++ {
			if schemaType(strings.Join(k[:i], ".")) == nil {
				k = k[:i]
				break
			}
		}
		ks := k.String()
		if seen[ks] {
			continue
		}
		seen[ks] = true
		parent := strings.Join(k[:len(k)-1], ".")
		name := k[len(k)-1]
		fix := didYouMean(name, schemaKeys(parent))
		if fix == "" {
			fix = fmt.Sprintf("remove it; config.toml.example lists the keys of %s", tableLabel(parent))
		}
		found := false
		for path, p := range c.pos {
			if stripIndexes(path) != ks {
				continue
			}
			found = true
			ps = append(ps, Problem{
				Path: path, Line: p.Line, Col: p.Col,
				Msg: fmt.Sprintf("unknown key %q in %s", name, c.describe(parentPath(path))),
				Fix: fix,
			})
		}
		if !found {
			ps = append(ps, Problem{Path: ks, Msg: fmt.Sprintf("unknown key %q in %s", name, tableLabel(parent)), Fix: fix})
		}
	}
	return ps
}

// miscasedKeys warns about keys toml matched without regard to case
// (Threads for threads): they work, but not as documented.
func (c *Config) miscasedKeys(md toml.MetaData) Problems {
	var ps Problems
	seen := map[string]bool{}
	for _, k := range md.Keys() {
		ks := k.String()
		if seen[ks] {
			continue
		}
		seen[ks] = true
		t := reflect.TypeFor[Config]()
		for i, part := range k {
			if t.Kind() == reflect.Slice {
				t = t.Elem()
			}
			if t.Kind() != reflect.Struct || isLeaf(t) {
				break
			}
			sf, ok := fieldByKey(t, part)
			if !ok {
				want := ""
				for j := 0; j < t.NumField(); j++ {
					if n := tomlName(t.Field(j)); n != "" && strings.EqualFold(n, part) {
						want = n
					}
				}
				if want != "" && i == len(k)-1 {
					for path, p := range c.pos {
						if stripIndexes(path) == ks {
							ps = append(ps, Problem{Path: path, Line: p.Line, Col: p.Col, Warning: true,
								Msg: fmt.Sprintf("key %q is written %q in the documentation", part, want),
								Fix: fmt.Sprintf("write %s", want)})
						}
					}
				}
				break
			}
			t = sf.Type
		}
	}
	return ps
}

// tableLabel names an index-free table path as it is written: [engine],
// [[host.path_map]], or "the top level".
func tableLabel(path string) string {
	if path == "" {
		return "the top level"
	}
	t := reflect.TypeFor[Config]()
	array := false
	for _, part := range strings.Split(path, ".") {
		sf, ok := fieldByKey(t, part)
		if !ok {
			return "[" + path + "]"
		}
		t, array = sf.Type, false
		if t.Kind() == reflect.Slice {
			t, array = t.Elem(), true
		}
	}
	if array {
		return "[[" + path + "]]"
	}
	return "[" + path + "]"
}

// describe names a concrete table path for messages: [engine],
// [[host]] "hv01", [[vm.disk]] 2 of vm "web01".
func (c *Config) describe(path string) string {
	if path == "" {
		return "the top level"
	}
	label := tableLabel(stripIndexes(path))
	if !strings.HasSuffix(path, "]") {
		return label
	}
	v := reflect.ValueOf(c).Elem()
	var names []string
	for _, part := range strings.Split(path, ".") {
		key, idx, _ := strings.Cut(part, "[")
		sf, ok := fieldByKey(v.Type(), key)
		if !ok {
			return label
		}
		v = v.FieldByIndex(sf.Index)
		if idx == "" || v.Kind() != reflect.Slice {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(idx, "%d]", &n); err != nil || n < 0 || n >= v.Len() {
			return label
		}
		v = v.Index(n)
		if f := v.FieldByName("Name"); f.IsValid() && f.String() != "" {
			names = append(names, fmt.Sprintf("%s %q", key, f.String()))
		} else {
			names = append(names, fmt.Sprintf("%s %d", key, n+1))
		}
	}
	return label + " (" + strings.Join(names, ", ") + ")"
}

// resolvePaths makes every local path absolute: "~/" is the home folder,
// other relative paths start at dir (the config file's folder); PFX files
// start at the certificates folder.
func (c *Config) resolvePaths(dir string) {
	home, _ := os.UserHomeDir()
	abs := func(p, base string) string {
		switch {
		case p == "":
			return ""
		case (p == "~" || strings.HasPrefix(p, "~/")) && home != "":
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		case filepath.IsAbs(p):
			return filepath.Clean(p)
		}
		return filepath.Join(base, p)
	}
	walk(reflect.ValueOf(c).Elem(), "", func(f field) {
		if f.sf.Tag.Get("cfg") == "path" && f.v.Kind() == reflect.String {
			f.v.SetString(abs(f.v.String(), dir))
		}
	})
	for i := range c.Certificates {
		c.Certificates[i].File = abs(c.Certificates[i].File, c.CertificatesDir)
	}
}
