package hyperv

import (
	"errors"
	"fmt"
	"strings"
)

// Errors callers test with errors.Is. The errors the package returns wrap
// one of these in a *HostError whose message says what to do next.
var (
	// ErrVMNotFound: the host has no VM of that name.
	ErrVMNotFound = errors.New("virtual machine not found")
	// ErrVMOnOtherNode: the VM is a role of the host's failover cluster
	// that another node owns (HostError.Target names it).
	ErrVMOnOtherNode = errors.New("virtual machine is on another cluster node")
	// ErrVMExists: a VM of that name already exists where one was to be created.
	ErrVMExists = errors.New("virtual machine already exists")
	// ErrModuleMissing: the Hyper-V PowerShell module is not installed.
	ErrModuleMissing = errors.New("Hyper-V PowerShell module missing")
	// ErrAccessDenied: the account may not manage Hyper-V (or log in).
	ErrAccessDenied = errors.New("access denied")
	// ErrSwitchNotFound: the host has no virtual switch of that name.
	ErrSwitchNotFound = errors.New("virtual switch not found")
	// ErrUnreachable: the host could not be reached (network, SSH, no PowerShell).
	ErrUnreachable = errors.New("host unreachable")
	// ErrDiskInUse: a disk is attached to a VM that is not off, or locked.
	ErrDiskInUse = errors.New("disk in use")
	// ErrDiskNotFound: a disk file that should exist does not.
	ErrDiskNotFound = errors.New("disk file not found")
	// ErrDiskExists: a disk file that was to be created already exists.
	ErrDiskExists = errors.New("disk file already exists")
	// ErrNoSpace: the volume has not enough room for the disks.
	ErrNoSpace = errors.New("not enough free space")
	// ErrBadState: the VM is in a state that does not allow the operation.
	ErrBadState = errors.New("virtual machine in the wrong state")
	// ErrHostKey: the SSH host key is unknown or does not match known_hosts.
	ErrHostKey = errors.New("SSH host key not trusted")
	// ErrHostFailed: the host reported an error failback does not classify.
	ErrHostFailed = errors.New("host operation failed")
)

// HostError is an error from a host, with what to do about it.
type HostError struct {
	// Kind is one of the Err* values above; errors.Is matches it.
	Kind error
	// Host and Op say where and what ("hv01.example.com", "get VM web01").
	Host string
	Op   string
	// Detail is what the host said (a PowerShell message, a file error).
	Detail string
	// Hint tells the operator what to do next.
	Hint string
	// Target is what the error is about when the message alone does not
	// say it for a program: the node owning a clustered VM, the switch
	// that is missing.
	Target string
	// PSType, PSCategory and PSErrorID are PowerShell's own classification
	// of the error, when it came from PowerShell.
	PSType     string
	PSCategory string
	PSErrorID  string
	// Err is an underlying Go error, if any.
	Err error
}

func (e *HostError) Error() string {
	var b strings.Builder
	if e.Host != "" {
		b.WriteString(e.Host)
		b.WriteString(": ")
	}
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(e.Detail))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Hint != "" {
		b.WriteString(". ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap lets errors.Is see both the kind and the underlying error.
func (e *HostError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// hints are the default next steps per kind; a HostError may carry a more
// specific one.
var hints = map[error]string{
	ErrVMNotFound:     "Check the name with Get-VM on the host, or choose to create the VM at this location",
	ErrVMOnOtherNode:  "Add a [[host]] for that node to config.toml (a cluster's nodes share its cluster shared volume paths, so its path_map is the same), or move the role to this node with Move-ClusterVirtualMachineRole",
	ErrVMExists:       "Choose the existing VM as the target, or remove or rename it first",
	ErrModuleMissing:  "Install it on the host: Install-WindowsFeature -Name Hyper-V-PowerShell (Windows Server) or Enable-WindowsOptionalFeature -Online -FeatureName Microsoft-Hyper-V-Management-PowerShell (Windows client)",
	ErrAccessDenied:   "Use an account that is a local Administrator or a member of 'Hyper-V Administrators' on the host, in an elevated session",
	ErrSwitchNotFound: "Create the switch on the host (see the New-VMSwitch command above) or pick a host that has it",
	ErrUnreachable:    "Check the host name, that it is up, that its SSH server runs and the firewall lets the console in",
	ErrDiskInUse:      "Shut the VM down (or wait for the running sync to finish) before writing this disk",
	ErrDiskNotFound:   "Check the path and the host's path mapping",
	ErrDiskExists:     "Failback never overwrites a disk it did not expect: attach the existing file, or move it away",
	ErrNoSpace:        "Free space on the volume or choose another folder",
	ErrHostKey:        "Verify the host key out of band before trusting it",
}

// newHostError builds a HostError with the default hint of its kind.
func newHostError(kind error, host, op, detail string) *HostError {
	return &HostError{Kind: kind, Host: host, Op: op, Detail: detail, Hint: hints[kind]}
}

// psError is the JSON error record our scripts emit: {"error":{...}}.
type psError struct {
	Type     string `json:"type"`
	Message  string `json:"message"`
	Category string `json:"category"`
	ID       string `json:"id"`
	Target   string `json:"target"`
}

// classify maps a PowerShell error record to one of the Err* kinds. Our
// scripts classify what they can themselves (the type is then a bare word
// like "VMNotFound"); the rest is recognised by exception type, error
// category and FullyQualifiedErrorId, never by the (localised) message.
func (p psError) classify() error {
	switch p.Type {
	case "VMNotFound":
		return ErrVMNotFound
	case "VMExists":
		return ErrVMExists
	case "VMOnOtherNode":
		return ErrVMOnOtherNode
	case "ModuleMissing":
		return ErrModuleMissing
	case "AccessDenied":
		return ErrAccessDenied
	case "SwitchNotFound":
		return ErrSwitchNotFound
	case "DiskInUse":
		return ErrDiskInUse
	case "DiskNotFound":
		return ErrDiskNotFound
	case "DiskExists":
		return ErrDiskExists
	case "BadState":
		return ErrBadState
	}
	id := strings.ToLower(p.ID)
	switch {
	case strings.HasPrefix(id, "modules_modulenotfound"),
		p.Type == "System.Management.Automation.CommandNotFoundException" && strings.Contains(p.Target, "VM"):
		return ErrModuleMissing
	case p.Category == "PermissionDenied",
		strings.HasPrefix(id, "accessdenied"),
		strings.HasSuffix(p.Type, "UnauthorizedAccessException"):
		return ErrAccessDenied
	case p.Category == "ObjectNotFound" && strings.Contains(id, "getvm"):
		return ErrVMNotFound
	}
	return ErrHostFailed
}

// Error builds the HostError for this record.
func (p psError) toHostError(host, op string) *HostError {
	e := newHostError(p.classify(), host, op, p.Message)
	e.PSType, e.PSCategory, e.PSErrorID, e.Target = p.Type, p.Category, p.ID, p.Target
	if e.Kind == ErrHostFailed {
		e.Hint = fmt.Sprintf("PowerShell reported %s (%s); run the same step by hand on the host to see more", orDash(p.Type), orDash(p.ID))
	}
	return e
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
