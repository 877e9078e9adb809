package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const value = "hunter2-TOP-SECRET"

// Every way of printing or encoding a Secret hides the value, also in a
// struct that holds it in an unexported field (where fmt cannot call its
// methods) or by pointer.
func TestSecretNeverPrints(t *testing.T) {
	s := New(value)
	type inner struct{ k Secret }
	holder := struct {
		Password Secret
		P        *Secret
		hidden   Secret
		nested   inner
	}{s, &s, s, inner{s}}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "s", s, "h", holder)
	j, _ := json.Marshal(holder)
	txt, _ := s.MarshalText()
	outs := []string{logged.String(), string(j), string(txt), s.String(), s.GoString()}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, holder), fmt.Sprintf(verb, &holder))
	}
	for _, out := range outs {
		if strings.Contains(out, value) || strings.Contains(strings.ToLower(out), fmt.Sprintf("%x", value)[:16]) {
			t.Errorf("the secret shows: %s", out)
		}
	}
	if !strings.Contains(fmt.Sprintf("%v %#v %q", s, s, s), Redacted) || !strings.Contains(string(j), Redacted) {
		t.Error("no redaction marker")
	}
	if s.Reveal() != value || !s.IsSet() || s.IsZero() {
		t.Error("Reveal/IsSet lost the value")
	}
}

func TestUnsetSecret(t *testing.T) {
	var zero Secret
	for _, s := range []Secret{zero, New("")} {
		if s.IsSet() || !s.IsZero() || s.Reveal() != "" || s.String() != "" || fmt.Sprint(s) != "" {
			t.Errorf("unset secret: set %v, printed %q", s.IsSet(), fmt.Sprint(s))
		}
	}
}

// A config file fills a Secret through UnmarshalText; the redaction marker
// pasted back from a dump is refused rather than taken as the credential.
func TestUnmarshalText(t *testing.T) {
	var s Secret
	if err := s.UnmarshalText([]byte("x")); err != nil || s.Reveal() != "x" {
		t.Fatalf("%v %q", err, s.Reveal())
	}
	var back struct{ P Secret }
	err := json.Unmarshal([]byte(`{"P":"[redacted]"}`), &back)
	if !errors.Is(err, ErrPlaceholder) || back.P.IsSet() {
		t.Fatalf("a redacted dump read back: %v, set %v", err, back.P.IsSet())
	}
}
