package crypt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// AllowExpiredFlag is the command-line flag that sets allowExpired; error
// messages name it, so the CLI must use exactly this name.
const AllowExpiredFlag = "--allow-expired-cert"

// StoreOptions says where PFX passwords come from.
type StoreOptions struct {
	// Passwords maps a PFX file name (as in the folder, or its full path) or
	// a certificate thumbprint to the file's password. A password given by
	// file name is the only one tried for that file; passwords given by
	// thumbprint are tried on every PFX file no name entry covers.
	Passwords map[string]Secret
	// Prompt asks the operator for a PFX file's password. Select calls it,
	// only when the thumbprint is not in any file it could open without
	// asking, once per locked file. Nil means never ask.
	Prompt func(ctx context.Context, file string) (Secret, error)
}

// Store is a folder of certificates: PEM files (.pem .crt .cer .key, a
// certificate and optionally its private key, PKCS#1 or PKCS#8) and PFX
// files (.pfx .p12). It is safe for concurrent use.
type Store struct {
	dir string
	opt StoreOptions

	mu sync.Mutex
	// answers are passwords that opened a file (from Unlock or Prompt),
	// kept for the store's life so the operator is asked once.
	answers map[string]Secret
}

// NewStore returns the store of the certificates in dir. Nothing is read
// until List or Select.
func NewStore(dir string, opt StoreOptions) *Store {
	return &Store{dir: dir, opt: opt, answers: map[string]Secret{}}
}

// Dir is the folder the store reads.
func (s *Store) Dir() string { return s.dir }

// CertInfo describes one file of the store: what the console lists.
type CertInfo struct {
	// File is the file name inside the folder; Path the full path.
	File string `json:"file"`
	Path string `json:"path"`
	// Format is "pem" or "pfx".
	Format string `json:"format"`
	// CommonName is the subject's CN; Subject the full distinguished name.
	CommonName string `json:"common_name,omitempty"`
	Subject    string `json:"subject,omitempty"`
	Issuer     string `json:"issuer,omitempty"`
	// Thumbprint is the SHA-1 thumbprint as Windows shows it.
	Thumbprint string    `json:"thumbprint,omitempty"`
	NotBefore  time.Time `json:"not_before,omitzero"`
	NotAfter   time.Time `json:"not_after,omitzero"`
	// Expired is true when the listing time is after NotAfter.
	Expired bool `json:"expired"`
	// HasPrivateKey is true when the file holds a usable private key for
	// the certificate (RSA, matching, readable).
	HasPrivateKey bool `json:"has_private_key"`
	// KeyType ("RSA", "ECDSA"...) and KeyBits describe the certificate's
	// public key.
	KeyType string `json:"key_type,omitempty"`
	KeyBits int    `json:"key_bits,omitempty"`
	// Locked is true for a PFX file that no known password opened.
	Locked bool `json:"locked,omitempty"`
	// Err is why the file (or its key) cannot be used; the file is still
	// listed. Error is its text, for JSON.
	Err   error  `json:"-"`
	Error string `json:"error,omitempty"`
}

// Usable reports whether the certificate can unlock disks (readable, with
// its private key), whatever its dates.
func (i CertInfo) Usable() bool { return i.Err == nil && i.HasPrivateKey }

// Matches reports whether this certificate unlocks a disk with metadata m.
func (i CertInfo) Matches(m Meta) bool { return i.Usable() && i.Thumbprint == m.Thumbprint }

// Unlocks lists the names of the disks this certificate unlocks.
func (i CertInfo) Unlocks(disks []Disk) []string {
	var names []string
	for _, d := range disks {
		if i.Matches(d.Meta) {
			names = append(names, d.Name)
		}
	}
	return names
}

// entry is a listed file and, when readable, its parsed content.
type entry struct {
	info CertInfo
	p    parsed
	ok   bool
}

// List reads every certificate file of the folder, sorted by file name. A
// file that cannot be read is listed with its error (Err); only a folder
// that cannot be read fails the listing. List never prompts: a PFX file no
// configured password opens is listed Locked; Unlock opens it.
func (s *Store) List(ctx context.Context, now time.Time) ([]CertInfo, error) {
	es, err := s.scan(ctx, now, false)
	if err != nil {
		return nil, err
	}
	out := make([]CertInfo, len(es))
	for i, e := range es {
		out[i] = e.info
	}
	wipeEntries(es, nil) // a listing needs no private key
	return out, nil
}

