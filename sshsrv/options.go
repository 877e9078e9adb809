package sshsrv

import (
	"fmt"
	"net"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/failback/failback/workflow"
)

// keyOptions are the options of one authorized-keys line.
type keyOptions struct {
	role    workflow.Role
	from    *sourceList // nil: any address
	expires time.Time   // zero: never
}

// restrictions are OpenSSH options that only take away what failback
// never grants (forwarding, rc files): accepted as they are. Everything
// else besides role, from and expiry-time is refused by name, because
// ignoring it would grant more than the line says (command=, no-pty) or
// promise what failback does not do.
var restrictions = map[string]bool{
	"restrict": true, "no-agent-forwarding": true, "no-port-forwarding": true,
	"no-x11-forwarding": true, "no-user-rc": true, "pty": true,
}

// parseOptions reads a line's options (as ssh.ParseAuthorizedKey splits
// them: name or name="value").
func parseOptions(options []string) (keyOptions, error) {
	var o keyOptions
	seen := map[string]bool{}
	for _, opt := range options {
		name, value, hasValue := strings.Cut(opt, "=")
		name = strings.ToLower(name)
		if seen[name] && !restrictions[name] {
			return o, fmt.Errorf("option %s given twice: keep one", name)
		}
		seen[name] = true
		value = unquote(value)
		switch {
		case name == "role":
			switch r := workflow.Role(strings.ToLower(value)); r {
			case workflow.RoleOperator, workflow.RoleViewer:
				o.role = r
			default:
				return o, fmt.Errorf("unknown role %q: use role=operator or role=viewer", value)
			}
		case name == "from" && hasValue:
			l, err := parseSources(value)
			if err != nil {
				return o, fmt.Errorf("from=%q: %w", value, err)
			}
			o.from = l
		case name == "expiry-time" && hasValue:
			t, err := parseExpiry(value)
			if err != nil {
				return o, fmt.Errorf("expiry-time=%q: %w", value, err)
			}
			o.expires = t
		case restrictions[name] && !hasValue:
		default:
			return o, fmt.Errorf("option %s is not implemented by failback's SSH server; remove it (failback honours only role=, from=, expiry-time= and the no-*-forwarding restrictions)", name)
		}
	}
	if o.role == "" {
		return o, fmt.Errorf("no role: put role=operator or role=viewer before the key type")
	}
	return o, nil
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return strings.ReplaceAll(v, `\"`, `"`)
}

// parseExpiry reads OpenSSH's YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]: the
// system's time zone unless Z says UTC.
func parseExpiry(v string) (time.Time, error) {
	loc := time.Local
	if s, ok := strings.CutSuffix(v, "Z"); ok {
		v, loc = s, time.UTC
	}
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(v)]
	if !ok {
		return time.Time{}, fmt.Errorf("write YYYYMMDD or YYYYMMDDHHMM[SS], with a final Z for UTC")
	}
	t, err := time.ParseInLocation(layout, v, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a date or time: write YYYYMMDD or YYYYMMDDHHMM[SS], with a final Z for UTC")
	}
	return t, nil
}

// sourceList is a from= pattern list: addresses with * and ? wildcards,
// or CIDR prefixes, each negated by a leading !. A client is allowed when
// some pattern matches its address and no negated one does. Host names
// are not looked up (as OpenSSH with UseDNS no), so they are refused.
type sourceList struct {
	text     string
	patterns []sourcePattern
}

type sourcePattern struct {
	neg    bool
	prefix netip.Prefix // valid for a CIDR pattern
	glob   string       // else: a wildcard pattern over the address text
}

func parseSources(v string) (*sourceList, error) {
	l := &sourceList{text: v}
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		sp := sourcePattern{}
		if rest, ok := strings.CutPrefix(p, "!"); ok {
			sp.neg, p = true, rest
		}
		switch {
		case p == "":
			return nil, fmt.Errorf("an empty pattern: separate patterns with single commas")
		case strings.Contains(p, "/"):
			pre, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address prefix like 10.1.0.0/16", p)
			}
			sp.prefix = pre.Masked()
		case strings.Trim(strings.ToLower(p), "0123456789abcdef.:*?") != "":
			return nil, fmt.Errorf("%q names a host: failback matches client addresses only (no DNS lookups); write addresses, wildcards or CIDR prefixes", p)
		default:
			sp.glob = strings.ToLower(p)
		}
		l.patterns = append(l.patterns, sp)
	}
	return l, nil
}

// allows says whether addr may use the key.
func (l *sourceList) allows(addr net.Addr) bool {
	ip, err := netip.ParseAddr(hostOf(addr))
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	text := strings.ToLower(ip.String())
	allowed := false
	for _, p := range l.patterns {
		var match bool
		if p.prefix.IsValid() {
			match = p.prefix.Contains(ip)
		} else {
			match, _ = path.Match(p.glob, text)
		}
		if match && p.neg {
			return false
		}
		allowed = allowed || match
	}
	return allowed
}
