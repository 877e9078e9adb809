package safetext

import "reflect"

// maxDepth bounds Value's walk: views are shallow, and a cycle must not
// hang a console.
const maxDepth = 32

// Value returns v with Clean applied to every string it holds in exported
// fields, slices, arrays, maps (keys too), pointers and interfaces, at any
// depth: a view from the workflow made safe in one call. v itself is never
// changed; parts that hold no string to escape are shared with the copy,
// and when nothing needs escaping v is returned as it is. Unexported
// fields are copied untouched (nothing outside a package reads them).
func Value[T any](v T) T {
	rv := reflect.ValueOf(&v).Elem()
	if out, changed := clean(rv, 0); changed {
		return out.Interface().(T)
	}
	return v
}

// clean returns v's cleaned copy and true, or v and false when nothing in
// it needs escaping.
func clean(v reflect.Value, depth int) (reflect.Value, bool) {
	if depth > maxDepth {
		return v, false
	}
	t := v.Type()
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if Safe(s) {
			return v, false
		}
		out := reflect.New(t).Elem()
		out.SetString(Clean(s))
		return out, true
	case reflect.Struct:
		var out reflect.Value
		for i := 0; i < t.NumField(); i++ {
			if !t.Field(i).IsExported() {
				continue
			}
			fv, changed := clean(v.Field(i), depth+1)
			if !changed {
				continue
			}
			if !out.IsValid() {
				out = reflect.New(t).Elem()
				out.Set(v)
			}
			out.Field(i).Set(fv)
		}
		return out, out.IsValid()
	case reflect.Pointer:
		if v.IsNil() {
			return v, false
		}
		ev, changed := clean(v.Elem(), depth+1)
		if !changed {
			return v, false
		}
		out := reflect.New(t.Elem())
		out.Elem().Set(ev)
		return out, true
	case reflect.Interface:
		if v.IsNil() {
			return v, false
		}
		ev, changed := clean(v.Elem(), depth+1)
		if !changed {
			return v, false
		}
		out := reflect.New(t).Elem()
		out.Set(ev)
		return out, true
	case reflect.Slice, reflect.Array:
		return cleanList(v, depth)
	case reflect.Map:
		return cleanMap(v, depth)
	}
	return v, false
}

func cleanList(v reflect.Value, depth int) (reflect.Value, bool) {
	if v.Kind() == reflect.Slice && v.IsNil() {
		return v, false
	}
	var out reflect.Value
	for i := 0; i < v.Len(); i++ {
		ev, changed := clean(v.Index(i), depth+1)
		if !changed {
			continue
		}
		if !out.IsValid() {
			if v.Kind() == reflect.Slice {
				out = reflect.MakeSlice(v.Type(), v.Len(), v.Len())
				reflect.Copy(out, v)
			} else {
				out = reflect.New(v.Type()).Elem()
				out.Set(v)
			}
		}
		out.Index(i).Set(ev)
	}
	return out, out.IsValid()
}

func cleanMap(v reflect.Value, depth int) (reflect.Value, bool) {
	if v.IsNil() {
		return v, false
	}
	type kv struct{ k, v reflect.Value }
	var all []kv
	changed := false
	it := v.MapRange()
	for it.Next() {
		k, kc := clean(it.Key(), depth+1)
		e, ec := clean(it.Value(), depth+1)
		changed = changed || kc || ec
		all = append(all, kv{k, e})
	}
	if !changed {
		return v, false
	}
	out := reflect.MakeMapWithSize(v.Type(), len(all))
	for _, p := range all {
		out.SetMapIndex(p.k, p.v)
	}
	return out, true
}
