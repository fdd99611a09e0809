package registry

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// ErrKeyring marks a keyring that cannot be parsed, or a sealed value that
// none of its keys opens (a missing or wrong master key, or tampering).
var ErrKeyring = errors.New("registry keyring")

// sealVersion is the first byte of every sealed blob, so the format can
// change without guessing.
const sealVersion = 1

// keyIDLen bytes of a key's SHA-256 name it inside a blob. They identify
// which master key sealed it without revealing anything usable about it.
const keyIDLen = 8

// Keyring holds the master keys that seal endpoint secrets in the
// registry topic. The first key seals; every key opens, so records sealed
// before a key rotation stay readable until Rekey rewrites them.
type Keyring struct {
	keys []masterKey
}

type masterKey struct {
	id   [keyIDLen]byte
	aead cipher.AEAD
}

// ParseKeyring reads "base64key[,oldkey...]": comma-separated 32-byte
// AES-256 keys in standard or URL-safe base64, padded or not.
func ParseKeyring(spec string) (*Keyring, error) {
	kr := &Keyring{}
	seen := map[[keyIDLen]byte]bool{}
	for i, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		raw, err := decodeKey(part)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: not base64: %w", ErrKeyring, i+1, err)
		}
		if len(raw) != 32 {
			return nil, fmt.Errorf("%w: key %d: %d bytes, want 32 (AES-256; e.g. openssl rand -base64 32)", ErrKeyring, i+1, len(raw))
		}
		k, err := newMasterKey(raw)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %w", ErrKeyring, i+1, err)
		}
		if seen[k.id] {
			return nil, fmt.Errorf("%w: key %d is listed twice", ErrKeyring, i+1)
		}
		seen[k.id] = true
		kr.keys = append(kr.keys, k)
	}
	return kr, nil
}

func decodeKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func newMasterKey(raw []byte) (masterKey, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return masterKey{}, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return masterKey{}, err
	}
	sum := sha256.Sum256(raw)
	var k masterKey
	copy(k.id[:], sum[:])
	k.aead = aead
	return k, nil
}

// IDs names the keys (hex of their ids), first the sealing one: safe to log.
func (kr *Keyring) IDs() []string {
	out := make([]string, len(kr.keys))
	for i, k := range kr.keys {
		out[i] = hex.EncodeToString(k.id[:])
	}
	return out
}

// seal encrypts plain under the first key with a fresh random nonce. The
// blob is version | key id | nonce | ciphertext+tag; aad (the record's
// key) binds it to one record, so a blob copied onto another endpoint
// does not open.
func (kr *Keyring) seal(plain, aad []byte) ([]byte, error) {
	k := kr.keys[0]
	ns := k.aead.NonceSize()
	out := make([]byte, 1+keyIDLen+ns, 1+keyIDLen+ns+len(plain)+k.aead.Overhead())
	out[0] = sealVersion
	copy(out[1:], k.id[:])
	if _, err := rand.Read(out[1+keyIDLen:]); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return k.aead.Seal(out, out[1+keyIDLen:], plain, aad), nil
}

// open decrypts a blob made by seal with whichever key sealed it.
func (kr *Keyring) open(blob, aad []byte) ([]byte, error) {
	if len(blob) < 1+keyIDLen || blob[0] != sealVersion {
		return nil, fmt.Errorf("%w: sealed value has an unknown format", ErrKeyring)
	}
	id := blob[1 : 1+keyIDLen]
	for _, k := range kr.keys {
		if string(k.id[:]) != string(id) {
			continue
		}
		ns := k.aead.NonceSize()
		if len(blob) < 1+keyIDLen+ns {
			return nil, fmt.Errorf("%w: sealed value is truncated", ErrKeyring)
		}
		plain, err := k.aead.Open(nil, blob[1+keyIDLen:1+keyIDLen+ns], blob[1+keyIDLen+ns:], aad)
		if err != nil {
			return nil, fmt.Errorf("%w: sealed value under key %x fails authentication (altered, or copied from another record)", ErrKeyring, id)
		}
		return plain, nil
	}
	return nil, fmt.Errorf("%w: sealed under key %x, which the keyring (%s) does not hold: add that key to the keyring", ErrKeyring, id, strings.Join(kr.IDs(), ","))
}

// sealedBy returns the id of the key that sealed blob.
func sealedBy(blob []byte) string {
	if len(blob) < 1+keyIDLen {
		return ""
	}
	return hex.EncodeToString(blob[1 : 1+keyIDLen])
}
