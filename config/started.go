package config

import (
	"net"
	"strconv"
	"strings"
)

// A [[vm]]'s started_when says when the VM counts as started at Complete
// failover, so the next group of its plan may start: "running" (Hyper-V
// reports it Running; the default), "heartbeat" (its guest's integration
// services report a heartbeat) or "tcp:HOST:PORT" (the port answers).
// start_timeout bounds the wait (default 10m); the job stops when it runs
// out, saying which VM did not answer.

// The ways a VM counts as started (VM.StartedWhen).
const (
	StartedRunning   = "running"
	StartedHeartbeat = "heartbeat"
	startedTCP       = "tcp:"
)

// StartedCheck is a VM's started_when, read: Kind is StartedRunning,
// StartedHeartbeat or "tcp", Addr the TCP address for "tcp".
type StartedCheck struct {
	Kind string
	Addr string
}

// Started reads the VM's started_when ("running" when unset).
func (v *VM) Started() (StartedCheck, bool) {
	w := strings.TrimSpace(v.StartedWhen)
	switch {
	case w == "" || strings.EqualFold(w, StartedRunning):
		return StartedCheck{Kind: StartedRunning}, true
	case strings.EqualFold(w, StartedHeartbeat):
		return StartedCheck{Kind: StartedHeartbeat}, true
	case len(w) > len(startedTCP) && strings.EqualFold(w[:len(startedTCP)], startedTCP):
		addr := w[len(startedTCP):]
		host, port, err := net.SplitHostPort(addr)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || n < 1 || n > 65535 {
			return StartedCheck{}, false
		}
		return StartedCheck{Kind: "tcp", Addr: addr}, true
	}
	return StartedCheck{}, false
}

// startedWhen checks started_when and start_timeout of a [[vm]].
func (k *checker) startedWhen(p string, vm *VM) {
	if _, ok := vm.Started(); !ok {
		k.bad(p+".started_when", `write "running", "heartbeat" or "tcp:HOST:PORT" (e.g. "tcp:10.0.0.5:1433")`,
			"started_when = %q is not a way to tell a VM started", vm.StartedWhen)
	}
	if !vm.StartTimeout.valid() {
		k.bad(p+".start_timeout", `write a duration such as "10m"`, "start_timeout = %q is not a duration", vm.StartTimeout.String())
	}
}
