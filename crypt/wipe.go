package crypt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"math/big"
)

// wipeKey overwrites a private key's secret numbers in place, as far as
// Go allows (see Cert.Destroy). Keys parsed only to list a certificate
// (and every key but the one Select hands out) are wiped as soon as the
// listing is done, not left for the garbage collector.
func wipeKey(k crypto.PrivateKey) {
	wipe := func(x *big.Int) {
		if x != nil {
			clear(x.Bits())
			x.SetInt64(0)
		}
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		wipe(k.D)
		for _, p := range k.Primes {
			wipe(p)
		}
		wipe(k.Precomputed.Dp)
		wipe(k.Precomputed.Dq)
		wipe(k.Precomputed.Qinv)
	case *ecdsa.PrivateKey:
		//lint:ignore SA1019 overwriting the secret scalar of a key about to be dropped, not using it.
		wipe(k.D)
	case ed25519.PrivateKey:
		clear(k)
	}
}

// wipeEntries wipes the parsed keys of es, except keep (nil: all).
func wipeEntries(es []entry, keep *rsa.PrivateKey) {
	for i := range es {
		k := es[i].p.key
		if k == nil {
			continue
		}
		if r, ok := k.(*rsa.PrivateKey); ok && r == keep {
			continue
		}
		wipeKey(k)
		es[i].p.key = nil
	}
}
