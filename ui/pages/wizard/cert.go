package wizard

import (
	"context"
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/failback/failback/ui/common"
	"github.com/failback/failback/workflow"
)

// certStep picks the certificate that unlocks encrypted disks. It asks
// the service first and steps aside when no disk is encrypted. A
// certificate that does not match is refused; an expired one needs the
// explicit override key.
type certStep struct {
	s      *state
	req    request
	rep    *workflow.CertReport
	err    error
	cursor int
	w, h   int
}

func newCertStep(s *state) *certStep { return &certStep{s: s} }

func (c *certStep) name() string     { return "Certificate" }
func (c *certStep) busy() bool       { return c.req.busy }
func (c *certStep) leave()           { c.req.stop() }
func (c *certStep) Init() tea.Cmd    { return nil }
func (c *certStep) SetSize(w, h int) { c.w, c.h = w, h }

// skipped is known once the report for the current plan is in.
func (c *certStep) skipped() bool {
	return c.s.certFor == c.s.planKey() && c.s.noCerts
}

func (c *certStep) enter() tea.Cmd {
	id, ctx := c.s.begin(&c.req)
	c.rep, c.err = nil, nil
	ch, svc := c.s.choices, c.s.c.Svc
	return tea.Batch(c.s.spin.Tick, call(id, ctx, func(ctx context.Context) (workflow.CertReport, error) {
		return svc.Certificates(ctx, ch)
	}))
}

func (c *certStep) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded[workflow.CertReport]:
		if !c.req.accept(msg.id) {
			return c, nil
		}
		c.err = msg.err
		if msg.err != nil {
			return c, nil
		}
		c.rep = &msg.val
		c.s.certFor, c.s.noCerts = c.s.planKey(), len(msg.val.Needed) == 0
		if c.s.noCerts {
			c.s.choices.CertThumbprint, c.s.choices.AllowExpiredCert, c.s.cert = "", false, nil
			return c, nav(+1)
		}
		c.cursor = 0
		for i, ci := range msg.val.Certs {
			if ci.Thumbprint == c.s.choices.CertThumbprint {
				c.cursor = i
			}
		}
	case tea.KeyMsg:
		return c, c.key(msg)
	}
	return c, nil
}

func (c *certStep) key(k tea.KeyMsg) tea.Cmd {
	km := c.s.c.Keys
	if key.Matches(k, km.Retry) {
		return c.enter()
	}
	if c.rep == nil || len(c.rep.Certs) == 0 {
		return nil
	}
	switch {
	case key.Matches(k, km.Up):
		c.cursor = max(c.cursor-1, 0)
	case key.Matches(k, km.Down):
		c.cursor = min(c.cursor+1, len(c.rep.Certs)-1)
	case key.Matches(k, km.Next):
		return c.pick(false)
	case key.Matches(k, km.Override):
		return c.pick(true)
	}
	return nil
}

// pick chooses the certificate under the cursor if it can unlock the
// disks; override is the operator's explicit yes to an expired one.
func (c *certStep) pick(override bool) tea.Cmd {
	ci := c.rep.Certs[c.cursor]
	switch {
	case !ci.Matches:
		return common.Status(fmt.Sprintf("%s does not unlock these disks (%s): pick one marked ✓.", ci.Subject, orText(ci.Problem, "no match")), true)
	case !ci.HasKey:
		return common.Status(ci.Subject+" has no private key: import the .pfx with its key, then press r.", true)
	case ci.Expired && !override:
		return common.Status(fmt.Sprintf("%s expired on %s: press o to use it anyway.", ci.Subject, ci.NotAfter.Format("2006-01-02")), true)
	}
	c.s.choices.CertThumbprint = ci.Thumbprint
	c.s.choices.AllowExpiredCert = ci.Expired
	c.s.cert = &ci
	return nav(+1)
}

func orText(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

func (c *certStep) View() string {
	st := c.s.c.Styles
	out := []string{st.Title.Render("Encryption certificate")}
	switch {
	case c.req.busy:
		return strings.Join(append(out, c.s.waiting("looking for encrypted disks and certificates…")), "\n")
	case c.err != nil:
		return strings.Join(append(out, c.s.failed("list the certificates", c.err)), "\n")
	case c.rep == nil:
		return strings.Join(out, "\n")
	}
	out = append(out, common.Wrap("Some disks are encrypted. Pick the certificate whose private key unlocks them.", c.w))
	out = append(out, st.Subtle.Render("Needed: "+strings.Join(c.rep.Needed, ", ")))
	if len(c.rep.Certs) == 0 {
		return strings.Join(append(out, st.Error.Render("No certificate in the store. Add the .pfx to the certificate store, then press r.")), "\n")
	}
	tw := 13
	if c.w >= 110 {
		tw = 40
	}
	out = append(out, "", st.Subtle.Render(fmt.Sprintf("    %-22s %-*s %-10s  %s", "SUBJECT", tw, "THUMBPRINT", "EXPIRES", "UNLOCKS")))
	for i, ci := range c.rep.Certs {
		thumb := ci.Thumbprint
		if len(thumb) > tw {
			thumb = thumb[:tw-1] + "…"
		}
		match := st.OK.Render("✓ yes")
		if !ci.Matches {
			match = st.Fail.Render("✗ no")
		}
		if ci.Expired {
			match += st.Warn.Render(", EXPIRED")
		}
		line := fmt.Sprintf("%s %s %s  %s", common.Pad(ci.Subject, 22), common.Pad(thumb, tw),
			ci.NotAfter.Format("2006-01-02"), match)
		if i == c.cursor {
			out = append(out, st.Selected.Render("  > ")+line)
		} else {
			out = append(out, "    "+line)
		}
		if ci.Problem != "" {
			out = append(out, st.Subtle.Render("      problem: "+ci.Problem))
		}
	}
	ci := c.rep.Certs[c.cursor]
	keyNote := "private key present"
	if !ci.HasKey {
		keyNote = "NO private key"
	}
	out = append(out, "", st.Subtle.Render(fmt.Sprintf("%s: valid %s to %s, %s",
		ci.File, ci.NotBefore.Format("2006-01-02"), ci.NotAfter.Format("2006-01-02"), keyNote)))
	if ci.Expired && ci.Matches {
		out = append(out, st.Warn.Render("This certificate has expired. Press o to use it anyway (override)."))
	}
	return strings.Join(out, "\n")
}

func (c *certStep) ShortHelp() []key.Binding {
	km := c.s.c.Keys
	up := km.Up
	up.SetHelp("↑/↓", "certificate")
	b := []key.Binding{up, km.Next}
	if c.rep != nil && c.cursor < len(c.rep.Certs) && c.rep.Certs[c.cursor].Expired {
		b = append(b, km.Override)
	}
	return b
}

func (c *certStep) FullHelp() [][]key.Binding {
	km := c.s.c.Keys
	return [][]key.Binding{{km.Up, km.Down, km.Next, km.Override, km.Retry}}
}
