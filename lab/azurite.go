package lab

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The lab starts Azurite itself rather than through azurite.Start: a lab's
// Azurite must outlive lab up, so its output goes to a log file (Start
// reads it through a pipe, which kills a detached Azurite at its first
// write after lab up exits) and it runs in a session of its own.

var listenRE = regexp.MustCompile(`successfully listens on https?://[^:]+:(\d+)`)

// startAzurite runs the azurite-blob program bin detached, keeping its
// data in dataDir, on a free loopback port, and waits until it listens.
func startAzurite(ctx context.Context, bin, dataDir, logPath string) (pid, port int, err error) {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return 0, 0, fmt.Errorf("azurite data folder: %w", err)
	}
	var start int64
	if st, err := os.Stat(logPath); err == nil {
		start = st.Size()
	}
	argv := []string{bin,
		"--blobHost", "127.0.0.1",
		"--blobPort", "0",
		"--skipApiVersionCheck", // azblob sends an API version newer than Azurite knows
		"--loose",
		"--disableTelemetry",
		"--silent", // no access log: the VM writers would fill the log file
		"--location", dataDir,
	}
	env := append(os.Environ(), "AZURITE_SKIP_API_VERSION_CHECK=true")
	pid, err = startDetached(argv, env, logPath)
	if err != nil {
		return 0, 0, fmt.Errorf("azurite: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := readFrom(logPath, start)
		if m := listenRE.FindSubmatch(out); m != nil {
			port, _ = strconv.Atoi(string(m[1]))
			return pid, port, nil
		}
		if !alive(pid) {
			return 0, 0, fmt.Errorf("azurite exited before listening; its output (%s):\n%s", logPath, tail(out, 2000))
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			_ = stopProcess(context.Background(), pid, isAzurite(dataDir), 5*time.Second)
			if ctx.Err() != nil {
				return 0, 0, ctx.Err()
			}
			return 0, 0, fmt.Errorf("azurite did not listen within 60s; see %s", logPath)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// readFrom returns the file's bytes from offset on (nothing on error).
func readFrom(path string, off int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.NewSectionReader(f, off, 1<<20))
	return b
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}

// azuriteAnswers reports whether an Azurite blob service answers on port:
// any HTTP answer whose Server header names Azurite.
func azuriteAnswers(ctx context.Context, port int) bool {
	if port <= 0 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/devstoreaccount1?comp=list", port)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return strings.Contains(strings.ToLower(resp.Header.Get("Server")), "azurite")
}
