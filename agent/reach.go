package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Reach asks the agent what it is (/v1/info), once, with the pinned
// certificate and the token: whether this machine can read through it.
// o names no snapshot; it waits at most timeout.
func Reach(ctx context.Context, o Options, timeout time.Duration) (Info, error) {
	s, err := newSource(o)
	if err != nil {
		return Info{}, err
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body, err := s.get(ctx, s.reqPrefix+"-reach", pathInfo, nil)
	if err != nil {
		return Info{}, fmt.Errorf("agent %s: %w", s.base.Host, err)
	}
	defer body.Close()
	var in Info
	if err := json.NewDecoder(io.LimitReader(body, 1<<16)).Decode(&in); err != nil {
		return Info{}, fmt.Errorf("agent %s: its info: %w", s.base.Host, err)
	}
	if in.Protocol != ProtocolVersion {
		return in, fmt.Errorf("agent %s speaks protocol %d, this program %d: run the agent of this build", s.base.Host, in.Protocol, ProtocolVersion)
	}
	return in, nil
}
