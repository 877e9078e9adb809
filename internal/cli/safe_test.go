package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/workflow"
)

type hostileLog struct{ workflow.Service }

func (hostileLog) Log(string, int) []workflow.LogLine {
	return []workflow.LogLine{{Time: time.Now(), Text: "Hyper-V: \x1b]0;owned\x07\x1b[2J done"}}
}

// Attack: an error message or a job's log line carries terminal
// sequences; the script commands print them escaped.
func TestScriptOutputEscapesTerminalSequences(t *testing.T) {
	var out, errOut bytes.Buffer
	report(errors.New("agent: container \x1b]52;c;ZXZpbA==\x07 refused"), Stdio{Out: &out, Err: &errOut})
	if strings.Contains(errOut.String(), "\x1b") || !strings.Contains(errOut.String(), `\x1b]52;c;`) {
		t.Errorf("error printed as %q", errOut.String())
	}
	w := newWatcher(&out, false)
	w.show(hostileLog{}, "j1", workflow.JobView{ID: "j1", Title: "t\x1b[31m", State: workflow.StatePhase1, Percent: 5})
	if strings.Contains(out.String(), "\x1b") || !strings.Contains(out.String(), `Hyper-V: \x1b]0;owned\x07`) {
		t.Errorf("watch printed %q", out.String())
	}
}
