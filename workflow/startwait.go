package workflow

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/failback/failback/config"
)

// Groups start in plan order, each once every VM of the group before it
// counts as started: Hyper-V reports it Running and, where its [[vm]]
// says started_when, its heartbeat answers (the guest's integration
// services) or a TCP port does, within start_timeout. The job says what
// it waits for meanwhile (JobView.Wait).

// heartbeater is a host that can tell whether a VM's guest reports a
// heartbeat (hyperv: Get-VMIntegrationService on a real host; the lab
// host models it).
type heartbeater interface {
	Heartbeat(ctx context.Context, vm string) (ok bool, detail string, err error)
}

// waitInfo is what the job waits for now.
type waitInfo struct {
	what  string
	since time.Time
	limit time.Duration
}

// text is the wait as JobView.Wait says it. Call with j.mu held.
func (w waitInfo) text(now time.Time) string {
	if w.what == "" {
		return ""
	}
	return fmt.Sprintf("%s (%s so far, at most %s)", w.what, durText(max(now.Sub(w.since), time.Second)), durText(w.limit))
}

// setWait says what the job waits for ("" for nothing).
func (j *job) setWait(what string, limit time.Duration) {
	j.mu.Lock()
	if what != j.wait.what {
		j.wait = waitInfo{what: what, since: time.Now(), limit: limit}
	}
	j.mu.Unlock()
	j.m.hub.notify()
}

// startCheck is how VM vm counts as started, and how long to wait.
func (j *job) startCheck(vm vmRecord) (config.StartedCheck, time.Duration) {
	chk, limit := config.StartedCheck{Kind: config.StartedRunning}, j.m.deps.StartTimeout
	if c := j.m.cfg.VM(vm.Name); c != nil {
		if s, ok := c.Started(); ok {
			chk = s
		}
		if d := c.StartTimeout.D(); d > 0 {
			limit = d
		}
	}
	return chk, limit
}

// waitStarted waits until vm, of group g of n, counts as started.
func (j *job) waitStarted(ctx context.Context, vm vmRecord, g, n int) error {
	chk, limit := j.startCheck(vm)
	prefix := ""
	if g < n {
		prefix = fmt.Sprintf("group %d of %d starts once %s", g+1, n, vm.Name)
	} else {
		prefix = fmt.Sprintf("the last group is up once %s", vm.Name)
	}
	j.setWait(prefix+" runs", limit)
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	if err := j.waitRunning(ctx, vm); err != nil {
		return err
	}
	if chk.Kind == config.StartedRunning {
		j.setWait("", 0)
		return nil
	}
	h, _, err := j.m.host(vm.Host)
	if err != nil {
		return err
	}
	hb, canBeat := h.(heartbeater)
	what := prefix + " answers on " + chk.Addr
	if chk.Kind == config.StartedHeartbeat {
		what = prefix + " reports a heartbeat"
		if !canBeat {
			return fmt.Errorf("%s: host %s cannot report heartbeats; set started_when = \"running\" or \"tcp:HOST:PORT\" for it in config.toml, then resume", vm.Name, vm.Host)
		}
	}
	j.setWait(what, limit)
	last := "no answer yet"
	for {
		ok := false
		if chk.Kind == config.StartedHeartbeat {
			var err error
			ok, last, err = hb.Heartbeat(ctx, vm.Name)
			if err != nil {
				last = err.Error()
			}
		} else {
			var d net.Dialer
			dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
			c, err := d.DialContext(dctx, "tcp", chk.Addr)
			dcancel()
			if ok = err == nil; ok {
				c.Close()
			} else {
				last = err.Error()
			}
		}
		if ok {
			j.setWait("", 0)
			j.info("start", "%s counts as started after %s (%s)", vm.Name, durText(max(time.Since(start), time.Second)), checkText(chk))
			return nil
		}
		select {
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%s on %s runs, but %s within %s (last: %s): check the guest on the host, then resume; or change started_when / start_timeout for it in config.toml",
					vm.Name, vm.Host, notText(chk), durText(limit), last)
			}
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func checkText(c config.StartedCheck) string {
	if c.Kind == config.StartedHeartbeat {
		return "its heartbeat answered"
	}
	return c.Addr + " answered"
}

func notText(c config.StartedCheck) string {
	if c.Kind == config.StartedHeartbeat {
		return "its guest reported no heartbeat"
	}
	return c.Addr + " did not answer"
}
