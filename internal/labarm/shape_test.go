package labarm

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// shape is the allowed key paths of one resource kind and their JSON
// types, and the paths that must be there (testdata/shapes/KIND.txt).
type shape struct {
	allowed  map[string]string
	required []string
}

func loadShape(t *testing.T, kind string) shape {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "shapes", kind+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sh := shape{allowed: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if i := strings.Index(line, "#"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			t.Fatalf("%s.txt: bad line %q (want: [!]path type)", kind, line)
		}
		p, req := strings.CutPrefix(fields[0], "!")
		sh.allowed[p] = fields[1]
		if req {
			sh.required = append(sh.required, p)
		}
	}
	return sh
}

// flatten lists the key paths of a JSON value with their types: leaves
// and arrays ("[]" marks an element), tags' keys as "*".
func flatten(prefix string, v any, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 && prefix != "" {
			out[prefix] = "object"
		}
		for k, c := range x {
			if prefix == "tags" {
				k = "*"
			}
			flatten(join(k), c, out)
		}
	case []any:
		out[prefix] = "array"
		for _, c := range x {
			flatten(prefix+"[]", c, out)
		}
	case string:
		out[prefix] = "string"
	case float64:
		out[prefix] = "number"
	case bool:
		out[prefix] = "bool"
	case nil:
		out[prefix] = "null"
	}
}

// checkShape fails when the lab's JSON has a key path or type Azure's
// example does not, or lacks one failback reads.
func checkShape(t *testing.T, kind string, doc map[string]any) {
	t.Helper()
	if bad := shapeDiff(loadShape(t, kind), doc); len(bad) > 0 {
		t.Errorf("%s: the lab's JSON drifts from the shape Azure sends (testdata/shapes/%s.txt):\n  %s", kind, kind, strings.Join(bad, "\n  "))
	}
}

// shapeDiff lists what of doc the shape does not allow, and what it
// requires that doc lacks.
func shapeDiff(sh shape, doc map[string]any) []string {
	got := map[string]string{}
	flatten("", doc, got)
	var bad []string
	for p, typ := range got {
		if want, ok := sh.allowed[p]; !ok || want != typ {
			bad = append(bad, p+" "+typ)
		}
	}
	for _, p := range sh.required {
		if _, ok := got[p]; !ok {
			bad = append(bad, "missing "+p)
		}
	}
	sort.Strings(bad)
	return bad
}

// TestShapeDiffCatchesDrift: a key Azure never sends, a wrong type and a
// missing path failback reads are each caught.
func TestShapeDiffCatchesDrift(t *testing.T) {
	sh := loadShape(t, "disk")
	doc := map[string]any{"id": "x", "name": "d", "location": "l", "sku": map[string]any{"name": "Premium_LRS"},
		"tags": map[string]any{"a": "b"}, "properties": map[string]any{"diskSizeBytes": "1", "diskState": "Unattached",
			"uniqueId": "u", "timeCreated": "t", "creationData": map[string]any{"createOption": "Empty"}, "diskSizeInBytes": 1.0}}
	bad := strings.Join(shapeDiff(sh, doc), ";")
	for _, want := range []string{"properties.diskSizeBytes string", "properties.diskSizeInBytes number"} {
		if !strings.Contains(bad, want) {
			t.Errorf("drift %q not caught: %s", want, bad)
		}
	}
	delete(doc, "id")
	if bad := strings.Join(shapeDiff(sh, doc), ";"); !strings.Contains(bad, "missing id") {
		t.Errorf("a missing id is not caught: %s", bad)
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	return m
}

// TestShapesMatchAzureExamples compares every kind of answer the lab
// gives with the key paths of Azure's published examples.
func TestShapesMatchAzureExamples(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.PageSize = 1 })
	labVM(t, e, "shape")
	if err := e.srv.SetDataAccessAuthMode(e.rg, "shape-data", "AzureActiveDirectory"); err != nil {
		t.Fatal(err)
	}
	get := func(kind, path string) map[string]any {
		t.Helper()
		status, b, _ := e.do("GET", path, nil)
		if status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, b)
		}
		return decode(t, b)
	}
	checkShape(t, "disk", get("disk", e.path("Microsoft.Compute/disks", "shape-data", apiDisks)))

	diskID := e.srv.resourceID(e.rg, "Microsoft.Compute/disks", "shape-data")
	put := map[string]any{"location": "westeurope", "tags": map[string]string{"createdby": "failback"},
		"properties": map[string]any{"incremental": true, "creationData": map[string]any{"createOption": "Copy", "sourceResourceId": diskID}}}
	status, b, h := e.do("PUT", e.path("Microsoft.Compute/snapshots", "shape-snap", apiDisks), put)
	if status != 202 || h.Get("Azure-AsyncOperation") == "" || h.Get("Location") == "" || h.Get("Retry-After") == "" {
		t.Fatalf("snapshot PUT: %d %v %s", status, h, b)
	}
	checkShape(t, "snapshot", decode(t, b))
	checkShape(t, "operation", get("operation", h.Get("Azure-AsyncOperation")))

	status, _, h = e.do("POST", e.srv.resourceID(e.rg, "Microsoft.Compute/snapshots", "shape-snap")+"/beginGetAccess?api-version="+apiDisks,
		map[string]any{"access": "Read", "durationInSeconds": 60})
	if status != 202 {
		t.Fatalf("beginGetAccess: %d", status)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		status, b, _ = e.do("GET", h.Get("Location"), nil)
		if status != 202 || time.Now().After(deadline) {
			break
		}
	}
	if status != 200 {
		t.Fatalf("grant result at Location: %d %s", status, b)
	}
	checkShape(t, "accessuri", decode(t, b))
	checkShape(t, "snapshot", get("snapshot", e.path("Microsoft.Compute/snapshots", "shape-snap", apiDisks)))

	vm := get("vm", e.path("Microsoft.Compute/virtualMachines", "shape", apiCompute)+"&$expand=instanceView")
	props := vm["properties"].(map[string]any)
	iv, ok := props["instanceView"].(map[string]any)
	if !ok {
		t.Fatal("$expand=instanceView gave no properties.instanceView")
	}
	delete(props, "instanceView")
	checkShape(t, "vm", vm)
	checkShape(t, "instanceview", iv)
	checkShape(t, "instanceview", get("instanceview", e.srv.resourceID(e.rg, "Microsoft.Compute/virtualMachines", "shape")+"/instanceView?api-version="+apiCompute))
	checkShape(t, "nic", get("nic", e.path("Microsoft.Network/networkInterfaces", "shape-nic", apiNetwork)))
	checkShape(t, "pip", get("pip", e.path("Microsoft.Network/publicIPAddresses", "shape-ip", apiNetwork)))

	list := get("list", e.srv.resourceID(e.rg, "Microsoft.Compute/disks", "")+"?api-version="+apiDisks)
	if len(list) != 2 || list["nextLink"] == nil || len(list["value"].([]any)) != 1 {
		t.Errorf("a list page is {value, nextLink}: %v", list)
	}
	status, b, _ = e.do("GET", e.path("Microsoft.Compute/disks", "missing", apiDisks), nil)
	errDoc := map[string]string{}
	flat := map[string]string{}
	flatten("", decode(t, b), flat)
	for p := range flat {
		errDoc[p] = flat[p]
	}
	if status != 404 || len(errDoc) != 2 || errDoc["error.code"] != "string" || errDoc["error.message"] != "string" {
		t.Errorf("an error is {\"error\":{\"code\",\"message\"}}: %d %s", status, b)
	}
}
