package signing

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Vectors computed independently (Python's hmac module); the second is the
// Standard Webhooks specification's example.
func TestHexSignatureVector(t *testing.T) {
	body := []byte(`{"type":"task.created"}`)
	want := "sha256=b87fa7a53a8c1e86df57f5c65e78e1c7f293bee1b8eb9eb61463179e8321306e"
	if got := HexSignature([]byte("whsec-demo-secret"), body); got != want {
		t.Fatalf("HexSignature = %s, want %s", got, want)
	}
	if err := VerifyHex([]byte("whsec-demo-secret"), body, want); err != nil {
		t.Fatal(err)
	}
	if err := VerifyHex([]byte("whsec-demo-secret"), append(body, ' '), want); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered body: %v", err)
	}
	if err := VerifyHex([]byte("other"), body, want); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := VerifyHex([]byte("x"), body, ""); !errors.Is(err, ErrNoSignature) {
		t.Fatalf("missing header: %v", err)
	}
}

func TestStandardWebhooksVector(t *testing.T) {
	key, err := StdKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	id, ts, body := "msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330), []byte(`{"test": 2432232314}`)
	want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got := StdSign(key, id, ts, body); got != want {
		t.Fatalf("StdSign = %s, want %s", got, want)
	}
	now := time.Unix(ts+10, 0)
	if err := StdVerify(key, id, "1614265330", want, body, now, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	// Rotation: the header carries the old and the new key's signatures.
	old := []byte("old-key-0123456789abcdef")
	both := StdSign(old, id, ts, body) + " " + StdSign(key, id, ts, body)
	if err := StdVerify(key, id, "1614265330", both, body, now, 5*time.Minute); err != nil {
		t.Fatalf("new key during overlap: %v", err)
	}
	if err := StdVerify(old, id, "1614265330", both, body, now, 5*time.Minute); err != nil {
		t.Fatalf("old key during overlap: %v", err)
	}
	if err := StdVerify(key, id, "1614265330", want, body, now.Add(time.Hour), 5*time.Minute); !errors.Is(err, ErrStale) {
		t.Fatalf("stale timestamp: %v", err)
	}
	if err := StdVerify(key, "msg_other", "1614265330", want, body, now, 5*time.Minute); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("id is signed: %v", err)
	}
	if _, err := StdKey("whsec_%%%"); !errors.Is(err, ErrBadSecret) {
		t.Fatalf("bad secret: %v", err)
	}
}

// The bare format is the same digest without "sha256=", as Python's
// hmac.new(...).hexdigest() prints it.
func TestBareHexSignatureVector(t *testing.T) {
	body := []byte(`{"type":"task.created"}`)
	want := "b87fa7a53a8c1e86df57f5c65e78e1c7f293bee1b8eb9eb61463179e8321306e"
	if got := BareHexSignature([]byte("whsec-demo-secret"), body); got != want {
		t.Fatalf("BareHexSignature = %s, want %s", got, want)
	}
}

func TestMACsSignLikeAFreshHMAC(t *testing.T) {
	var macs MACs
	bodies := [][]byte{[]byte(`{"a":1}`), []byte(`[]`), nil, []byte(strings.Repeat("x", 5000))}
	for round := 0; round < 3; round++ { // reused states must not carry over
		for _, secret := range []string{"s1", "another-secret", ""} {
			for _, b := range bodies {
				if got, want := macs.Hex(secret, b), HexSignature([]byte(secret), b); got != want {
					t.Fatalf("secret %q body %.20q: %s, want %s", secret, b, got, want)
				}
			}
		}
	}
}

// TestMACsAppendStdLikeStdSign: a reused Standard Webhooks state signs as a
// fresh one does, over rounds, secrets, ids of any length and bodies, and
// appends to what dst held.
func TestMACsAppendStdLikeStdSign(t *testing.T) {
	var macs MACs
	secrets := []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_" + base64.StdEncoding.EncodeToString([]byte("another key of other length"))}
	ids := []string{"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "0123456789abcdef01234567", strings.Repeat("i", 200), ""}
	bodies := [][]byte{[]byte(`{"a":1}`), nil, []byte(strings.Repeat("x", 5000))}
	for round := 0; round < 3; round++ {
		for _, secret := range secrets {
			key, err := StdKey(secret)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				for _, b := range bodies {
					ts := int64(1614265330 + round)
					got, err := macs.AppendStd([]byte("v1,x "), secret, id, ts, b)
					if want := "v1,x " + StdSign(key, id, ts, b); err != nil || string(got) != want {
						t.Fatalf("secret %q id %.20q body %.20q: %q, %v; want %q", secret, id, b, got, err, want)
					}
				}
			}
		}
	}
	if _, err := macs.AppendStd(nil, "not-a-whsec-secret!", "id", 1, nil); !errors.Is(err, ErrBadSecret) {
		t.Fatalf("bad secret: %v, want ErrBadSecret", err)
	}
}

// TestMACsStartAfreshPastMaxSecrets: secrets rotated away do not pile up.
// Past maxSecrets entries the cache is dropped and refilled by the secrets
// still signing, and every signature stays that of a fresh HMAC.
func TestMACsStartAfreshPastMaxSecrets(t *testing.T) {
	var macs MACs
	body := []byte(`{"a":1}`)
	first := "secret-0"
	for i := 0; i < maxSecrets+10; i++ {
		secret := "secret-" + strconv.Itoa(i)
		if got := macs.Hex(secret, body); i%4096 == 0 && got != HexSignature([]byte(secret), body) {
			t.Fatalf("secret %d: %s", i, got)
		}
	}
	entries := 0
	macs.hex.m.Load().Range(func(any, any) bool { entries++; return true })
	if entries > 10 || macs.hex.n.Load() != int64(entries) {
		t.Fatalf("%d entries (%d counted) after %d secrets, want the cache started afresh", entries, macs.hex.n.Load(), maxSecrets+10)
	}
	if got, want := macs.Hex(first, body), HexSignature([]byte(first), body); got != want {
		t.Fatalf("a secret from before the fresh start: %s, want %s", got, want)
	}
}
