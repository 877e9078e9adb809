package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/failback/failback/azure"
	"github.com/failback/failback/hyperv"
)

// Status is what lab status reports: what runs, and how each part is.
type Status struct {
	Dir     string    `json:"dir"`
	Config  string    `json:"config"`
	Created time.Time `json:"created"`
	Ready   bool      `json:"ready"`
	// Healthy means lab up would reuse this lab as it is.
	Healthy  bool         `json:"healthy"`
	Problems []string     `json:"problems,omitempty"`
	Azurite  ProcStatus   `json:"azurite"`
	Azure    AzureStatus  `json:"azure"`
	VMs      []VMStatus   `json:"vms"`
	Hosts    []HostStatus `json:"hosts"`
	Certs    []Cert       `json:"certificates"`
}

// ProcStatus is one of the lab's background processes.
type ProcStatus struct {
	PID     int  `json:"pid"`
	Port    int  `json:"port,omitempty"`
	Running bool `json:"running"`
	// Answering: Azurite answers on its port.
	Answering bool   `json:"answering,omitempty"`
	Log       string `json:"log"`
}

// AzureStatus is the lab's Azure process: the blob front and the ARM
// endpoint it serves, and whether each answers.
type AzureStatus struct {
	PID     int    `json:"pid"`
	Running bool   `json:"running"`
	Log     string `json:"log"`
	// FrontURL is the blob front (config.toml's storage account).
	FrontURL       string `json:"front_url"`
	FrontAnswering bool   `json:"front_answering"`
	// ARMEndpoint is config.toml's arm_endpoint; ARMVMs how many VMs it
	// lists in the resource group.
	ARMEndpoint    string `json:"arm_endpoint"`
	ARMAnswering   bool   `json:"arm_answering"`
	ARMVMs         int    `json:"arm_vms"`
	SubscriptionID string `json:"subscription_id"`
	ResourceGroup  string `json:"resource_group"`
}

// VMStatus is one lab Azure VM and its writer.
type VMStatus struct {
	Name      string `json:"name"`
	Plan      string `json:"plan"`
	Encrypted bool   `json:"encrypted,omitempty"`
	// Power is the Azure VM's power state, or "deleted" after a commit.
	Power string `json:"power"`
	// WriterAlive: a writer holds the VM's writer lock now (the lock dies
	// with its process, so a killed writer never counts as alive).
	WriterAlive bool      `json:"writer_alive"`
	Writing     bool      `json:"writing"`
	Writes      int64     `json:"writes"`
	Trims       int64     `json:"trims"`
	Bytes       int64     `json:"bytes"`
	LastWrite   time.Time `json:"last_write,omitzero"`
	Error       string    `json:"error,omitempty"`
	Disks       []string  `json:"disks"`
}

// HostStatus is one lab Hyper-V host and the lab VMs on it.
type HostStatus struct {
	Name     string   `json:"name"`
	Role     string   `json:"role"`
	Switches []string `json:"switches"`
	VMs      []HostVM `json:"vms"`
}

