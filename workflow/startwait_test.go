package workflow_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/failback/failback/config"
	"github.com/failback/failback/workflow"
	"github.com/failback/failback/workflow/labtest"
)

// Groups start in order: the second waits until the first's VM reports a
// heartbeat (its guest takes a second to boot), and the job says so
// meanwhile. A last group whose TCP port does not answer within its
// start_timeout stops the job, naming the VM; resumed once the port
// answers, it reaches pending commit.
func TestGroupsStartInOrderAndTheWaitIsShown(t *testing.T) {
	o := labtest.Options{VMs: []labtest.VM{{Name: "db", Disks: []int64{2 << 20}}, {Name: "web", Disks: []int64{2 << 20}}},
		Plans: map[string][][]string{"app": {{"db"}, {"web"}}}}
	l := labtest.New(t, o)
	if err := l.Hosts["hv01"].SetGuestBootDelay(time.Second); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing answers there yet
	l.Cfg.Engine.DowntimeRetry = config.Span(0)
	l.Cfg.VM("db").StartedWhen = "heartbeat"
	l.Cfg.VM("web").StartedWhen = "tcp:" + addr
	l.Cfg.VM("web").StartTimeout = config.Span(1500 * time.Millisecond)
	m := l.Open(l.Deps())
	ctx := context.Background()
	c := workflow.Choices{Plan: "app", Direction: workflow.DirAzureToOnPrem, Location: workflow.LocOriginal, Sync: workflow.SyncFull}
	id, err := m.Start(ctx, c, labtest.Operator)
	if err != nil {
		t.Fatal(err)
	}
	s := sample(m, id)
	v := labtest.Wait(t, m, id, jobTimeout, workflow.StateFailed)
	views := s.end()
	if !strings.Contains(v.Error, "web on hv01 runs, but "+addr+" did not answer") || v.Wait != "" {
		t.Fatalf("failed: %q (wait %q)", v.Error, v.Wait)
	}
	sawHeartbeat, sawTCP := false, false
	for _, sv := range views {
		w := sv.v.Wait
		if strings.HasPrefix(w, "group 2 of 2 starts once db reports a heartbeat") {
			sawHeartbeat = true
			for _, vm := range sv.v.VMs {
				if vm.Name == "web" && vm.OnPremState == "running" {
					t.Fatalf("web runs while group 2 waits for db's heartbeat")
				}
			}
		}
		sawTCP = sawTCP || strings.HasPrefix(w, "the last group is up once web answers on "+addr)
	}
	if !sawHeartbeat || !sawTCP {
		t.Fatalf("the waits were not shown (heartbeat %v, tcp %v)", sawHeartbeat, sawTCP)
	}
	if log := labtest.LogText(m, id); !strings.Contains(log, "db counts as started after") {
		t.Fatalf("log:\n%s", log)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if err := m.Act(ctx, id, workflow.ActResume, labtest.Operator); err != nil {
		t.Fatal(err)
	}
	v = labtest.Wait(t, m, id, jobTimeout, workflow.StatePendingCommit)
	if v.Totals.Downtime < time.Second || v.Wait != "" {
		t.Fatalf("pending commit: downtime %s, wait %q", v.Totals.Downtime, v.Wait)
	}
}
