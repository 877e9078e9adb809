package cli

import (
	"strings"
	"testing"
)

// A lab host's mover is this program, started as a child process: check
// starts it and says what it is and where its journals go; the dry run's
// pre-flight checks it too; install has nothing to copy there.
func TestMoverCheckStartsTheLabMovers(t *testing.T) {
	l := oneVMLab(t)
	out, errOut, code := wfCLI(t, l, "mover", "check")
	state := l.Cfg.Host("hv01").MoverStateDir()
	if code != 0 || !strings.Contains(out, "hv01: mover ") || !strings.Contains(out, "answers; journals in "+state) {
		t.Fatalf("mover check: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = wfCLI(t, l, "run", "--vm", "files", "--sync", "delta", "--dry-run")
	if code != 0 || !strings.Contains(out+errOut, "mover on hv01") {
		t.Fatalf("dry run without the mover row: exit %d\n%s%s", code, out, errOut)
	}
	_, errOut, code = wfCLI(t, l, "mover", "install", "--host", "hv01")
	if code != 1 || !strings.Contains(errOut, "nothing to install") {
		t.Fatalf("install on a lab host: exit %d\n%s", code, errOut)
	}
	_, errOut, code = wfCLI(t, l, "mover", "install")
	if code != 2 || !strings.Contains(errOut, "--host") {
		t.Fatalf("install without a host: exit %d\n%s", code, errOut)
	}
}