// HostVM is a VM on a lab host.
type HostVM struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// Inspect looks at every part of the lab m describes.
func Inspect(ctx context.Context, m *Manifest) Status {
	s := Status{Dir: m.Dir, Config: m.Path(m.Config), Created: m.Created, Ready: m.Ready, Certs: m.Certs}
	problem := func(format string, args ...any) { s.Problems = append(s.Problems, fmt.Sprintf(format, args...)) }
	if m.Version != manifestVersion {
		problem("lab.json is version %d, this failback writes version %d", m.Version, manifestVersion)
	}
	if !m.Ready {
		problem("lab up did not finish building this lab")
	}
	s.Azurite = ProcStatus{PID: m.Azurite.PID, Port: m.Azurite.Port, Log: m.Path(m.Azurite.Log),
		Running: ownedBy(m.Azurite.PID, isAzurite(m.Path("azurite")))}
	if s.Azurite.Running {
		s.Azurite.Answering = azuriteAnswers(ctx, m.Azurite.Port)
	}
	switch {
	case !s.Azurite.Running:
		problem("Azurite (pid %d) is not running", m.Azurite.PID)
	case !s.Azurite.Answering:
		problem("Azurite (pid %d) does not answer on port %d", m.Azurite.PID, m.Azurite.Port)
	}
	s.Azure = inspectAzure(ctx, m, problem)

	running := 0
	lc, err := azure.NewLabCompute(m.Path(m.ComputeDir), azure.LabOptions{})
	for _, v := range m.VMs {
		vs := VMStatus{Name: v.Name, Plan: v.Plan, Encrypted: v.Encrypted, Power: string(azure.PowerUnknown)}
		for _, d := range v.Disks {
			vs.Disks = append(vs.Disks, d.Describe())
		}
		if err == nil {
			st, rerr := lc.Read(ctx, v.Name)
			switch {
			case errors.Is(rerr, azure.ErrVMNotFound):
				vs.Power = "deleted"
			case rerr != nil:
				vs.Error = rerr.Error()
			default:
				vs.Power = string(st.Power)
			}
			alive, aerr := lc.WriterAlive(v.Name)
			if aerr != nil {
				vs.Error = aerr.Error()
			}
			vs.WriterAlive = alive
			if ws, werr := lc.WriterStatus(ctx, v.Name); werr == nil {
				// The status file of a killed writer still says writing.
				vs.Writing = ws.Writing && alive
				vs.Writes, vs.Trims, vs.Bytes, vs.LastWrite = ws.Writes, ws.Trims, ws.Bytes, ws.LastWrite
				if ws.Err != "" {
					vs.Error = ws.Err
				}
			}
		}
		if vs.Power == string(azure.PowerRunning) {
			running++
		}
		if vs.Error != "" {
			problem("Azure VM %s: %s", v.Name, vs.Error)
		}
		if err == nil && s.Azure.Running && !vs.WriterAlive && vs.Power != "deleted" {
			// With the process gone, the problem below covers every VM.
			problem("Azure VM %s has no live writer (nothing holds %s.writer.lock in %s): it will not write while it runs; see %s", v.Name, v.Name, m.Path(m.ComputeDir), s.Azure.Log)
		}
		s.VMs = append(s.VMs, vs)
	}
	if err != nil {
		problem("lab compute: %v", err)
	}
	if !s.Azure.Running {
		writes := ""
		if running > 0 {
			writes = fmt.Sprintf(", and %d running Azure VMs do not write", running)
		}
		problem("the lab's Azure process (pid %d) is not running: no ARM endpoint and no blob front%s; 'failback lab up' replaces the lab", m.Azure.PID, writes)
	}

	for _, h := range m.Hosts {
		hs := HostStatus{Name: h.Name, Role: h.Role, Switches: h.Switches, VMs: []HostVM{}}
		lh, err := hyperv.OpenLab(m.Path(h.Dir))
		if err != nil {
			problem("lab host %s: %v", h.Name, err)
			s.Hosts = append(s.Hosts, hs)
			continue
		}
		for _, v := range m.VMs {
			if vm, err := lh.GetVM(ctx, v.Name); err == nil {
				hs.VMs = append(hs.VMs, HostVM{Name: vm.Name, State: string(vm.State)})
			}
		}
		s.Hosts = append(s.Hosts, hs)
	}
	s.Healthy = len(s.Problems) == 0
	return s
}

