package wizard

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

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
	if key.Matches(k, km.Wizard.Retry) {
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
	case key.Matches(k, km.Wizard.Next):
		return c.pick(false)
	case key.Matches(k, km.Wizard.Override):
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
		return common.Status(fmt.Sprintf("%s does not unlock these disks (%s): pick one marked ✓.", shortName(ci.Subject), orText(ci.Problem, "no match")), true)
	case !ci.HasKey:
		return common.Status(shortName(ci.Subject)+" has no private key: import the .pfx with its key, then press r.", true)
	case ci.Expired && !override:
		return common.Status(fmt.Sprintf("%s expired on %s: press o to use it anyway.", shortName(ci.Subject), ci.NotAfter.Format("2006-01-02")), true)
	}
	c.s.choices.CertThumbprint = ci.Thumbprint
	c.s.choices.AllowExpiredCert = ci.Expired
	c.s.cert = &ci
	return nav(+1)
}

// needed says which thumbprint each encrypted disk needs.
func (c *certStep) needed() []string {
	st := c.s.c.Styles
	by := map[string][]string{}
	for disk, th := range c.rep.Disks {
		by[th] = append(by[th], disk)
	}
	var out []string
	for _, th := range c.rep.Needed {
		disks := by[th]
		sort.Strings(disks)
		text := "Needed: " + th
		if len(disks) > 0 {
			text += " for " + strings.Join(disks, ", ")
		}
		out = append(out, common.StyleLines(st.Subtle, strings.Join(common.Hang("", text, 8, c.w), "\n")))
	}
	return out
}

// shortName is a certificate's common name, or its whole subject.
func shortName(subject string) string {
	for _, part := range strings.Split(subject, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok && v != "" {
			return v
		}
	}
	return subject
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
	out = append(out, c.needed()...)
	if len(c.rep.Certs) == 0 {
		return strings.Join(append(out, st.Error.Render("No certificate in the store. Add the .pfx to the certificate store, then press r.")), "\n")
	}
	// The subject's common name as wide as the longest (up to a third of
	// the screen; the whole subject is on the line under the table), the
	// thumbprint whole when it fits, else cut with "…" (the file line
	// below and the "Needed" line above give it whole).
	subW := len("SUBJECT")
	for _, ci := range c.rep.Certs {
		subW = max(subW, ansi.StringWidth(shortName(ci.Subject)))
	}
	subW = min(subW, max(c.w/3, 20))
	const tail = 1 + 10 + 2 + 16 // expiry, match and "EXPIRED"
	tw := min(40, max(c.w-4-subW-1-tail, 12))
	out = append(out, "", st.Subtle.Render(fmt.Sprintf("    %s %s %-10s  %s", common.Pad("SUBJECT", subW), common.Pad("THUMBPRINT", tw), "EXPIRES", "UNLOCKS")))
	for i, ci := range c.rep.Certs {
		match := st.OK.Render("✓ yes")
		if !ci.Matches {
			match = st.Fail.Render("✗ no")
		}
		if ci.Expired {
			match += st.Warn.Render(", EXPIRED")
		}
		line := fmt.Sprintf("%s %s %s  %s", common.Pad(shortName(ci.Subject), subW), common.Pad(ci.Thumbprint, tw),
			ci.NotAfter.Format("2006-01-02"), match)
		if i == c.cursor {
			out = append(out, st.Selected.Render("  > ")+line)
		} else {
			out = append(out, "    "+line)
		}
		if ci.Problem != "" {
			out = append(out, common.StyleLines(st.Subtle, strings.Join(common.Hang("      problem: ", ci.Problem, 15, c.w), "\n")))
		}
	}
	ci := c.rep.Certs[c.cursor]
	keyNote := "private key present"
	if !ci.HasKey {
		keyNote = "NO private key"
	}
	out = append(out, "", common.StyleLines(st.Subtle, common.Wrap(fmt.Sprintf("%s (%s): thumbprint %s, valid %s to %s, %s",
		ci.Subject, ci.File, ci.Thumbprint, ci.NotBefore.Format("2006-01-02"), ci.NotAfter.Format("2006-01-02"), keyNote), c.w)))
	if ci.Expired && ci.Matches {
		out = append(out, st.Warn.Render("This certificate has expired. Press o to use it anyway (override)."))
	}
	return strings.Join(out, "\n")
}

func (c *certStep) ShortHelp() []key.Binding {
	km := c.s.c.Keys
	up := km.Up
	up.SetHelp("↑/↓", "certificate")
	b := []key.Binding{up, km.Wizard.Next}
	if c.rep != nil && c.cursor < len(c.rep.Certs) && c.rep.Certs[c.cursor].Expired {
		b = append(b, km.Wizard.Override)
	}
	return b
}

func (c *certStep) FullHelp() [][]key.Binding {
	km := c.s.c.Keys
	return [][]key.Binding{{km.Up, km.Down, km.Wizard.Next, km.Wizard.Override, km.Wizard.Retry}}
}
