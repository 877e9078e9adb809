package crypt

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Disk names one encrypted disk of a job and its parsed metadata.
type Disk struct {
	// Name is how the operator knows the disk ("web01 disk 0", a blob URL).
	Name string
	Meta Meta
}

// Check is what CheckCertificate validates.
type Check struct {
	// Thumbprint is the certificate the operator chose.
	Thumbprint string
	// Disks are every encrypted disk of the job.
	Disks []Disk
	// Now is the time validity is judged at.
	Now time.Time
	// AllowExpired is the operator's override (AllowExpiredFlag).
	AllowExpired bool
}

// Unlocked is a passed check: the certificate and each disk's data key, by
// disk name. Destroy it when the job no longer needs the keys.
type Unlocked struct {
	Cert *Cert
	Keys map[string]*DataKey
}

// Destroy overwrites the data keys and drops the private key.
func (u *Unlocked) Destroy() {
	if u == nil {
		return
	}
	for _, k := range u.Keys {
		k.Destroy()
	}
	u.Cert.Destroy()
}

// CheckCertificate is the preflight of an encrypted job: run it before any
// byte is written. It loads the chosen certificate from the store and
// unwraps every disk's data key, and returns every problem at once (joined;
// each wraps its sentinel, so errors.Is finds each): the certificate's own
// refusals (see Store.Select), then per disk ErrThumbprintMismatch (the
// disk was encrypted for another certificate; the message says whether the
// folder has that one), ErrUnknownVersion, and ErrUnwrap. It may prompt for
// PFX passwords through the store.
func CheckCertificate(ctx context.Context, s *Store, c Check) (*Unlocked, error) {
	t, err := NormalizeThumbprint(c.Thumbprint)
	if err != nil {
		return nil, fmt.Errorf("crypt: %w", err)
	}
	var problems []error
	cert, es, err := s.find(ctx, t, c.Now)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	if err != nil {
		problems = append(problems, err)
	} else if err := validity(cert, c.Now, c.AllowExpired); err != nil {
		problems = append(problems, err)
	}
	u := &Unlocked{Cert: cert, Keys: map[string]*DataKey{}}
	seen := map[string]bool{}
	for _, d := range c.Disks {
		if seen[d.Name] {
			problems = append(problems, fmt.Errorf("crypt: disk name %q appears twice; keys are returned by name, so names must be unique", d.Name))
			continue
		}
		seen[d.Name] = true
		switch {
		case d.Meta.Version != Version:
			problems = append(problems, fmt.Errorf("crypt: disk %s: %w: version %d, this build reads %d", d.Name, ErrUnknownVersion, d.Meta.Version, Version))
		case d.Meta.Thumbprint != t:
			where := "which is not in " + s.Dir() + "; copy it there"
			if hasThumbprint(es, d.Meta.Thumbprint) {
				where = "which is in " + s.Dir() + ": choose it instead"
			}
			problems = append(problems, fmt.Errorf("crypt: disk %s: %w: it was encrypted for certificate %s, not the chosen %s, %s", d.Name, ErrThumbprintMismatch, d.Meta.Thumbprint, t, where))
		case cert != nil:
			k, err := cert.Unwrap(d.Meta)
			if err != nil {
				problems = append(problems, fmt.Errorf("disk %s: %w", d.Name, err))
				continue
			}
			u.Keys[d.Name] = k
		}
	}
	if len(problems) > 0 {
		u.Destroy()
		return nil, errors.Join(problems...)
	}
	return u, nil
}
