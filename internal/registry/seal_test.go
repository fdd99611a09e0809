package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/testbackend"
)

func TestParseKeyring(t *testing.T) {
	kr, err := ParseKeyring(keyK2 + ", " + strings.TrimRight(keyK1, "="))
	if err != nil || len(kr.keys) != 2 {
		t.Fatalf("two keys, the second unpadded: %v", err)
	}
	urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace("+/" + keyK1[2:])
	if _, err := ParseKeyring(urlSafe); err != nil {
		t.Fatalf("url-safe base64: %v", err)
	}
	for name, spec := range map[string]string{
		"empty":        "",
		"not base64":   "not*base64",
		"16 bytes":     "AAAAAAAAAAAAAAAAAAAAAA==",
		"empty second": keyK1 + ",",
		"listed twice": keyK1 + "," + keyK1,
	} {
		if _, err := ParseKeyring(spec); !errors.Is(err, ErrKeyring) {
			t.Errorf("%s: %v, want ErrKeyring", name, err)
		}
	}
}

func TestSealOpen(t *testing.T) {
	k1, k21 := keyring(t, keyK1), keyring(t, keyK2+","+keyK1)
	a, err := k1.seal([]byte("whsec_plain"), []byte("e1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k1.seal([]byte("whsec_plain"), []byte("e1"))
	if bytes.Equal(a, b) || bytes.Contains(a, []byte("whsec_plain")) {
		t.Fatal("two seals of one value are equal, or hold the plaintext")
	}
	if got, err := k21.open(a, []byte("e1")); err != nil || string(got) != "whsec_plain" {
		t.Fatalf("an older key of the ring: %q, %v", got, err)
	}
	if _, err := k1.open(a, []byte("e2")); !errors.Is(err, ErrKeyring) {
		t.Fatalf("a blob moved to another record opened: %v", err)
	}
	tampered := slices.Clone(a)
	tampered[len(tampered)-1] ^= 1
	if _, err := k1.open(tampered, []byte("e1")); !errors.Is(err, ErrKeyring) {
		t.Fatalf("a tampered blob opened: %v", err)
	}
	_, err = keyring(t, keyK2).open(a, []byte("e1"))
	if !errors.Is(err, ErrKeyring) || !strings.Contains(err.Error(), "does not hold") || !strings.Contains(err.Error(), k1.IDs()[0]) {
		t.Fatalf("a missing key: %v", err)
	}
}

// TestNoPlaintextInTopic: no secret, current or rotated out, and no API
// token is found anywhere in the topic's bytes.
func TestNoPlaintextInTopic(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		s := openStore(t, k, topic, keyK1)
		var secrets []string
		for i := range 5 {
			e := mustCreate(t, s, endpoint(fmt.Sprintf("e%d", i), "t-a"))
			secrets = append(secrets, e.Secrets[0])
		}
		rotated := "whsec_rotated-in-secret"
		if _, err := s.Rotate(ctx, "e0", rotated, time.Hour); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, rotated)
		tn, err := s.CreateTenant(ctx, "", "Acme")
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := s.CreateKey(ctx, tn.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, token, strings.TrimPrefix(token, tokenPrefix))
		recs := readTopic(t, k, topic)
		if len(recs) < 8 {
			t.Fatalf("read %d records, want at least 8", len(recs))
		}
		for _, r := range recs {
			raw := [][]byte{r.Key, r.Value}
			for _, h := range r.Headers {
				raw = append(raw, []byte(h.Key), h.Value)
			}
			for _, b := range raw {
				for _, sec := range secrets {
					if bytes.Contains(b, []byte(sec)) {
						t.Fatalf("record %s at %d holds a secret in plain text", r.Key, r.Offset)
					}
				}
			}
		}
	})
}

// TestRekey: secrets written under K1 are re-sealed by Rekey to "K2,K1";
// a Store with only K2 then reads every one, and a Store without the key
// that sealed the live records fails Open naming the problem.
func TestRekey(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		s := openStore(t, k, topic, keyK1)
		want := map[string][]string{}
		for i := range 6 {
			e := mustCreate(t, s, endpoint(fmt.Sprintf("e%d", i), "t-a"))
			want[e.ID] = e.Secrets
		}
		if _, err := s.Rotate(ctx, "e1", "whsec_new-of-e1", time.Hour); err != nil {
			t.Fatal(err)
		}
		want["e1"] = []string{"whsec_new-of-e1", want["e1"][0]}
		if err := s.Delete(ctx, "e5"); err != nil {
			t.Fatal(err)
		}
		delete(want, "e5")

		if _, err := Open(ctx, storeConfig(t, k, topic, keyK2)); !errors.Is(err, ErrKeyring) || !strings.Contains(err.Error(), "does not hold") {
			t.Fatalf("open with only a wrong key: %v, want ErrKeyring naming the missing key", err)
		}
		if _, err := s.Rekey(ctx, keyring(t, keyK2)); !errors.Is(err, ErrKeyring) {
			t.Fatalf("rekey to a ring that cannot open the records: %v", err)
		}
		n, err := s.Rekey(ctx, keyring(t, keyK2+","+keyK1))
		if err != nil || n != len(want) {
			t.Fatalf("rekey rewrote %d records (%v), want %d", n, err, len(want))
		}
		if n, err := s.Rekey(ctx, keyring(t, keyK2+","+keyK1)); err != nil || n != 0 {
			t.Fatalf("a second rekey rewrote %d (%v), want 0", n, err)
		}
		fresh := openStore(t, k, topic, keyK2)
		got := map[string][]string{}
		for id, e := range table(fresh) {
			got[id] = e.Secrets
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("a store with only K2 reads\n%v\nwant\n%v", got, want)
		}
		_, err = Open(ctx, storeConfig(t, k, topic, keyK1))
		if !errors.Is(err, ErrKeyring) || !strings.Contains(err.Error(), "does not hold") {
			t.Fatalf("open with only the retired key: %v", err)
		}
		t.Logf("open with a retired key fails: %v", err)
		if _, err := Open(ctx, storeConfig(t, k, topic, keyK3)); !errors.Is(err, ErrKeyring) {
			t.Fatalf("open with an unrelated key: %v", err)
		}
	})
}
