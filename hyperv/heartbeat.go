package hyperv

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Heartbeat says whether the VM's guest reports a heartbeat through its
// integration services (Get-VMIntegrationService: the Heartbeat service
// enabled and "OK"), with the host's words for it: the sign the guest OS
// is up, which the workflow waits for before it starts the next group
// of a plan (started_when = "heartbeat").
func (h *PSHost) Heartbeat(ctx context.Context, name string) (bool, string, error) {
	var r struct {
		State   string
		Enabled bool
		Status  string
	}
	if err := h.run(ctx, "heartbeat", "read the heartbeat of VM "+quoteName(name), []psParam{strParam("Name", name)}, &r); err != nil {
		return false, "", err
	}
	switch {
	case r.State != string(StateRunning):
		return false, "the VM is " + r.State, nil
	case !r.Enabled:
		return false, "the Heartbeat integration service is off (" + r.Status + ")", nil
	}
	return strings.EqualFold(r.Status, "OK"), "heartbeat " + r.Status, nil
}

// labGuest is lab host's heartbeat.json: how long a lab VM's guest takes
// to boot before it reports a heartbeat.
type labGuest struct {
	BootDelay time.Duration `json:"boot_delay_ns"`
}

func (h *LabHost) guestFile() string { return filepath.Join(h.dir, "heartbeat.json") }

// SetGuestBootDelay makes every lab VM of the host report its heartbeat
// only once it has run for d (0: as soon as it runs).
func (h *LabHost) SetGuestBootDelay(d time.Duration) error {
	b, _ := json.Marshal(labGuest{BootDelay: d})
	return os.WriteFile(h.guestFile(), b, 0o644)
}

// Heartbeat models a guest's heartbeat: a running lab VM reports one once
// its boot delay (SetGuestBootDelay) has passed since it started (the
// time its record last changed: starting it).
func (h *LabHost) Heartbeat(ctx context.Context, name string) (bool, string, error) {
	v, unlock, err := h.lockVM(ctx, name, false)
	if err != nil {
		return false, "", err
	}
	defer unlock()
	if v.State != StateRunning {
		return false, "the VM is " + string(v.State), nil
	}
	cfg, err := h.config()
	if err != nil {
		return false, "", err
	}
	if v.guest(cfg).NoHeartbeat {
		return false, "no contact: the guest reports no heartbeat", nil
	}
	var g labGuest
	b, err := os.ReadFile(h.guestFile())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return false, "", err
	default:
		if err := json.Unmarshal(b, &g); err != nil {
			return false, "", err
		}
	}
	st, err := os.Stat(h.vmFile(name))
	if err != nil {
		return false, "", err
	}
	if up := time.Since(st.ModTime()); up < g.BootDelay {
		return false, "no contact: the guest is booting", nil
	}
	return true, "heartbeat OK", nil
}