// Print writes the status for people.
func (s Status) Print(w io.Writer) {
	state := "healthy"
	if !s.Healthy {
		state = "NOT healthy"
	}
	fmt.Fprintf(w, "Lab in %s (built %s): %s\n", s.Dir, s.Created.Local().Format("2006-01-02 15:04"), state)
	for _, p := range s.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	fmt.Fprintf(w, "  Azurite       pid %d, 127.0.0.1:%d, %s\n", s.Azurite.PID, s.Azurite.Port, runState(s.Azurite.Running, s.Azurite.Answering, true))
	a := s.Azure
	fmt.Fprintf(w, "  lab Azure     pid %d, %s (log %s)\n", a.PID, runState(a.Running, true, false), shortPath(a.Log))
	if a.Running {
		fmt.Fprintf(w, "    blob front  %s, %s\n", a.FrontURL, answerState(a.FrontAnswering))
		arm := answerState(a.ARMAnswering)
		if a.ARMAnswering {
			arm += fmt.Sprintf(": %d VMs in %s", a.ARMVMs, a.ResourceGroup)
		}
		fmt.Fprintf(w, "    ARM         %s, %s (subscription %s)\n", a.ARMEndpoint, arm, a.SubscriptionID)
	}
	fmt.Fprintln(w, "  Azure VMs:")
	deleted := 0
	for _, v := range s.VMs {
		extra := ""
		if v.Encrypted {
			extra = ", encrypted"
		}
		if v.Power == "deleted" {
			deleted++
		}
		fmt.Fprintf(w, "    %-7s %-11s %-9s %-16s %6d writes (%s, %d trims)%s  %s\n", v.Name, v.Plan, v.Power, writerState(v), v.Writes, size(v.Bytes), v.Trims, extra, strings.Join(v.Disks, ", "))
	}
	fmt.Fprintln(w, "  Hyper-V lab hosts:")
	for _, h := range s.Hosts {
		var vms []string
		for _, v := range h.VMs {
			vms = append(vms, v.Name+" ("+v.State+")")
		}
		list := "no VMs"
		if len(vms) > 0 {
			list = strings.Join(vms, ", ")
		}
		fmt.Fprintf(w, "    %-5s switches %-12s %s\n", h.Name, strings.Join(h.Switches, ","), list)
	}
	for _, c := range s.Certs {
		what := "does not unlock the lab's disks"
		if c.Unlocks {
			what = "unlocks the encrypted VM"
		}
		fmt.Fprintf(w, "  certificate   %s, thumbprint %s: %s\n", c.File, c.Thumbprint, what)
	}
	fmt.Fprintf(w, "  config        %s\n", shortPath(s.Config))
	if deleted == len(s.VMs) && len(s.VMs) > 0 {
		fmt.Fprintln(w, "  Every Azure VM is deleted (the drill was committed); 'failback lab up --fresh' builds a new lab.")
	}
}

// inspectAzure looks at the lab's Azure process and asks its two servers.
func inspectAzure(ctx context.Context, m *Manifest, problem func(string, ...any)) AzureStatus {
	a := AzureStatus{PID: m.Azure.PID, Log: m.Path(m.Azure.Log), Running: ownedBy(m.Azure.PID, isAzure(m.Dir)),
		FrontURL: m.FrontURL(), ARMEndpoint: m.ARMEndpoint(), SubscriptionID: m.SubscriptionID, ResourceGroup: m.ResourceGroup}
	if !a.Running {
		return a
	}
	if a.FrontAnswering = azuriteAnswers(ctx, m.FrontPort); !a.FrontAnswering {
		problem("the blob front (%s) does not answer: failback cannot reach the storage account; see %s", a.FrontURL, a.Log)
	}
	n, err := armVMCount(ctx, m)
	if a.ARMAnswering, a.ARMVMs = err == nil, n; err != nil {
		problem("the ARM endpoint (%s) does not answer: %v; see %s", a.ARMEndpoint, err, a.Log)
	}
	return a
}

func answerState(ok bool) string {
	if ok {
		return "answering"
	}
	return "NOT answering"
}

// writerState says whether the VM's writer lives, from its lock.
func writerState(v VMStatus) string {
	switch {
	case v.WriterAlive:
		return "writer alive"
	case v.Power == "deleted":
		return "no writer"
	}
	return "writer NOT alive"
}

func runState(running, answering, server bool) string {
	switch {
	case !running:
		return "NOT running"
	case server && !answering:
		return "running, NOT answering"
	case server:
		return "running, answering"
	}
	return "running"
}
