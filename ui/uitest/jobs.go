package uitest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/failback/failback/workflow"
)

func (f *Fake) canAct(who workflow.Actor) error {
	if who.Role != workflow.RoleOperator {
		return workflow.ErrNotAllowed
	}
	return f.refuse
}

// Start implements workflow.Service: the job starts in phase 1 (delta) or
// shutting down Azure (full), with every disk waiting.
func (f *Fake) Start(ctx context.Context, c workflow.Choices, who workflow.Actor) (string, error) {
	if err := f.enter(ctx, "Start"); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, StartCall{Ctx: ctx, Choices: c, Who: who})
	if err := f.canAct(who); err != nil {
		return "", err
	}
	j, err := f.create(c, who)
	if err != nil {
		return "", err
	}
	f.starts[len(f.starts)-1].ID = j.ID
	return j.ID, nil
}

// create adds a job for c; the caller holds f.mu.
func (f *Fake) create(c workflow.Choices, who workflow.Actor) (*workflow.JobView, error) {
	vms, groups, err := f.vmsOf(c)
	if err != nil {
		return nil, err
	}
	f.nextJob++
	j := &workflow.JobView{
		ID: fmt.Sprintf("%s-%02x", Epoch.Format("060102-1504"), f.nextJob), Title: c.Plan + c.VM, Choices: c,
		State: workflow.StatePhase1, Created: f.tick(), Owner: who,
	}
	if c.Sync == workflow.SyncFull {
		j.State = workflow.StateShutdown
	}
	for i, v := range vms {
		host := v.Host
		if c.Location == workflow.LocAlternate {
			host = c.AltHost
		}
		vv := workflow.VMView{Name: v.Name, Group: groups[i], Host: host, AzureState: "running", OnPremState: "off", Phase: "waiting"}
		for _, d := range v.Disks {
			vv.Disks = append(vv.Disks, workflow.DiskView{Name: d.Short(), Image: d.Image, Size: d.Size, Phase: "waiting"})
		}
		j.VMs = append(j.VMs, vv)
	}
	j.Updated = j.Created
	f.jobs = append([]*workflow.JobView{j}, f.jobs...)
	f.logf(j.ID, "info", "started by %s via %s (%s sync)", who.Name, who.Via, c.Sync)
	f.notify()
	return j, nil
}

// Jobs implements workflow.Service.
func (f *Fake) Jobs() []workflow.JobView {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["Jobs"]++
	out := make([]workflow.JobView, 0, len(f.jobs))
	for _, j := range f.jobs {
		out = append(out, f.figured(j))
	}
	return out
}

// Job implements workflow.Service.
func (f *Fake) Job(id string) (workflow.JobView, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if j := f.find(id); j != nil {
		return f.figured(j), true
	}
	return workflow.JobView{}, false
}

func clone(j *workflow.JobView) workflow.JobView {
	c := *j
	if j.CompleteNow != nil {
		e := *j.CompleteNow
		c.CompleteNow = &e
	}
	c.VMs = make([]workflow.VMView, len(j.VMs))
	for i, v := range j.VMs {
		v.Disks = append([]workflow.DiskView(nil), v.Disks...)
		c.VMs[i] = v
	}
	return c
}

func (f *Fake) find(id string) *workflow.JobView {
	for _, j := range f.jobs {
		if j.ID == id {
			return j
		}
	}
	return nil
}

// Log implements workflow.Service: the newest n lines, oldest first.
func (f *Fake) Log(id string, n int) []workflow.LogLine {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []workflow.LogLine
	for _, l := range f.logs {
		if id == "" || l.Job == id {
			out = append(out, l)
		}
	}
	if n >= 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// Subscribe implements workflow.Service.
func (f *Fake) Subscribe() (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextSub++
	id := f.nextSub
	ch := make(chan struct{}, 1)
	f.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.subs, id)
			f.mu.Unlock()
			close(ch)
		})
	}
}

// notify wakes every subscriber without ever blocking (coalesced).
func (f *Fake) notify() {
	for _, ch := range f.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (f *Fake) tick() time.Time {
	f.clock = f.clock.Add(time.Second)
	return f.clock
}

func (f *Fake) logf(job, level, format string, args ...any) {
	f.logs = append(f.logs, workflow.LogLine{Time: f.tick(), Job: job, Level: level, Text: fmt.Sprintf(format, args...)})
}
