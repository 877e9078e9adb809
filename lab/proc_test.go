//go:build unix

package lab

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestMatchersRecogniseOnlyTheLabsOwnProcesses(t *testing.T) {
	dir := "/tmp/lab-a"
	if !isAzure(dir)([]string{"/usr/bin/failback", "lab", "vms", "--dir", dir}) {
		t.Fatal("the lab's Azure process was not recognised")
	}
	for _, argv := range [][]string{
		{"/usr/bin/failback", "lab", "vms", "--dir", "/tmp/lab-b"},
		{"/usr/bin/failback", "lab", "up", "--dir", dir},
		{"/usr/bin/failback"},
	} {
		if isAzure(dir)(argv) {
			t.Fatalf("%v taken for the lab's Azure process of %s", argv, dir)
		}
	}
	data := filepath.Join(dir, "azurite")
	if !isAzurite(data)([]string{"node", "/x/node_modules/.bin/azurite-blob", "--blobHost", "127.0.0.1", "--location", data}) {
		t.Fatal("Azurite was not recognised")
	}
	if isAzurite(data)([]string{"node", "/x/azurite-blob", "--location", "/other/azurite"}) ||
		isAzurite(data)([]string{"node", "server.js", "--location", data}) {
		t.Fatal("another process taken for the lab's Azurite")
	}
}

func TestStopProcessSparesAStranger(t *testing.T) {
	// A process whose pid lab.json might name after a reuse: not ours.
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	defer func() { _ = cmd.Process.Kill(); <-done }()
	pid := cmd.Process.Pid
	// Until the child has exec'd, its command line is still this test's.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if argv, err := cmdline(pid); (err == nil && argv[0] == "sleep") || time.Now().After(deadline) {
			break
		}
	}
	if err := stopProcess(context.Background(), pid, isAzure("/tmp/lab"), time.Second); err != nil {
		t.Fatal(err)
	}
	if !alive(pid) {
		t.Fatal("stopProcess killed a process that is not the lab's")
	}
	if err := stopProcess(context.Background(), pid, func(argv []string) bool { return argv[0] == "sleep" }, time.Second); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stopProcess returned but the process still runs")
	}
	if alive(pid) {
		t.Fatal("an exited, reaped process counts as alive")
	}
}

func TestZombieIsNotAlive(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) { // exited but not reaped: a zombie until Wait
		if time.Now().After(deadline) {
			t.Fatal("an exited child still counts as alive")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
