package crypt

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"
)

func TestWrapUnwrapRoundTrip(t *testing.T) {
	priv := testRSAKey(t, 0)
	k, err := NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	w, err := Wrap(&priv.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unwrap(priv, w)
	if err != nil {
		t.Fatal(err)
	}
	var a, b []byte
	_ = k.use(func(x []byte) error { a = append(a, x...); return nil })
	_ = got.use(func(x []byte) error { b = append(b, x...); return nil })
	if !bytes.Equal(a, b) || len(a) != KeySize || isZero(a) {
		t.Fatal("unwrapped key differs")
	}
	if _, err := Unwrap(testRSAKey(t, 1), w); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("another private key: %v, want ErrUnwrap", err)
	}
	w[10] ^= 1
	if _, err := Unwrap(priv, w); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("damaged wrapped key: %v, want ErrUnwrap", err)
	}
	// Without the label (another purpose's OAEP blob): refused.
	nolabel, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &priv.PublicKey, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Unwrap(priv, nolabel); !errors.Is(err, ErrUnwrap) {
		t.Fatalf("OAEP without our label: %v, want ErrUnwrap", err)
	}
}

// OpenSSL wrapped a known key as docs/ENCRYPTION.md says (testdata); we
// unwrap it with the key from the OpenSSL-made PFX.
func TestUnwrapKeyWrappedByOpenSSL(t *testing.T) {
	pfx, _ := os.ReadFile("testdata/aes256.pfx")
	p, err := parsePFX(pfx, aesPassword)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := usableKey(p)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := os.ReadFile("testdata/wrapped-key.bin")
	k, err := Unwrap(priv, w)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, KeySize)
	for i := range want {
		want[i] = byte(100 + i)
	}
	_ = k.use(func(b []byte) error {
		if !bytes.Equal(b, want) {
			t.Fatal("key unwrapped from OpenSSL's blob differs")
		}
		return nil
	})
}

func TestWrapRefusesSmallOrMissingKeys(t *testing.T) {
	k := testKey(t, 1)
	if _, err := Wrap(nil, k); !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("nil key: %v", err)
	}
	small := &rsa.PublicKey{N: new(big.Int).Rsh(testRSAKey(t, 0).N, 1100), E: 65537} // 948 bits
	if _, err := Wrap(small, k); !errors.Is(err, ErrUnsupportedKey) {
		t.Fatalf("small key: %v", err)
	}
	k.Destroy()
	if _, err := Wrap(&testRSAKey(t, 0).PublicKey, k); !errors.Is(err, ErrKeyDestroyed) {
		t.Fatalf("destroyed key: %v", err)
	}
}

func TestMetaRoundTripIgnoresNameCase(t *testing.T) {
	m := Meta{Version: Version, Thumbprint: fixtureThumbprint, WrappedKey: []byte{1, 2, 3, 250}}
	md := m.ToMetadata()
	// Azurite returns names capitalised; other metadata sits beside ours.
	capital := map[string]*string{}
	for k, v := range md {
		capital[strings.ToUpper(k[:1])+k[1:]] = v
	}
	other := "x"
	capital["Syncgen"] = &other
	got, err := ParseMeta(capital)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != m.Version || got.Thumbprint != m.Thumbprint || !bytes.Equal(got.WrappedKey, m.WrappedKey) {
		t.Fatalf("got %+v, want %+v", got, m)
	}
	plain := m.Strings()
	plain["Failbackencversion"] = plain[MetaVersion]
	delete(plain, MetaVersion)
	if got, err := ParseMetaStrings(plain); err != nil || got.Thumbprint != m.Thumbprint || !bytes.Equal(got.WrappedKey, m.WrappedKey) {
		t.Fatalf("string metadata: %+v, %v", got, err)
	}
	if !IsEncrypted(capital) || IsEncrypted(map[string]*string{"Syncgen": &other}) {
		t.Fatal("IsEncrypted wrong")
	}
}

