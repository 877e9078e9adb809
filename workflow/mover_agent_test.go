package workflow_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failback/failback/config"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// TestMoversReadThroughTheAgent: with [agent] in config.toml, the host's
// mover (a child process, as config.toml wires it) reads the page-blob
// snapshots through the agent, and the agent's figures reach the job's
// view as when the driver reads through it. With the agent stopped, the
// mover falls back to storage for the final pass, the job's log says so
// (the mover's log frames) and the disks still equal Azure. The agent's
// token is written nowhere, nor any SAS URL handed to the mover: not on
// the host, not in the driver's state folder, not in the job's log.
func TestMoversReadThroughTheAgent(t *testing.T) {
	vm := labtest.VM{Name: "files", Disks: []int64{16 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}, StopBelow: "1K"})
	a := l.StartAgent()
	m := l.OpenConfigured()
	ctx := context.Background()
	id, err := m.Start(ctx, workflow.Choices{VM: "files", Direction: workflow.DirAzureToOnPrem,
		Location: workflow.LocOriginal, Sync: workflow.SyncDelta}, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateReady)
	dv := v.VMs[0].Disks[0]
	ag := dv.Agent
	if ag == nil || ag.AzureChecked < 8<<20 || ag.LinkBytes <= 0 || ag.LinkBytes*2 > 16<<20 || ag.BlockBytes < dv.BytesTransferred ||
		ag.Fallback || ag.DirectBytes != 0 {
		t.Fatalf("the agent's figures after phase 1 through the mover (transferred %d): %+v\n%s", dv.BytesTransferred, ag, labtest.LogText(m, id))
	}
	phase1 := *ag

	a.Stop()
	if err := m.Act(ctx, id, workflow.ActComplete, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	v = labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	ag = v.VMs[0].Disks[0].Agent
	if ag == nil || ag.DirectBytes <= 0 || ag.FallbackSwitches < 1 || ag.AzureChecked < phase1.AzureChecked {
		t.Fatalf("the agent's figures after phase 2 with the agent down: %+v (phase 1 %+v)", ag, phase1)
	}
	var warned bool
	for _, ll := range m.Log(id, 0) {
		if ll.Level == "warn" && strings.HasPrefix(ll.Text, "files files-disk0.vhd: agent unreachable: reading the snapshot directly") {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("the mover's fallback is not in the job's log:\n%s", labtest.LogText(m, id))
	}
	checkEqual(t, l, l.Image, vm)

	if log := labtest.LogText(m, id); strings.Contains(log, a.Token) || strings.Contains(log, "sig=") {
		t.Fatalf("the agent's token or a SAS URL is in the job's log:\n%s", log)
	}
	_ = m.Close()
	err = filepath.WalkDir(l.Dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(a.Token)) {
			t.Errorf("the agent's token is written in %s", p)
		}
		if err == nil && bytes.Contains(b, []byte("sig=")) {
			t.Errorf("a SAS URL is written in %s", p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.Cfg.Host("hv01").MoverStateDir(), "jobs", id)); err != nil {
		t.Fatalf("the host's mover kept no journals: %v", err)
	}
}

// TestPreflightChecksTheAgentFromTheHost: with [agent] configured, the
// pre-flight has each host's mover ask the agent what it is, with its
// certificate and token: a wrong token is refused before anything moves
// (every read through the agent would fail), an agent the host cannot
// reach is a warning (its mover reads storage directly), saying what to
// open.
func TestPreflightChecksTheAgentFromTheHost(t *testing.T) {
	vm := labtest.VM{Name: "web", Disks: []int64{4 << 20}}
	l := labtest.New(t, labtest.Options{VMs: []labtest.VM{vm}})
	a := l.StartAgent()
	c := workflow.Choices{VM: "web", Direction: workflow.DirAzureToOnPrem, Sync: workflow.SyncDelta}
	preflight := func() (*workflow.Manager, workflow.PreflightReport, workflow.CheckRow) {
		t.Helper()
		cfg, err := config.Load(l.ConfigFile)
		if err != nil {
			t.Fatal(err)
		}
		l.Cfg = cfg
		m := l.OpenConfigured()
		rep, err := m.Preflight(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		rows := rowsLike(rep, "the Azure-side agent from hv01")
		if len(rows) != 1 {
			t.Fatalf("agent rows %+v", rep.Checks)
		}
		return m, rep, rows[0]
	}

	m, rep, row := preflight()
	if !rep.OK || !row.OK || row.Warning || !strings.Contains(row.Detail, "through the agent at https://127.0.0.1:") {
		t.Fatalf("pre-flight with the agent up: OK %v, row %+v", rep.OK, row)
	}
	_ = m.Close()

	t.Setenv("FB_LAB_AGENT_TOKEN", "not-the-agent-token-0123456789abcdef")
	m, rep, row = preflight()
	if rep.OK || row.OK || !strings.Contains(row.Detail, "401") || !strings.Contains(row.Fix, "[agent] token") {
		t.Fatalf("pre-flight with a wrong token: OK %v, row %+v", rep.OK, row)
	}
	refusedAndUntouched(t, m, c, l.Image("web", 0))
	_ = m.Close()

	t.Setenv("FB_LAB_AGENT_TOKEN", a.Token)
	a.Stop()
	m, rep, row = preflight()
	if !rep.OK || !row.OK || !row.Warning || !strings.Contains(row.Detail, "read storage directly") || !strings.Contains(row.Fix, "firewall") {
		t.Fatalf("pre-flight with the agent down: OK %v, row %+v", rep.OK, row)
	}
	_ = m.Close()
}
