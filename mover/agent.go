package mover

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/failback/failback/agent"
	"github.com/failback/failback/azure"
	"github.com/failback/failback/engine"
)

// A mover reads a page-blob snapshot through the Azure-side agent when
// the driver names one (checksums computed in Azure, only differing
// blocks cross the WAN, compressed), falling back to the snapshot's URL
// while the agent is unreachable, exactly as a driver does; its figures
// ride on the progress frames and its warnings on log frames.

// Agent is the agent a mover reads one snapshot through. Token is a
// secret, as a Source's URL.
type Agent struct {
	URL             string `json:"url"`
	CertFingerprint string `json:"cert_fingerprint,omitempty"`
	CertPEM         []byte `json:"cert_pem,omitempty"`
	Token           string `json:"token"`
	Container       string `json:"container"`
	Blob            string `json:"blob"`
	Snapshot        string `json:"snapshot"`
}

// AgentFigures are what crossed the agent's link for one source.
type AgentFigures struct {
	// AzureChecked are disk bytes whose checksums the agent computed in
	// Azure; BlockBytes the blocks it sent, before compression;
	// LinkBytes everything on the link, both ways; CompressionSaved what
	// compression and zero markers kept off it.
	AzureChecked     int64 `json:"azure_checked"`
	BlockBytes       int64 `json:"block_bytes"`
	LinkBytes        int64 `json:"link_bytes"`
	CompressionSaved int64 `json:"compression_saved"`
	// DirectBytes were read straight from storage while the agent was
	// unreachable; Fallback says it is now, FallbackSwitches how often.
	DirectBytes      int64 `json:"direct_bytes,omitempty"`
	Fallback         bool  `json:"fallback,omitempty"`
	FallbackSwitches int64 `json:"fallback_switches,omitempty"`
}

// FiguresOf is an agent source's counters in these terms (the one
// mapping: a driver reading through the agent itself uses it too).
func FiguresOf(st agent.Stats) AgentFigures {
	return AgentFigures{AzureChecked: st.CheckedBytes, BlockBytes: st.BlockBytes, LinkBytes: st.WireBytes(),
		CompressionSaved: st.CompressionSaved(), DirectBytes: st.FallbackReadBytes + st.FallbackHashedBytes,
		Fallback: st.Fallback, FallbackSwitches: st.FallbackSwitches}
}

// FallbackReporter is a source that can say it reads straight from
// storage now (the agent's, while the agent is unreachable).
type FallbackReporter interface{ FallingBack() bool }

// CheapSums says src computes checksums next to the data (the agent), so
// comparing a whole disk moves only checksums; an agent that is down
// reads everything directly, so then it is not.
func CheapSums(src engine.Source) bool {
	if _, ok := src.(engine.BlockHasher); !ok {
		return false
	}
	if f, ok := src.(FallbackReporter); ok && f.FallingBack() {
		return false
	}
	return true
}

// viaAgent opens the snapshot through the agent, with direct as its
// fallback; log gets the agent's warnings.
func viaAgent(ctx context.Context, a *Agent, direct *azure.SnapshotSource, log *slog.Logger) (*agent.Source, error) {
	return agent.NewSource(ctx, agent.Options{URL: a.URL, CertFingerprint: a.CertFingerprint, CertPEM: a.CertPEM,
		Token: azure.NewSecret(a.Token), Container: a.Container, Blob: a.Blob, Snapshot: a.Snapshot,
		Fallback: direct, Logger: log})
}

// reachAgent asks the agent what it is, with its pinned certificate and
// token, as a read through it would.
func reachAgent(ctx context.Context, a Agent) error {
	_, err := agent.Reach(ctx, agent.Options{URL: a.URL, CertFingerprint: a.CertFingerprint, CertPEM: a.CertPEM,
		Token: azure.NewSecret(a.Token)}, reachAgentTimeout)
	return err
}

// reachAgentTimeout bounds the pre-flight's question to the agent.
const reachAgentTimeout = 15 * time.Second

// AgentRefused says the agent refused the token or its certificate is
// not the one pinned: a configuration to fix (a read through it fails),
// not an outage (a read falls back to storage).
func AgentRefused(err error) bool {
	return errors.Is(err, agent.ErrUnauthorized) || errors.Is(err, agent.ErrCertMismatch)
}

// ReachAgent checks from the host that it reads through the agent (its
// address, certificate and token).
func (c *Client) ReachAgent(ctx context.Context, a Agent) error {
	return c.call(ctx, opReachAgent, a, nil, handlers{})
}

// frameLog is a slog.Handler sending a call's records to the driver as
// log frames (the job's log there), never to the mover's stderr.
type frameLog struct {
	c     *call
	attrs []slog.Attr
}

func (h frameLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h frameLog) Handle(_ context.Context, r slog.Record) error {
	line := logLine{Level: "info", Text: r.Message}
	switch {
	case r.Level >= slog.LevelError:
		line.Level = "error"
	case r.Level >= slog.LevelWarn:
		line.Level = "warn"
	}
	for _, a := range h.attrs {
		line.Attrs = append(line.Attrs, [2]string{a.Key, a.Value.Resolve().String()})
	}
	r.Attrs(func(a slog.Attr) bool {
		line.Attrs = append(line.Attrs, [2]string{a.Key, a.Value.Resolve().String()})
		return true
	})
	_ = h.c.s.out.sendBody(frame{Kind: kindLog, ID: h.c.id}, line)
	return nil
}

func (h frameLog) WithAttrs(as []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return h
}

func (h frameLog) WithGroup(string) slog.Handler { return h }