func TestParseMetaErrors(t *testing.T) {
	s := func(v string) *string { return &v }
	good := func() map[string]*string {
		return map[string]*string{MetaVersion: s("1"), MetaThumbprint: s(fixtureThumbprint), MetaWrappedKey: s(base64.StdEncoding.EncodeToString([]byte{1}))}
	}
	cases := []struct {
		name string
		edit func(map[string]*string)
		want error
		says string
	}{
		{"none", func(m map[string]*string) { clear(m) }, ErrNotEncrypted, "not encrypted"},
		{"missing version", func(m map[string]*string) { delete(m, MetaVersion) }, ErrBadMeta, MetaVersion},
		{"unknown version", func(m map[string]*string) { m[MetaVersion] = s("7") }, ErrUnknownVersion, "version 7"},
		{"version not a number", func(m map[string]*string) { m[MetaVersion] = s("v1") }, ErrBadMeta, "not a number"},
		{"missing thumbprint", func(m map[string]*string) { delete(m, MetaThumbprint) }, ErrBadMeta, MetaThumbprint},
		{"bad thumbprint", func(m map[string]*string) { m[MetaThumbprint] = s("ABC") }, ErrBadThumbprint, "40"},
		{"missing key", func(m map[string]*string) { delete(m, MetaWrappedKey) }, ErrBadMeta, MetaWrappedKey},
		{"key not base64", func(m map[string]*string) { m[MetaWrappedKey] = s("!!") }, ErrBadMeta, "base64"},
	}
	for _, c := range cases {
		md := good()
		c.edit(md)
		_, err := ParseMeta(md)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want %v saying %q", c.name, err, c.want, c.says)
		}
	}
}

func TestNormalizeThumbprintAsPasted(t *testing.T) {
	for _, in := range []string{
		"ce0a31d1e7a1440c431ababc7d107e7d7b3296d6",
		"\u200ece 0a 31 d1 e7 a1 44 0c 43 1a ba bc 7d 10 7e 7d 7b 32 96 d6",
		"CE:0A:31:D1:E7:A1:44:0C:43:1A:BA:BC:7D:10:7E:7D:7B:32:96:D6",
	} {
		got, err := NormalizeThumbprint(in)
		if err != nil || got != fixtureThumbprint {
			t.Errorf("%q -> %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "CE0A", "ZZ0A31D1E7A1440C431ABABC7D107E7D7B3296D6"} {
		if _, err := NormalizeThumbprint(in); !errors.Is(err, ErrBadThumbprint) {
			t.Errorf("%q: %v, want ErrBadThumbprint", in, err)
		}
	}
}

// No way of printing or encoding a key, a password or a loaded certificate
// shows the secret, even nested in structs (exported or not).
func TestSecretsAreRedacted(t *testing.T) {
	k := testKey(t, 0x41) // bytes 'A', 'N', ... printable on purpose
	var raw []byte
	_ = k.use(func(b []byte) error { raw = append(raw, b...); return nil })
	pw := NewSecret("hunter2-very-secret")
	priv := testRSAKey(t, 0)
	dir := t.TempDir()
	c0 := selfSigned(t, "redact", priv, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	writePEM(t, dir, "r.pem", c0, priv, "pkcs1")
	cert, err := NewStore(dir, StoreOptions{}).Select(t.Context(), Thumbprint(c0), time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	type holder struct {
		Key  *DataKey
		Pw   Secret
		Cert *Cert
		key  *DataKey
		pw   Secret
		cert *Cert
	}
	h := holder{Key: k, Pw: pw, Cert: cert, key: k, pw: pw, cert: cert}
	var outs []string
	for _, v := range []any{k, pw, cert, h, &h} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		j, _ := json.Marshal(v)
		outs = append(outs, string(j))
	}
	hexKey := fmt.Sprintf("%x", raw)
	dStr := priv.D.String()
	dHex := priv.D.Text(16)
	for _, o := range outs {
		for _, secret := range []string{string(raw[:8]), hexKey[:16], "hunter2", dStr[:20], dHex[:20], fmt.Sprint(raw[:4])} {
			if strings.Contains(strings.ToLower(o), strings.ToLower(secret)) {
				t.Fatalf("output %q shows secret material %q", o, secret)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(cert), Thumbprint(c0)) {
		t.Fatal("a certificate should still print its thumbprint")
	}
}
