package crypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"math/big"
	"unicode/utf16"
)

// This file reads the PKCS#12 files x/crypto/pkcs12 cannot: those protected
// with PBES2 (PBKDF2 + AES-CBC) and an HMAC over SHA-256/384/512, which is
// what OpenSSL 3 writes by default and what Windows writes when "AES256-
// SHA256" is chosen on export (RFC 7292, RFC 8018). It handles only what a
// certificate-and-key file needs: password integrity (HMAC with the PKCS#12
// key derivation), data and encryptedData safes, certificate bags, and
// (shrouded) key bags. Legacy files stay with x/crypto/pkcs12.

var (
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEncryptedData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidKeyBag              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidShroudedKeyBag      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
	oidX509Cert            = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 22, 1}
	oidPBES2               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidPBEWithSHA3DES      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidHMACSHA1            = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	oidHMACSHA256          = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
	oidHMACSHA384          = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}
	oidHMACSHA512          = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}
	oidSHA1                = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512              = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidAES128CBC           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC           = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	errPFXFormat           = errors.New("malformed PKCS#12 structure")
	maxPFXIterations       = 1 << 20
	errPFXTooManyIteration = errors.New("PKCS#12 iteration count above 1,048,576 (a hostile or broken file)")
)

type pfxPDU struct {
	Version  int
	AuthSafe contentInfo
	MacData  macData `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type macData struct {
	Mac        digestInfo
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type digestInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Digest    []byte
}

type encryptedData struct {
	Version int
	Info    encryptedContentInfo
}

type encryptedContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Algorithm   pkix.AlgorithmIdentifier
	Content     []byte `asn1:"tag:0,optional"`
}

type safeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue   `asn1:"tag:0,explicit"`
	Attributes []asn1.RawValue `asn1:"set,optional"`
}

type certBag struct {
	ID   asn1.ObjectIdentifier
	Data []byte `asn1:"tag:0,explicit"`
}

type encryptedKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type pbes2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

type pbkdf2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

type legacyPBEParams struct {
	Salt       []byte
	Iterations int
}

func unmarshalAll(b []byte, v any) error {
	rest, err := asn1.Unmarshal(b, v)
	if err != nil {
		return fmt.Errorf("%w: %v", errPFXFormat, err)
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: trailing data", errPFXFormat)
	}
	return nil
}

// pbes2ToPEM returns the certificates ("CERTIFICATE", DER) and keys
// ("PRIVATE KEY", PKCS#8 DER) of a PFX file.
func pbes2ToPEM(data []byte, password string) ([]*pem.Block, error) {
	var pfx pfxPDU
	if err := unmarshalAll(data, &pfx); err != nil {
		return nil, fmt.Errorf("%w: not a PFX file: %v", ErrUnreadable, err)
	}
	if pfx.Version != 3 || !pfx.AuthSafe.ContentType.Equal(oidData) {
		return nil, fmt.Errorf("%w: only password-protected PFX files (version 3) are read", ErrUnreadable)
	}
	var authSafe []byte
	if err := unmarshalAll(pfx.AuthSafe.Content.Bytes, &authSafe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if len(pfx.MacData.MacSalt) > 0 {
		if err := verifyPFXMac(pfx.MacData, authSafe, password); err != nil {
			return nil, err
		}
	}
	var safes []contentInfo
	if err := unmarshalAll(authSafe, &safes); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	var out []*pem.Block
	for _, ci := range safes {
		var contents []byte
		switch {
		case ci.ContentType.Equal(oidData):
			if err := unmarshalAll(ci.Content.Bytes, &contents); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
			}
		case ci.ContentType.Equal(oidEncryptedData):
			var ed encryptedData
			if err := unmarshalAll(ci.Content.Bytes, &ed); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
			}
			var err error
			if contents, err = pbeDecrypt(ed.Info.Algorithm, ed.Info.Content, password); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%w: PFX content type %v (public-key protected PFX files are not read)", ErrUnreadable, ci.ContentType)
		}
		blocks, err := readBags(contents, password)
		if err != nil {
			return nil, err
		}
		out = append(out, blocks...)
	}
	return out, nil
}

func readBags(contents []byte, password string) ([]*pem.Block, error) {
	var bags []safeBag
	if err := unmarshalAll(contents, &bags); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	var out []*pem.Block
	for _, bag := range bags {
		switch {
		case bag.ID.Equal(oidCertBag):
			var cb certBag
			if err := unmarshalAll(bag.Value.Bytes, &cb); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
			}
			if cb.ID.Equal(oidX509Cert) {
				out = append(out, &pem.Block{Type: "CERTIFICATE", Bytes: cb.Data})
			}
		case bag.ID.Equal(oidKeyBag):
			out = append(out, &pem.Block{Type: "PRIVATE KEY", Bytes: bag.Value.Bytes})
		case bag.ID.Equal(oidShroudedKeyBag):
			var ek encryptedKeyInfo
			if err := unmarshalAll(bag.Value.Bytes, &ek); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
			}
			der, err := pbeDecrypt(ek.Algorithm, ek.Data, password)
			if err != nil {
				return nil, err
			}
			out = append(out, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
		}
	}
	return out, nil
}

// verifyPFXMac checks the password against the file's HMAC (RFC 7292
// appendix B key derivation, ID 3). A mismatch is ErrPFXPassword.
func verifyPFXMac(md macData, authSafe []byte, password string) error {
	alg := md.Mac.Algorithm.Algorithm
	var h func() hash.Hash
	v := 64
	switch {
	case alg.Equal(oidSHA1):
		h = sha1.New
	case alg.Equal(oidSHA256):
		h = sha256.New
	case alg.Equal(oidSHA384):
		h, v = sha512.New384, 128
	case alg.Equal(oidSHA512):
		h, v = sha512.New, 128
	default:
		return fmt.Errorf("%w: PFX integrity algorithm %v is not supported; re-export the certificate", ErrUnreadable, alg)
	}
	if md.Iterations < 1 || md.Iterations > maxPFXIterations {
		return fmt.Errorf("%w: %w", ErrUnreadable, errPFXTooManyIteration)
	}
	try := func(pw []byte) bool {
		key := pkcs12KDF(h, v, md.MacSalt, pw, md.Iterations, 3, h().Size())
		m := hmac.New(h, key)
		m.Write(authSafe)
		return hmac.Equal(m.Sum(nil), md.Mac.Digest)
	}
	if try(bmpPassword(password)) || (password == "" && try(nil)) {
		return nil
	}
	return ErrPFXPassword
}

// pbeDecrypt decrypts a PBES2 (PBKDF2 + AES-CBC) or legacy 3DES payload.
// Bad padding means a wrong password (when there was no MAC to say so).
func pbeDecrypt(alg pkix.AlgorithmIdentifier, data []byte, password string) ([]byte, error) {
	var block cipher.Block
	var iv []byte
	switch {
	case alg.Algorithm.Equal(oidPBES2):
		var p pbes2Params
		if err := unmarshalAll(alg.Parameters.FullBytes, &p); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
		}
		if !p.KDF.Algorithm.Equal(oidPBKDF2) {
			return nil, fmt.Errorf("%w: PBES2 key derivation %v is not supported", ErrUnreadable, p.KDF.Algorithm)
		}
		var kp pbkdf2Params
		if err := unmarshalAll(p.KDF.Parameters.FullBytes, &kp); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
		}
		if kp.Iterations < 1 || kp.Iterations > maxPFXIterations {
			return nil, fmt.Errorf("%w: %w", ErrUnreadable, errPFXTooManyIteration)
		}
		var h func() hash.Hash
		switch prf := kp.PRF.Algorithm; {
		case len(prf) == 0 || prf.Equal(oidHMACSHA1):
			h = sha1.New
		case prf.Equal(oidHMACSHA256):
			h = sha256.New
		case prf.Equal(oidHMACSHA384):
			h = sha512.New384
		case prf.Equal(oidHMACSHA512):
			h = sha512.New
		default:
			return nil, fmt.Errorf("%w: PBKDF2 function %v is not supported", ErrUnreadable, prf)
		}
		var keyLen int
		switch s := p.Scheme.Algorithm; {
		case s.Equal(oidAES128CBC):
			keyLen = 16
		case s.Equal(oidAES192CBC):
			keyLen = 24
		case s.Equal(oidAES256CBC):
			keyLen = 32
		default:
			return nil, fmt.Errorf("%w: PBES2 cipher %v is not supported", ErrUnreadable, s)
		}
		if err := unmarshalAll(p.Scheme.Parameters.FullBytes, &iv); err != nil || len(iv) != aes.BlockSize {
			return nil, fmt.Errorf("%w: bad AES-CBC IV", ErrUnreadable)
		}
		// PBES2 inside PKCS#12 takes the password as UTF-8 bytes, not BMP
		// (as OpenSSL and Windows do).
		key, err := pbkdf2.Key(h, password, kp.Salt, kp.Iterations, keyLen)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
		}
		block, _ = aes.NewCipher(key)
	case alg.Algorithm.Equal(oidPBEWithSHA3DES):
		var p legacyPBEParams
		if err := unmarshalAll(alg.Parameters.FullBytes, &p); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
		}
		if p.Iterations < 1 || p.Iterations > maxPFXIterations {
			return nil, fmt.Errorf("%w: %w", ErrUnreadable, errPFXTooManyIteration)
		}
		pw := bmpPassword(password)
		key := pkcs12KDF(sha1.New, 64, p.Salt, pw, p.Iterations, 1, 24)
		iv = pkcs12KDF(sha1.New, 64, p.Salt, pw, p.Iterations, 2, 8)
		var err error
		if block, err = des.NewTripleDESCipher(key); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
		}
	default:
		return nil, fmt.Errorf("%w: PFX encryption %v is not supported; re-export with AES256-SHA256 or TripleDES-SHA1", ErrUnreadable, alg.Algorithm)
	}
	bs := block.BlockSize()
	if len(data) == 0 || len(data)%bs != 0 {
		return nil, fmt.Errorf("%w: encrypted content is not whole blocks", ErrUnreadable)
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > bs {
		return nil, ErrPFXPassword
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, ErrPFXPassword
		}
	}
	return out[:len(out)-pad], nil
}

// bmpPassword is the password as PKCS#12 wants it for its own key
// derivation: UTF-16 big-endian with a two-byte terminator.
func bmpPassword(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(u)+2)
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return append(b, 0, 0)
}

// pkcs12KDF is the key derivation of RFC 7292 appendix B.2: v is the hash's
// block size in bytes, id 1 (key), 2 (IV) or 3 (MAC key).
func pkcs12KDF(h func() hash.Hash, v int, salt, password []byte, iterations int, id byte, size int) []byte {
	fill := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		n := v * ((len(b) + v - 1) / v)
		out := make([]byte, n)
		for i := range out {
			out[i] = b[i%len(b)]
		}
		return out
	}
	D := make([]byte, v)
	for i := range D {
		D[i] = id
	}
	I := append(fill(salt), fill(password)...)
	var out []byte
	one := big.NewInt(1)
	for len(out) < size {
		hh := h()
		hh.Write(D)
		hh.Write(I)
		A := hh.Sum(nil)
		for i := 1; i < iterations; i++ {
			hh.Reset()
			hh.Write(A)
			A = hh.Sum(A[:0])
		}
		out = append(out, A...)
		B := new(big.Int).SetBytes(fill(A)[:v])
		for j := 0; j < len(I); j += v {
			Ij := new(big.Int).SetBytes(I[j : j+v])
			Ij.Add(Ij, B).Add(Ij, one)
			b := Ij.Bytes()
			if len(b) > v {
				b = b[len(b)-v:]
			}
			clear(I[j : j+v])
			copy(I[j+v-len(b):j+v], b)
		}
	}
	return out[:size]
}
