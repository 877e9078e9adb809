package config

import (
	"reflect"
	"strconv"
	"strings"
)

var (
	secretType   = reflect.TypeFor[Secret]()
	sizeType     = reflect.TypeFor[Size]()
	durationType = reflect.TypeFor[Duration]()
)

// tomlName is a field's key, or "" for fields not in the file.
func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// isLeaf reports whether t is written as one value rather than a table.
func isLeaf(t reflect.Type) bool {
	switch t {
	case secretType, sizeType, durationType:
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		return false
	case reflect.Slice:
		return t.Elem().Kind() != reflect.Struct
	}
	return true
}

// field is one schema field reached by walk.
type field struct {
	path   string              // concrete path, e.g. host[1].password
	sf     reflect.StructField // its declaration
	v      reflect.Value       // settable value
	parent reflect.Value       // the struct holding it
}

// walk calls fn for every leaf field under v (a struct), depth first in
// declaration order, with concrete paths.
func walk(v reflect.Value, path string, fn func(field)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name := tomlName(sf)
		if name == "" {
			continue
		}
		fv := v.Field(i)
		p := join(path, name)
		switch {
		case isLeaf(sf.Type):
			fn(field{path: p, sf: sf, v: fv, parent: v})
		case sf.Type.Kind() == reflect.Struct:
			walk(fv, p, fn)
		case sf.Type.Kind() == reflect.Slice:
			for j := 0; j < fv.Len(); j++ {
				walk(fv.Index(j), p+"["+strconv.Itoa(j)+"]", fn)
			}
		}
	}
}

// schemaKeys lists the keys allowed directly under the index-free path
// (e.g. "host.path_map"), or nil when path names no table of the schema.
func schemaKeys(path string) []string {
	t := reflect.TypeFor[Config]()
	if path != "" {
		for _, part := range strings.Split(path, ".") {
			sf, ok := fieldByKey(t, part)
			if !ok {
				return nil
			}
			t = sf.Type
			if t.Kind() == reflect.Slice {
				t = t.Elem()
			}
			if t.Kind() != reflect.Struct || isLeaf(t) {
				return nil
			}
		}
	}
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if n := tomlName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// schemaType is the Go type of the index-free key path, or nil.
func schemaType(path string) reflect.Type {
	t := reflect.TypeFor[Config]()
	for i, part := range strings.Split(path, ".") {
		if t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || (i > 0 && isLeaf(t)) {
			return nil
		}
		sf, ok := fieldByKey(t, part)
		if !ok {
			return nil
		}
		t = sf.Type
	}
	return t
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if tomlName(t.Field(i)) == key {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// SchemaKeys lists every key of the schema as an index-free dotted path
// ("host.path_map.local"), tables included, in declaration order. The
// example test uses it so config.toml.example cannot fall behind.
func SchemaKeys() []string {
	var out []string
	var rec func(t reflect.Type, path string)
	rec = func(t reflect.Type, path string) {
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			name := tomlName(sf)
			if name == "" {
				continue
			}
			p := join(path, name)
			out = append(out, p)
			if isLeaf(sf.Type) {
				continue
			}
			et := sf.Type
			if et.Kind() == reflect.Slice {
				et = et.Elem()
			}
			rec(et, p)
		}
	}
	rec(reflect.TypeFor[Config](), "")
	return out
}
