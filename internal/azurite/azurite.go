// Package azurite installs and starts the pinned Azurite blob server, the
// Azure storage account used by tests, CI and the lab. It is a real server
// on a loopback port, never a fake.
package azurite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Version is the pinned Azurite release; tools/azurite/package.json pins
// the same one for the repository's tests and CI.
const Version = "3.37.0"

// AccountName and AccountKey are Azurite's well-known development account.
// They are public constants of Azurite, not secrets.
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Options say how to start the server.
type Options struct {
	// Dir holds the server's data. Empty means in memory (fastest, lost on
	// exit): right for tests.
	Dir string
	// Port to listen on; 0 picks a free one.
	Port int
	// Log receives the server's output when not nil.
	Log io.Writer
}

// Server is a running Azurite blob service.
type Server struct {
	cmd  *exec.Cmd
	Port int
	done chan struct{}
	err  error
	once sync.Once
}

// ConnectionString is the azblob connection string for Azurite on port.
func ConnectionString(port int) string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://127.0.0.1:%d/%s;",
		AccountName, AccountKey, port, AccountName)
}

// Stop ends the server and waits for it.
func (s *Server) Stop() error {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
	return nil
}

var listenRE = regexp.MustCompile(`successfully listens on https?://[^:]+:(\d+)`)

// Start launches azurite-blob from the install at bin (see Ensure) and
// waits until it listens. The server runs until Stop or until ctx ends.
func Start(ctx context.Context, bin string, o Options) (*Server, error) {
	args := []string{
		"--blobHost", "127.0.0.1",
		"--blobPort", fmt.Sprint(o.Port),
		"--skipApiVersionCheck", // azblob sends an API version newer than Azurite knows (docs/FACTS.md)
		"--loose",
		"--disableTelemetry",
	}
	if o.Dir == "" {
		args = append(args, "--inMemoryPersistence")
	} else {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("azurite data folder: %w", err)
		}
		args = append(args, "--location", o.Dir)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "AZURITE_SKIP_API_VERSION_CHECK=true")
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	// The server dies with its parent: its output goes through a pipe to
	// this process. The lab, whose Azurite outlives the command, starts
	// its own (lab/azurite.go).
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start azurite (%s): %w", bin, err)
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	portc := make(chan int, 1)
	var head strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			line := sc.Text()
			if o.Log != nil {
				fmt.Fprintln(o.Log, line)
			}
			if !found {
				if head.Len() < 4096 {
					head.WriteString(line + "\n")
				}
				if m := listenRE.FindStringSubmatch(line); m != nil {
					var p int
					fmt.Sscan(m[1], &p)
					portc <- p
					found = true
				}
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	select {
	case p := <-portc:
		s.Port = p
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("azurite exited before listening: %v\n%s", s.err, head.String())
	case <-time.After(60 * time.Second):
		_ = s.Stop()
		return nil, errors.New("azurite did not listen within 60s")
	}
}

// Ensure returns the path of the azurite-blob program, installing the
// pinned version with npm when it is missing. It prefers the repository's
// tools/azurite (found by walking up from the working folder) and falls back
// to cacheDir, so the binary works outside the repository too.
func Ensure(ctx context.Context, cacheDir string, log io.Writer) (string, error) {
	if log == nil {
		log = io.Discard
	}
	if dir := repoToolsDir(); dir != "" {
		bin := filepath.Join(dir, "node_modules", ".bin", "azurite-blob")
		if _, err := os.Stat(bin); err == nil {
			return bin, nil
		}
		if err := npm(ctx, log, dir, "ci", "--no-audit", "--no-fund"); err != nil {
			return "", err
		}
		return bin, nil
	}
	dir := filepath.Join(cacheDir, "azurite-"+Version)
	bin := filepath.Join(dir, "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := npm(ctx, log, dir, "install", "--no-audit", "--no-fund", "--prefix", dir, "azurite@"+Version); err != nil {
		return "", err
	}
	return bin, nil
}

func npm(ctx context.Context, log io.Writer, dir string, args ...string) error {
	if _, err := exec.LookPath("npm"); err != nil {
		return errors.New("azurite: npm is not installed; install Node.js 18 or newer (Debian: apt-get install nodejs npm) and try again")
	}
	fmt.Fprintf(log, "installing Azurite %s with npm in %s (first use only)...\n", Version, dir)
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = dir
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("azurite: npm %s in %s failed: %w (is the npm registry reachable?)", args[0], dir, err)
	}
	return nil
}

// repoToolsDir finds tools/azurite in the enclosing repository, if any.
func repoToolsDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "tools", "azurite", "package.json")
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), `"azurite": "`+Version+`"`) {
			return filepath.Dir(p)
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}
