package agent

import (
	"net/http"
	"strings"
	"testing"
)

// Attack: with no allow-list, names crafted to steer the storage URL
// (c=vhds?comp=list, c=vhds/../secret, a blob "../x") reached storage,
// and one returned another container's snapshot. Each is refused with 400
// before storage is asked anything, and the agent said at start that it
// serves every container.
func TestAgentRefusesNamesOutsideAzureRules(t *testing.T) {
	st := newStorage(t, nil)
	d := newDisk(t, st, 4*mib)
	snap := d.snapshot(t)
	rec := newMethodRecorder()
	a := startAgent(t, newStorage(t, rec), ServerOptions{}, nil)
	if !strings.Contains(a.logs.String(), "no container allow-list: every container of the storage account is served") {
		t.Errorf("an agent without --container did not say it serves every container:\n%s", a.logs.String())
	}
	auth := "Bearer " + testToken
	for _, ref := range []snapRef{
		{d.container + "?comp=list", d.name, snap},
		{d.container + "/../secret", d.name, snap},
		{"..", d.name, snap},
		{strings.ToUpper(d.container), d.name, snap},
		{"-" + d.container, d.name, snap},
		{"vh--ds", d.name, snap},
		{d.container, "../" + d.container + "/" + d.name, snap},
		{d.container, "a/./" + d.name, snap},
		{d.container, d.name + "/", snap},
		{d.container, d.name + "\x1b[2J", snap},
		{d.container, `disks\` + d.name, snap},
		{d.container, d.name, snap + "&comp=list"},
		{d.container, d.name, "latest"},
	} {
		code, body := rawGet(t, a, pathSnapshot+"?"+ref.query().Encode(), auth)
		if code != http.StatusBadRequest {
			t.Errorf("c=%q b=%q s=%q: HTTP %d (%q), want 400", ref.container, ref.blob, ref.snapshot, code, body)
		}
	}
	if n := len(rec.counts()); n != 0 {
		t.Fatalf("refused names reached storage: %v", rec.counts())
	}
	// The real names still work (the rules refuse nothing Azure allows).
	if code, body := rawGet(t, a, pathSnapshot+"?"+snapRef{d.container, d.name, snap}.query().Encode(), auth); code != http.StatusOK {
		t.Fatalf("a valid request: HTTP %d %q", code, body)
	}
}

func TestNameRules(t *testing.T) {
	for _, ok := range []string{"vhds", "abc", "a-b-c", "$root", strings.Repeat("a", 63), "0disks9"} {
		if err := checkContainer(ok); err != nil {
			t.Errorf("container %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"ab", strings.Repeat("a", 64), "a_b", "ab-", "$logs", "a b", "vhds%2F..%2Fx"} {
		if checkContainer(bad) == nil {
			t.Errorf("container %q accepted", bad)
		}
	}
	for _, ok := range []string{"web01-os.vhd", "vm/disks/data 1.vhd", "ünïcode.vhd", "a..b.vhd"} {
		if err := checkBlob(ok); err != nil {
			t.Errorf("blob %q: %v", ok, err)
		}
	}
	if checkBlob(strings.Repeat("a/", 254)+"b") == nil {
		t.Error("a blob name of 255 segments accepted")
	}
	if err := checkSnapshot("2025-05-12T09:00:00.1234567Z"); err != nil {
		t.Error(err)
	}
}
