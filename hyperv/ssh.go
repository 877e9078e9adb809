package hyperv

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHConfig says how to reach a Hyper-V host's OpenSSH server.
type SSHConfig struct {
	// Addr is "hv01.example.com" or "hv01.example.com:2222".
	Addr string
	User string
	// KeyFile is a private key (OpenSSH or PEM format); KeyPassphrase
	// unlocks it when it is encrypted.
	KeyFile       string
	KeyPassphrase Secret
	// Password is used when set (alone or after the key).
	Password Secret
	// KnownHostsFile must list the host's key: failback never trusts a key
	// on first use.
	KnownHostsFile string
	// ConnectTimeout bounds the TCP connect and the SSH handshake (10s).
	ConnectTimeout time.Duration
	// PowerShell is the remote executable ("powershell", or "pwsh").
	PowerShell string
}

// maxOutput bounds what a script may print; ours print one JSON line.
const maxOutput = 16 << 20

// SSHRunner runs scripts on a Windows host over SSH. It keeps one
// connection and opens a session per script, reconnecting when the
// connection broke. It is safe for concurrent use.
type SSHRunner struct {
	cfg      SSHConfig
	addr     string
	auth     []ssh.AuthMethod
	hostKeys ssh.HostKeyCallback
	rawKH    ssh.HostKeyCallback

	mu     sync.Mutex
	client *ssh.Client
}

// NewSSHRunner checks the configuration and loads the key and known_hosts;
// it does not connect yet.
func NewSSHRunner(cfg SSHConfig) (*SSHRunner, error) {
	if cfg.Addr == "" || cfg.User == "" {
		return nil, errors.New("ssh: the host address and user are required")
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.PowerShell == "" {
		cfg.PowerShell = "powershell"
	}
	// The runner keeps the config for messages; the secrets live on only
	// in the auth methods.
	kept := cfg
	kept.Password, kept.KeyPassphrase = Secret{}, Secret{}
	r := &SSHRunner{cfg: kept, addr: cfg.Addr}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		r.addr = net.JoinHostPort(cfg.Addr, "22")
	}
	if cfg.KeyFile != "" {
		pem, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("ssh: read the private key: %w", err)
		}
		var signer ssh.Signer
		if cfg.KeyPassphrase.IsSet() {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(cfg.KeyPassphrase.Reveal()))
		} else {
			signer, err = ssh.ParsePrivateKey(pem)
		}
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("ssh: the key %s is encrypted: set its passphrase in the host's configuration", cfg.KeyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("ssh: the key %s cannot be used: %w", cfg.KeyFile, err)
		}
		r.auth = append(r.auth, ssh.PublicKeys(signer))
	}
	if cfg.Password.IsSet() {
		pw := cfg.Password.Reveal()
		r.auth = append(r.auth, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(r.auth) == 0 {
		return nil, errors.New("ssh: set a key file or a password for the host")
	}
	if cfg.KnownHostsFile == "" {
		return nil, errors.New("ssh: a known_hosts file is required (failback never trusts an unknown host key)")
	}
	kh, err := knownhosts.New(cfg.KnownHostsFile)
	if err != nil {
		return nil, fmt.Errorf("ssh: read known_hosts %s: %w (create it with the host's key, e.g. from ssh-keyscan checked against the host)", cfg.KnownHostsFile, err)
	}
	r.rawKH = kh
	r.hostKeys = r.checkHostKey(kh)
	return r, nil
}

// Describe implements Runner.
func (r *SSHRunner) Describe() string { return "ssh " + r.cfg.User + "@" + r.addr }

// Close closes the connection.
func (r *SSHRunner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == nil {
		return nil
	}
	err := r.client.Close()
	r.client = nil
	return err
}

// Run implements Runner.
func (r *SSHRunner) Run(ctx context.Context, script string) (Output, error) {
	inv := buildInvocation(r.cfg.PowerShell, script, maxSSHCommandLine)
	cmdline := r.cfg.PowerShell + " " + strings.Join(inv.Args, " ")
	for attempt := 0; ; attempt++ {
		client, fresh, err := r.connect(ctx)
		if err != nil {
			return Output{}, err
		}
		sess, err := client.NewSession()
		if err != nil {
			r.drop(client)
			if !fresh && attempt == 0 {
				continue // the kept connection had died: dial again once
			}
			return Output{}, r.unreachable("open an SSH session", err)
		}
		return r.runSession(ctx, client, sess, cmdline, inv.Stdin)
	}
}

func (r *SSHRunner) runSession(ctx context.Context, client *ssh.Client, sess *ssh.Session, cmdline string, stdin []byte) (Output, error) {
	defer sess.Close()
	var stdout, stderr capped
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if stdin != nil {
		sess.Stdin = bytes.NewReader(stdin)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Run(cmdline) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL) // Windows OpenSSH ignores it; Close ends the channel
		sess.Close()
		return Output{}, ctx.Err()
	}
	out := Output{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *ssh.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		out.ExitCode = exit.ExitStatus()
	case stdout.overflow || stderr.overflow:
		return out, &HostError{Kind: ErrHostFailed, Host: r.addr, Op: "run PowerShell", Detail: "the script printed more than 16 MiB"}
	default:
		// The connection broke mid-script. The script is not run again (it
		// may have changed something), but the next one dials afresh.
		r.drop(client)
		return out, r.unreachable("run PowerShell", err)
	}
	return out, nil
}

