package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/failback/failback/internal/osfile"
)

// ErrNoDriver: no process serves the state folder's control socket; open
// a Manager instead.
var ErrNoDriver = errors.New("no failback process drives this state folder")

// ErrUntrustedSocket: the control socket named in the state folder is in
// a folder other users may write, or is served by a process of another
// user; failback sends it nothing.
var ErrUntrustedSocket = errors.New("the control socket is not this user's")

// callTimeout bounds the calls of Service that take no context.
const callTimeout = 15 * time.Second

// Client is Service over the control socket of the process that drives a
// state folder's jobs (failback serve, a console, or a script command
// driving a job). Calls without a context that fail (the driver went
// away) return empty answers; Err says why.
type Client struct {
	hc   *http.Client
	info controlInfo

	mu      sync.Mutex
	lastErr error
}

var _ Service = (*Client)(nil)

// Dial connects to the driver of the state folder dir, or returns
// ErrNoDriver when none runs.
func Dial(ctx context.Context, dir string) (*Client, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(paths{root: abs}.control())
	if err != nil {
		return nil, ErrNoDriver
	}
	var info controlInfo
	if json.Unmarshal(b, &info) != nil || info.Socket == "" {
		return nil, ErrNoDriver
	}
	// Trusted: this user, root, and whoever owns the state folder (a
	// service account driving it, when root runs a script command).
	owner := osfile.Owner(abs)
	if err := osfile.CheckTrustedDir(filepath.Dir(info.Socket), owner); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, ErrNoDriver
		}
		return nil, fmt.Errorf("%w: %v; failback sends commands only through folders of this user, root or the state folder's owner that no one else may write: check who changed it", ErrUntrustedSocket, err)
	}
	c := &Client{info: info, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			conn, err := d.DialContext(ctx, "unix", info.Socket)
			if err != nil {
				return nil, err
			}
			if uid, pid, ok := osfile.PeerCred(conn); ok && !trusted(uid) && uid != owner {
				conn.Close()
				return nil, fmt.Errorf("%w: %s is served by process %d of uid %d, not by this user, root or the state folder's owner; stop that process", ErrUntrustedSocket, info.Socket, pid, uid)
			}
			return conn, nil
		},
		MaxIdleConns: 4,
	}}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.call(ctx, routePing, nil, nil, nil); err != nil {
		if errors.Is(err, ErrUntrustedSocket) {
			return nil, err
		}
		return nil, fmt.Errorf("%w (the control socket %s of process %d does not answer: %v)", ErrNoDriver, info.Socket, info.PID, err)
	}
	return c, nil
}

// Driver names the process behind the socket.
func (c *Client) Driver() (pid int, command string) { return c.info.PID, c.info.Command }

// Err is the last error of a call that could not return one.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// call sends body (nil for none) to rt with query q (nil for none) and
// decodes the answer into out (nil to drop it).
func (c *Client) call(ctx context.Context, rt route, q url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, rt.method, "http://failback"+rt.url(q), rd)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("control socket of process %d (%s): %w", c.info.PID, c.info.Command, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var we wireError
		if err := json.NewDecoder(resp.Body).Decode(&we); err != nil {
			return fmt.Errorf("control socket: HTTP %d", resp.StatusCode)
		}
		return remoteError(we)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// quick runs a call that has no context of its own.
func (c *Client) quick(rt route, q url.Values, body, out any) bool {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	err := c.call(ctx, rt, q, body, out)
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
	return err == nil
}

// Plans implements Service.
func (c *Client) Plans() []PlanInfo {
	var v []PlanInfo
	c.quick(routePlans, nil, nil, &v)
	return v
}

// Sites implements Service.
func (c *Client) Sites() SiteInfo {
	var v SiteInfo
	c.quick(routeSites, nil, nil, &v)
	return v
}

// CheckLocation implements Service.
func (c *Client) CheckLocation(ctx context.Context, ch Choices) (LocationReport, error) {
	var v LocationReport
	return v, c.call(ctx, routeCheckLocation, nil, request{Choices: ch}, &v)
}

// Estimate implements Service.
func (c *Client) Estimate(ctx context.Context, ch Choices) (Estimate, error) {
	var v Estimate
	return v, c.call(ctx, routeEstimate, nil, request{Choices: ch}, &v)
}

// Certificates implements Service.
func (c *Client) Certificates(ctx context.Context, ch Choices) (CertReport, error) {
	var v CertReport
	return v, c.call(ctx, routeCertificates, nil, request{Choices: ch}, &v)
}

// Preflight implements Service.
func (c *Client) Preflight(ctx context.Context, ch Choices) (PreflightReport, error) {
	var v PreflightReport
	return v, c.call(ctx, routePreflight, nil, request{Choices: ch}, &v)
}

// Start implements Service.
func (c *Client) Start(ctx context.Context, ch Choices, who Actor) (string, error) {
	var v startReply
	err := c.call(ctx, routeStart, nil, request{Choices: ch, Who: who}, &v)
	return v.ID, err
}

// Jobs implements Service.
func (c *Client) Jobs() []JobView {
	var v []JobView
	c.quick(routeJobs, nil, nil, &v)
	return v
}

// Job implements Service.
func (c *Client) Job(id string) (JobView, bool) {
	var v JobView
	ok := c.quick(routeJob, url.Values{paramID: {id}}, nil, &v)
	return v, ok
}

// Actions implements Service.
func (c *Client) Actions(id string, who Actor) []ActionState {
	var v []ActionState
	c.quick(routeActions, nil, request{ID: id, Who: who}, &v)
	return v
}

// Act implements Service.
func (c *Client) Act(ctx context.Context, id string, a Action, who Actor) error {
	return c.call(ctx, routeAct, nil, request{ID: id, Action: a, Who: who}, nil)
}

// Log implements Service.
func (c *Client) Log(id string, n int) []LogLine {
	var v []LogLine
	c.quick(routeLog, url.Values{paramID: {id}, paramLines: {strconv.Itoa(n)}}, nil, &v)
	return v
}

// Subscribe implements Service with long polls: a notice arrives after
// every change on the driver's side, and also when the driver stops
// answering (callers then see the failure through Job or Err).
func (c *Client) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	notify := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	go func() {
		var since uint64
		for ctx.Err() == nil {
			var v waitReply
			pctx, pcancel := context.WithTimeout(ctx, longPoll+10*time.Second)
			err := c.call(pctx, routeWait, url.Values{paramSince: {strconv.FormatUint(since, 10)}}, nil, &v)
			pcancel()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				c.mu.Lock()
				c.lastErr = err
				c.mu.Unlock()
				notify()
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			case v.Version != since:
				since = v.Version
				notify()
			}
		}
	}()
	return ch, cancel
}
