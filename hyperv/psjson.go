package hyperv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// PowerShell's ConvertTo-Json has quirks that the types here absorb:
//   - a list of one element may arrive as the element itself, a list of
//     none as null, and Windows PowerShell 5.1 sometimes wraps arrays as
//     {"value":[...],"Count":n} (its System.Array type data);
//   - enums arrive as numbers (both 5.1 and 7 by default) or as names
//     (pwsh -EnumsAsStrings, or our own [string] casts);
//   - dates arrive as "\/Date(1700000000000)\/" (5.1) or ISO 8601 (7).

// psList is a list that accepts all the shapes ConvertTo-Json gives a list.
type psList[T any] []T

// UnmarshalJSON implements json.Unmarshaler.
func (l *psList[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '[':
		var v []T
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*l = v
		return nil
	case len(b) > 0 && b[0] == '{':
		var wrap map[string]json.RawMessage
		if err := json.Unmarshal(b, &wrap); err != nil {
			return err
		}
		if v, ok := wrap["value"]; ok && len(wrap) == 2 && wrap["Count"] != nil {
			var inner []T
			if err := json.Unmarshal(v, &inner); err != nil {
				return err
			}
			*l = inner
			return nil
		}
	}
	var one T
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*l = []T{one}
	return nil
}

// psEnum is an enum value given as a number or a name; it decodes to the
// name through a table of Hyper-V's values.
type psEnum struct {
	Name  string
	Known bool
}

func decodeEnum(b []byte, names map[int]string) (psEnum, error) {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return psEnum{}, nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return psEnum{}, err
		}
		for _, n := range names {
			if strings.EqualFold(n, s) {
				return psEnum{Name: n, Known: true}, nil
			}
		}
		if n, err := strconv.Atoi(s); err == nil {
			if name, ok := names[n]; ok {
				return psEnum{Name: name, Known: true}, nil
			}
		}
		return psEnum{Name: s}, nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return psEnum{}, fmt.Errorf("enum is neither a number nor a name: %s", b)
	}
	if name, ok := names[n]; ok {
		return psEnum{Name: name, Known: true}, nil
	}
	return psEnum{Name: strconv.Itoa(n)}, nil
}

// stateNames is Microsoft.HyperV.PowerShell.VMState. Numbers have differed
// between Windows versions, which is why our scripts also send the name
// (StateName) and the name wins.
var stateNames = map[int]string{
	1: "Other", 2: "Running", 3: "Off", 4: "Stopping", 6: "Saved", 9: "Paused",
	10: "Starting", 11: "Reset", 32773: "Saving", 32776: "Pausing",
	32777: "Resuming", 32779: "FastSaved", 32780: "FastSaving",
	32781: "ForceShutdown", 32782: "ForceReboot", 32783: "Hibernated",
	32784: "ComponentServicing", 32785: "RunningCritical", 32786: "OffCritical",
	32787: "StoppingCritical", 32788: "SavedCritical", 32789: "PausedCritical",
	32790: "StartingCritical", 32791: "ResetCritical", 32792: "SavingCritical",
	32793: "PausingCritical", 32794: "ResumingCritical", 32795: "FastSavedCritical",
	32796: "FastSavingCritical",
}

// controllerNames is Microsoft.HyperV.PowerShell.ControllerType.
var controllerNames = map[int]string{0: "IDE", 1: "SCSI", 2: "PMEM"}

// switchNames is Microsoft.HyperV.PowerShell.VMSwitchType.
var switchNames = map[int]string{0: "Private", 1: "Internal", 2: "External"}

// vhdFormatNames and vhdTypeNames are Microsoft.Vhd.PowerShell.VhdFormat/VhdType.
var (
	vhdFormatNames = map[int]string{0: "Unknown", 1: "Unknown", 2: "VHD", 3: "VHDX", 4: "VHDSet"}
	vhdTypeNames   = map[int]string{0: "Unknown", 1: "Unknown", 2: "Fixed", 3: "Dynamic", 4: "Differencing"}
)

type (
	vmStateEnum    struct{ psEnum }
	controllerEnum struct{ psEnum }
	switchTypeEnum struct{ psEnum }
	vhdFormatEnum  struct{ psEnum }
	vhdTypeEnum    struct{ psEnum }
)

func (e *vmStateEnum) UnmarshalJSON(b []byte) (err error) {
	e.psEnum, err = decodeEnum(b, stateNames)
	return err
}
func (e *controllerEnum) UnmarshalJSON(b []byte) (err error) {
	e.psEnum, err = decodeEnum(b, controllerNames)
	return err
}
func (e *switchTypeEnum) UnmarshalJSON(b []byte) (err error) {
	e.psEnum, err = decodeEnum(b, switchNames)
	return err
}
func (e *vhdFormatEnum) UnmarshalJSON(b []byte) (err error) {
	e.psEnum, err = decodeEnum(b, vhdFormatNames)
	return err
}
func (e *vhdTypeEnum) UnmarshalJSON(b []byte) (err error) {
	e.psEnum, err = decodeEnum(b, vhdTypeNames)
	return err
}

// psDate is a date in either of ConvertTo-Json's forms.
type psDate struct{ time.Time }

var msDate = regexp.MustCompile(`^/Date\((-?\d+)([+-]\d{4})?\)/$`)

// UnmarshalJSON implements json.Unmarshaler.
func (d *psDate) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date is not a string: %s", b)
	}
	if s == nil || *s == "" {
		d.Time = time.Time{}
		return nil
	}
	// encoding/json has already turned "\/" into "/".
	if m := msDate.FindStringSubmatch(*s); m != nil {
		ms, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return fmt.Errorf("bad /Date()/ value %q: %w", *s, err)
		}
		d.Time = time.UnixMilli(ms).UTC()
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		t, err = time.Parse("2006-01-02T15:04:05.9999999", *s)
	}
	if err != nil {
		return fmt.Errorf("unrecognised date %q", *s)
	}
	d.Time = t
	return nil
}

// envelope is what every script prints as its last line: {"ok":...} or
// {"error":{...}}.
type envelope struct {
	OK    json.RawMessage `json:"ok"`
	Error *psError        `json:"error"`
}

// findEnvelope returns the last line of stdout that is our envelope. Other
// lines (a profile's banner, a warning a cmdlet printed despite
// $WarningPreference) are ignored rather than breaking the parse.
func findEnvelope(stdout []byte) (envelope, bool) {
	lines := bytes.Split(stdout, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if !bytes.HasPrefix(l, []byte(`{"ok":`)) && !bytes.HasPrefix(l, []byte(`{"error":`)) {
			continue
		}
		var e envelope
		if json.Unmarshal(l, &e) == nil {
			return e, true
		}
	}
	return envelope{}, false
}
