package hyperv

import (
	"encoding/json"
	"testing"
	"time"
)

func TestPSDateForms(t *testing.T) {
	want := time.UnixMilli(1717579845123)
	for _, s := range []string{`"\/Date(1717579845123)\/"`, `"/Date(1717579845123)/"`, `"\/Date(1717579845123+0200)\/"`, `"2024-06-05T09:30:45.123Z"`, `"2024-06-05T11:30:45.123+02:00"`} {
		var d psDate
		if err := json.Unmarshal([]byte(s), &d); err != nil || !d.Equal(want) {
			t.Errorf("%s: %v %v", s, d.Time, err)
		}
	}
	var d psDate
	if err := json.Unmarshal([]byte(`null`), &d); err != nil || !d.IsZero() {
		t.Errorf("null: %v %v", d, err)
	}
	if err := json.Unmarshal([]byte(`"yesterday"`), &d); err == nil {
		t.Error("garbage accepted")
	}
}

func TestPSListShapes(t *testing.T) {
	for in, n := range map[string]int{`null`: 0, `[]`: 0, `"a"`: 1, `["a","b"]`: 2, `{"value":["a","b","c"],"Count":3}`: 3} {
		var l psList[string]
		if err := json.Unmarshal([]byte(in), &l); err != nil || len(l) != n {
			t.Errorf("%s: %v %v", in, l, err)
		}
	}
	// An object that merely has a "value" key is one element, not a wrapper.
	var l psList[map[string]any]
	if err := json.Unmarshal([]byte(`{"value":[1],"Name":"x"}`), &l); err != nil || len(l) != 1 || l[0]["Name"] != "x" {
		t.Errorf("%v %v", l, err)
	}
}

func TestPSEnumForms(t *testing.T) {
	for in, want := range map[string]string{`2`: "Running", `"Running"`: "Running", `"running"`: "Running", `3`: "Off", `32773`: "Saving", `"2"`: "Running", `99`: "99"} {
		var e vmStateEnum
		if err := json.Unmarshal([]byte(in), &e); err != nil || e.Name != want {
			t.Errorf("%s: %q %v", in, e.Name, err)
		}
	}
	var e vmStateEnum
	if err := json.Unmarshal([]byte(`{"x":1}`), &e); err == nil {
		t.Error("an object accepted as an enum")
	}
}
