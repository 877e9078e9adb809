package workflow

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/failback/failback/internal/osfile"
)

// ringSize bounds each job's in-memory log; the audit file keeps all.
const ringSize = 1000

// auditEntry is one line of a job's audit.log (JSON lines): every step
// the workflow takes and every operator action, with its result.
type auditEntry struct {
	Time   time.Time `json:"time"`
	Who    string    `json:"who"` // "failback" for the workflow's own steps
	What   string    `json:"what"`
	Result string    `json:"result"`
	Level  string    `json:"level"`
	Text   string    `json:"text"`
}

// ring is a bounded log of one job.
type ring struct {
	lines []LogLine
	start int
}

func (r *ring) add(l LogLine) {
	if len(r.lines) < ringSize {
		r.lines = append(r.lines, l)
		return
	}
	r.lines[r.start] = l
	r.start = (r.start + 1) % ringSize
}

// last returns the newest n lines, oldest first.
func (r *ring) last(n int) []LogLine {
	all := append(append([]LogLine(nil), r.lines[r.start:]...), r.lines[:r.start]...)
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

func actorText(a *Actor) string {
	if a == nil {
		return "failback"
	}
	return fmt.Sprintf("%s (%s via %s)", a.Name, a.Role, a.Via)
}

// record logs an event in memory and appends it to the audit file. A
// failed append is reported in the in-memory log: the job goes on.
func (j *job) record(who *Actor, level, what, result, text string) {
	// The time is taken under the lock, so the log is in time order even
	// when disks log concurrently (followers skip what is older than the
	// newest line they printed).
	j.mu.Lock()
	e := auditEntry{Time: j.m.now(), Who: actorText(who), What: what, Result: result, Level: level, Text: text}
	j.log.add(LogLine{Time: e.Time, Job: j.id, Level: level, Text: text})
	if !j.m.deps.ReadOnly {
		if err := appendAudit(j.m.paths.audit(j.id), e); err != nil {
			j.log.add(LogLine{Time: e.Time, Job: j.id, Level: "warn", Text: "audit log not written: " + err.Error()})
		}
	}
	j.mu.Unlock()
	j.m.hub.notify()
}

func (j *job) info(what, text string, args ...any) {
	j.record(nil, "info", what, "ok", fmt.Sprintf(text, args...))
}

func (j *job) warn(what, text string, args ...any) {
	j.record(nil, "warn", what, "warning", fmt.Sprintf(text, args...))
}

func appendAudit(path string, e auditEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, osfile.PrivateFile)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// loadAudit fills a job's ring from its audit file, so the log survives
// restarts.
func loadAudit(path, id string) ring {
	var r ring
	f, err := os.Open(path)
	if err != nil {
		return r
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e auditEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			r.add(LogLine{Time: e.Time, Job: id, Level: e.Level, Text: e.Text})
		}
	}
	return r
}

// mergeLogs returns the newest n lines of several jobs, oldest first.
func mergeLogs(parts [][]LogLine, n int) []LogLine {
	var all []LogLine
	for _, p := range parts {
		all = append(all, p...)
	}
	sort.SliceStable(all, func(i, k int) bool { return all[i].Time.Before(all[k].Time) })
	if n > 0 && len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}