// connect returns the kept client or dials a new one (fresh = true).
func (r *SSHRunner) connect(ctx context.Context) (*ssh.Client, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client != nil {
		return r.client, false, nil
	}
	dctx, cancel := context.WithTimeout(ctx, r.cfg.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", r.addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, false, r.unreachable("connect", err)
	}
	deadline, _ := dctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(dctx, func() { _ = conn.SetDeadline(time.Now()) })
	c, chans, reqs, err := ssh.NewClientConn(conn, r.addr, &ssh.ClientConfig{
		User:              r.cfg.User,
		Auth:              r.auth,
		HostKeyCallback:   r.hostKeys,
		HostKeyAlgorithms: r.knownAlgorithms(),
		Timeout:           r.cfg.ConnectTimeout,
	})
	stop()
	if err != nil {
		conn.Close()
		var he *HostError
		switch {
		case errors.As(err, &he):
			return nil, false, he
		case strings.Contains(err.Error(), "unable to authenticate"):
			e := newHostError(ErrAccessDenied, r.addr, "SSH login as "+r.cfg.User, "the server refused the key/password")
			e.Hint = "Check the user, the key (its .pub must be in the user's authorized_keys, or administrators_authorized_keys for admins) or the password"
			return nil, false, e
		case ctx.Err() != nil:
			return nil, false, ctx.Err()
		}
		return nil, false, r.unreachable("SSH handshake", err)
	}
	_ = conn.SetDeadline(time.Time{})
	r.client = ssh.NewClient(c, chans, reqs)
	return r.client, true, nil
}

func (r *SSHRunner) drop(c *ssh.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.client == c {
		r.client.Close()
		r.client = nil
	}
}

func (r *SSHRunner) unreachable(op string, err error) error {
	e := newHostError(ErrUnreachable, r.addr, op, "")
	e.Err = err
	return e
}

// checkHostKey wraps the known_hosts callback so that a refusal says what
// the key is and how to trust it, instead of knownhosts' bare "key mismatch".
func (r *SSHRunner) checkHostKey(kh ssh.HostKeyCallback) ssh.HostKeyCallback {
	file := r.cfg.KnownHostsFile
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := kh(hostname, remote, key)
		if err == nil {
			return nil
		}
		fp := ssh.FingerprintSHA256(key)
		var ke *knownhosts.KeyError
		var rev *knownhosts.RevokedError
		switch {
		case errors.As(err, &rev):
			return &HostError{Kind: ErrHostKey, Host: hostname, Op: "check the SSH host key",
				Detail: fmt.Sprintf("the host offered %s key %s, which %s marks as revoked", key.Type(), fp, file),
				Hint:   "Do not connect; find out why the host has a revoked key"}
		case errors.As(err, &ke) && len(ke.Want) == 0:
			line := knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)
			return &HostError{Kind: ErrHostKey, Host: hostname, Op: "check the SSH host key",
				Detail: fmt.Sprintf("the host offered %s key %s, which is not in %s", key.Type(), fp, file),
				Hint: fmt.Sprintf("Compare the fingerprint with the host's own (on the host: ssh-keygen -lf C:\\ProgramData\\ssh\\ssh_host_%s_key.pub); if they match, add this line to %s: %s",
					keyFileKind(key.Type()), file, line)}
		case errors.As(err, &ke):
			var want []string
			for _, k := range ke.Want {
				want = append(want, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
			}
			return &HostError{Kind: ErrHostKey, Host: hostname, Op: "check the SSH host key",
				Detail: fmt.Sprintf("HOST KEY MISMATCH: the host offered %s key %s but known_hosts expects %s; the host was reinstalled, or someone is intercepting the connection",
					key.Type(), fp, strings.Join(want, ", ")),
				Hint: fmt.Sprintf("Only if you have verified that the host really changed: remove the old entry with ssh-keygen -R %s -f %s and add the new one",
					knownhosts.Normalize(hostname), file)}
		}
		return fmt.Errorf("check the SSH host key of %s: %w", hostname, err)
	}
}

// knownAlgorithms lists the key algorithms known_hosts holds for the host,
// so that the server offers a key we can check (a server offering ecdsa
// while known_hosts has its ed25519 key would look like a mismatch). It
// learns them by checking a throwaway key, which knownhosts answers with
// the list of keys it wanted.
func (r *SSHRunner) knownAlgorithms() []string {
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	host, _, _ := net.SplitHostPort(r.addr)
	remote := &net.TCPAddr{IP: net.ParseIP(host)}
	if remote.IP == nil {
		remote.IP = net.IPv4zero
	}
	var ke *knownhosts.KeyError
	if !errors.As(r.rawKH(r.addr, remote, probe), &ke) {
		return nil
	}
	var algos []string
	for _, k := range ke.Want {
		switch k.Key.Type() {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, k.Key.Type())
		}
	}
	return algos
}

func keyFileKind(t string) string {
	switch {
	case strings.Contains(t, "ed25519"):
		return "ed25519"
	case strings.Contains(t, "ecdsa"):
		return "ecdsa"
	}
	return "rsa"
}

// capped is a buffer that stops growing at maxOutput.
type capped struct {
	bytes.Buffer
	overflow bool
}

func (c *capped) Write(p []byte) (int, error) {
	if c.Len()+len(p) > maxOutput {
		c.overflow = true
		return 0, errors.New("output too large")
	}
	return c.Buffer.Write(p)
}
