package workflow

import (
	"bytes"
	"context"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/failback/failback/config"
)

// sameBytes is a "random" source that always gives the same byte: every
// suffix collides with the one before.
type sameBytes byte

func (s sameBytes) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(s)
	}
	return len(p), nil
}

func TestJobIDsAreShortSortableAndUnique(t *testing.T) {
	at := time.Date(2026, 11, 28, 13, 39, 3, 0, time.UTC)
	id := newJobID(at, sameBytes(0xd2), func(string) bool { return false })
	if id != "261128-1339-d2" {
		t.Fatalf("id %q, want 261128-1339-d2", id)
	}
	// A second job in the same minute with the same random byte gets a
	// longer suffix, never the same id.
	taken := map[string]bool{id: true}
	id2 := newJobID(at, sameBytes(0xd2), func(s string) bool { return taken[s] })
	if id2 == id || !regexp.MustCompile(`^261128-1339-[0-9a-f]{4}$`).MatchString(id2) {
		t.Fatalf("second id %q (first %q)", id2, id)
	}
	// Ids sort as their creation times, across a year's end too.
	times := []time.Time{at, at.Add(time.Minute), time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)}
	var ids []string
	for _, tm := range times {
		ids = append(ids, newJobID(tm, bytes.NewReader([]byte{0xff, 0xff}), func(string) bool { return false }))
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatalf("ids do not sort by time: %v", ids)
	}
	if len(ids[0]) > 14 {
		t.Fatalf("id %q is longer than 14 characters", ids[0])
	}
}

// A state folder written by an older failback, with long ids, still
// opens; its jobs are found by their ids and the names stay taken.
func TestOldLongJobIDsStillWork(t *testing.T) {
	dir := t.TempDir()
	old := "20261128-133903-d228d6"
	p := paths{root: dir}
	rec := &jobRecord{Version: recordVersion, ID: old, Title: "tier1-web", State: StateCommitted, Flow: flowCommit,
		Created: time.Date(2026, 11, 28, 13, 39, 3, 0, time.UTC)}
	if err := p.saveRecord(rec); err != nil {
		t.Fatal(err)
	}
	m, err := Open(context.Background(), &config.Config{StateDir: dir}, Deps{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if v, ok := m.Job(old); !ok || v.ID != old || v.State != StateCommitted {
		t.Fatalf("Job(%q) = %+v, %v", old, v, ok)
	}
	if !m.jobTaken(old) || m.jobTaken("261128-1339-d2") {
		t.Fatal("jobTaken does not follow the state folder")
	}
}
