package signing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strconv"
	"sync"
	"sync/atomic"
)

// MACs reuses HMAC-SHA256 states per secret. A fresh state costs five
// allocations and two SHA-256 block computations (the padded key), which
// at thousands of single-event deliveries a second outweigh hashing the
// body itself; a reset state costs neither. The zero value is ready; safe
// for concurrent use. Keep one per process, not per request: its entries
// last until maxSecrets of them have been made, then it starts afresh, so
// secrets rotated away do not pile up for the life of the process.
type MACs struct {
	hex macCache // keyed by the secret's bytes
	std macCache // keyed by the decoded whsec_ key
}

// maxSecrets bounds a macCache: past it the cache is dropped whole and
// refilled by the secrets still in use, one state each.
const maxSecrets = 1 << 16

// macCache maps a secret to its pool of states.
type macCache struct {
	m atomic.Pointer[sync.Map] // secret -> *sync.Pool of *macState
	n atomic.Int64             // entries made in m
}

// pool returns secret's pool, made with key's output on first use.
func (c *macCache) pool(secret string, key func() ([]byte, error)) (*sync.Pool, error) {
	m := c.m.Load()
	if m == nil {
		c.m.CompareAndSwap(nil, new(sync.Map))
		m = c.m.Load()
	}
	if p, ok := m.Load(secret); ok {
		return p.(*sync.Pool), nil
	}
	k, err := key()
	if err != nil {
		return nil, err
	}
	p, loaded := m.LoadOrStore(secret, statePool(k))
	if !loaded && c.n.Add(1) > maxSecrets {
		c.n.Store(0)
		c.m.Store(new(sync.Map))
	}
	return p.(*sync.Pool), nil
}

// macState is a reusable HMAC with scratch space for what it signs and
// yields, so signing allocates only the string it returns.
type macState struct {
	h   hash.Hash
	buf [96]byte // id.timestamp. of a Standard Webhooks signature
	sum [sha256.Size]byte
}

func statePool(key []byte) *sync.Pool {
	return &sync.Pool{New: func() any { return &macState{h: hmac.New(sha256.New, key)} }}
}

// Hex returns "sha256=<hex HMAC-SHA256(secret, body)>", as HexSignature.
func (c *MACs) Hex(secret string, body []byte) string {
	pool, _ := c.hex.pool(secret, func() ([]byte, error) { return []byte(secret), nil })
	m := pool.Get().(*macState)
	m.h.Write(body)
	var out [7 + 2*sha256.Size]byte
	copy(out[:], "sha256=")
	hex.Encode(out[7:], m.h.Sum(m.sum[:0]))
	m.h.Reset()
	pool.Put(m)
	return string(out[:])
}

// AppendStd appends the Standard Webhooks signature "v1,<base64>" of body
// for a whsec_ secret, as StdSign does with the secret's key. It fails
// with ErrBadSecret for a secret that is not whsec_ and base64.
func (c *MACs) AppendStd(dst []byte, secret, id string, ts int64, body []byte) ([]byte, error) {
	pool, err := c.std.pool(secret, func() ([]byte, error) { return StdKey(secret) })
	if err != nil {
		return dst, err
	}
	m := pool.Get().(*macState)
	// "id.ts." goes in one write; an id too long for the scratch space
	// (ours are 24 characters) is written on its own.
	pre := m.buf[:0]
	if len(id) <= len(m.buf)-22 {
		pre = append(pre, id...)
	} else {
		m.h.Write([]byte(id))
	}
	pre = append(pre, '.')
	pre = strconv.AppendInt(pre, ts, 10)
	pre = append(pre, '.')
	m.h.Write(pre)
	m.h.Write(body)
	dst = append(dst, "v1,"...)
	dst = base64.StdEncoding.AppendEncode(dst, m.h.Sum(m.sum[:0]))
	m.h.Reset()
	pool.Put(m)
	return dst, nil
}