// Unlock tries a password on a PFX file of the folder (file name as
// listed) and remembers it for the store's life when it opens the file. It
// returns ErrPFXPassword when it does not.
func (s *Store) Unlock(file string, password Secret) error {
	path := filepath.Join(s.dir, filepath.Base(file))
	data, err := readCertFile(path)
	if err != nil {
		return fmt.Errorf("crypt: %s: %w", filepath.Base(file), err)
	}
	p, err := parsePFX(data, password.Reveal())
	if err != nil {
		return fmt.Errorf("crypt: %s: %w", filepath.Base(file), err)
	}
	if p.key != nil {
		wipeKey(p.key)
	}
	s.mu.Lock()
	s.answers[path] = password
	s.mu.Unlock()
	return nil
}

func (s *Store) scan(ctx context.Context, now time.Time, prompt bool) ([]entry, error) {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("crypt: reading the certificate folder: %w; set certificates_dir to a folder of PEM/PFX files", err)
	}
	var out []entry
	for _, de := range des {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := de.Name()
		kind := fileKind(name)
		if de.IsDir() || strings.HasPrefix(name, ".") || kind == "" {
			continue
		}
		e, err := s.load(ctx, name, kind, now, prompt)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].info.File < out[j].info.File })
	return out, nil
}

// load reads one file. Only a cancelled prompt is returned as an error;
// everything else is the entry's Err.
func (s *Store) load(ctx context.Context, name, kind string, now time.Time, prompt bool) (entry, error) {
	path := filepath.Join(s.dir, name)
	e := entry{info: CertInfo{File: name, Path: path, Format: kind}}
	fail := func(err error) (entry, error) {
		e.info.Err = fmt.Errorf("%s: %w", name, err)
		e.info.Error = e.info.Err.Error()
		return e, nil
	}
	data, err := readCertFile(path)
	if err != nil {
		return fail(err)
	}
	var p parsed
	if kind == "pem" {
		p, err = parsePEM(data)
	} else {
		p, err = s.openPFX(ctx, path, data, prompt)
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return entry{}, err
		}
		e.info.Locked = errors.Is(err, ErrPFXPassword)
	}
	if err != nil {
		return fail(err)
	}
	e.p, e.ok = p, true
	c := p.cert
	e.info.CommonName = c.Subject.CommonName
	e.info.Subject = c.Subject.String()
	e.info.Issuer = c.Issuer.String()
	e.info.Thumbprint = Thumbprint(c)
	e.info.NotBefore, e.info.NotAfter = c.NotBefore.UTC(), c.NotAfter.UTC()
	e.info.Expired = now.After(c.NotAfter)
	e.info.KeyType, e.info.KeyBits = keyDescription(c.PublicKey)
	if _, err := usableKey(p); err == nil {
		e.info.HasPrivateKey = true
	} else if !errors.Is(err, ErrNoPrivateKey) {
		return fail(err)
	}
	return e, nil
}

// openPFX tries the passwords the store knows, then (if prompt) asks.
func (s *Store) openPFX(ctx context.Context, path string, data []byte, prompt bool) (parsed, error) {
	name := filepath.Base(path)
	s.mu.Lock()
	answer, answered := s.answers[path]
	s.mu.Unlock()
	if answered {
		if p, err := parsePFX(data, answer.Reveal()); err == nil {
			return p, nil
		}
	}
	byName, named := s.opt.Passwords[name]
	if !named {
		byName, named = s.opt.Passwords[path]
	}
	var tried error
	if named {
		p, err := parsePFX(data, byName.Reveal())
		if err == nil || !errors.Is(err, ErrPFXPassword) {
			return p, err
		}
		tried = fmt.Errorf("%w: the password configured for %s does not open it; correct it in the configuration", ErrPFXPassword, name)
	} else {
		candidates := []Secret{NewSecret("")}
		for k, v := range s.opt.Passwords {
			if _, err := NormalizeThumbprint(k); err == nil {
				candidates = append(candidates, v)
			}
		}
		for _, pw := range candidates {
			p, err := parsePFX(data, pw.Reveal())
			if err == nil || !errors.Is(err, ErrPFXPassword) {
				return p, err
			}
		}
		tried = fmt.Errorf("%w: %s needs a password: configure one for it ([[certificate]] file = %q) or enter it when asked", ErrPFXPassword, name, name)
	}
	if !prompt || s.opt.Prompt == nil {
		return parsed{}, tried
	}
	pw, err := s.opt.Prompt(ctx, name)
	if err != nil {
		if ctx.Err() != nil {
			return parsed{}, ctx.Err()
		}
		return parsed{}, fmt.Errorf("%w: no password entered for %s: %v", ErrPFXPassword, name, err)
	}
	p, err := parsePFX(data, pw.Reveal())
	if errors.Is(err, ErrPFXPassword) {
		return parsed{}, fmt.Errorf("%w: the password entered for %s does not open it", ErrPFXPassword, name)
	}
	if err == nil {
		s.mu.Lock()
		s.answers[path] = pw
		s.mu.Unlock()
	}
	return p, err
}
