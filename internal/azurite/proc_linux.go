package azurite

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the server exit when the process that started it dies,
// so a killed test run or lab command never leaves Azurite behind by accident.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
