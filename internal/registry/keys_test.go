package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/testbackend"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKeyExpiry: a key with an expiry authenticates until then and is
// refused after it by every Store, a fresh one too, while a key without
// one goes on; the expired key is still listed. An expiry that is not in
// the future is refused.
func TestKeyExpiry(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		a, b := openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)
		tn, err := a.CreateTenant(ctx, "", "Acme")
		if err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{time.Now().Add(-time.Second), time.Now()} {
			if _, _, err := a.CreateKeyUntil(ctx, tn.ID, "late", at); !errors.Is(err, ErrKeyExpiry) {
				t.Fatalf("a key expiring at %v: %v, want ErrKeyExpiry", at, err)
			}
		}
		until := time.Now().Add(1500 * time.Millisecond)
		short, key, err := a.CreateKeyUntil(ctx, tn.ID, "short", until)
		if err != nil {
			t.Fatal(err)
		}
		if !key.ExpiresAt.Equal(until) {
			t.Fatalf("ExpiresAt %v, want %v", key.ExpiresAt, until)
		}
		forever, _, err := a.CreateKey(ctx, tn.ID, "forever")
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, func() bool { _, ok := b.Authenticate(short); return ok }, "the other store authenticates the key before its expiry")
		time.Sleep(time.Until(until) + 10*time.Millisecond)
		for name, s := range map[string]*Store{"writer": a, "other": b, "fresh": openStore(t, k, topic, keyK1)} {
			if _, ok := s.Authenticate(short); ok {
				t.Fatalf("%s store: an expired key authenticates", name)
			}
			if _, ok := s.Authenticate(forever); !ok {
				t.Fatalf("%s store: a key without expiry is refused", name)
			}
			ks := s.Keys(tn.ID)
			if len(ks) != 2 || ks[0].ID != key.ID || !ks[0].Expired(time.Now()) || !ks[1].ExpiresAt.IsZero() {
				t.Fatalf("%s store lists %+v", name, ks)
			}
		}
	})
}

// TestKeyRecordWithoutNewFields: a key record written before keys had a
// prefix and an expiry still loads, authenticates and lists.
func TestKeyRecordWithoutNewFields(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		a := openStore(t, k, topic, keyK1)
		tn, err := a.CreateTenant(ctx, "", "Acme")
		if err != nil {
			t.Fatal(err)
		}
		token := tokenPrefix + "bGVnYWN5LXRva2VuLW9mLWJlZm9yZS1wcmVmaXhlcy0xMjM0"
		sum := sha256.Sum256([]byte(token))
		old, _ := json.Marshal(map[string]any{"id": "key_old", "tenantId": tn.ID, "name": "legacy", "createdAt": "2025-01-02T03:04:05Z", "sha256": sum[:]})
		if err := k.Client(t).ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(keyPrefix + "key_old"), Value: old}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		b := openStore(t, k, topic, keyK1)
		got, ok := b.Authenticate(token)
		if !ok || got.ID != "key_old" || got.Name != "legacy" || got.Prefix != "" || !got.ExpiresAt.IsZero() {
			t.Fatalf("old record: %+v, %v", got, ok)
		}
		if ks := b.Keys(tn.ID); len(ks) != 1 || ks[0].ID != "key_old" {
			t.Fatalf("Keys: %+v", ks)
		}
	})
}

// TestKeyUseRecordedOncePerInterval: however often one process notes a
// use, and however many processes do, the registry gets one use record per
// interval; every Store then shows LastUsedAt. The topic holds the token's
// display prefix and never the token.
func TestKeyUseRecordedOncePerInterval(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		a, b := openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)
		tn, _ := a.CreateTenant(ctx, "", "Acme")
		token, key, err := a.CreateKey(ctx, tn.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		if key.Prefix != token[:8] || len(key.Prefix) != 8 {
			t.Fatalf("prefix %q of token %q...", key.Prefix, token[:8])
		}
		if got, _ := a.Key(key.ID); !got.LastUsedAt.IsZero() {
			t.Fatalf("a key never used has LastUsedAt %v", got.LastUsedAt)
		}
		before := time.Now()
		for range 50 {
			a.NoteKeyUse(key.ID)
		}
		eventually(t, func() bool { ks := b.Keys(tn.ID); return len(ks) == 1 && !ks[0].LastUsedAt.IsZero() }, "the other store shows the use")
		if at := b.Keys(tn.ID)[0].LastUsedAt; at.Before(before.Add(-time.Millisecond)) || at.After(time.Now()) {
			t.Fatalf("LastUsedAt %v is not the use (after %v)", at, before)
		}
		for range 10 {
			b.NoteKeyUse(key.ID) // the registry holds a use within the interval
		}
		time.Sleep(300 * time.Millisecond)
		uses := 0
		var all []byte
		for _, r := range readTopic(t, k, topic) {
			if string(r.Key) == keyUsePrefix+key.ID {
				uses++
			}
			all = append(all, r.Value...)
		}
		if uses != 1 {
			t.Fatalf("%d use records for 60 uses in one interval, want 1", uses)
		}
		if bytes.Contains(all, []byte(token)) || !bytes.Contains(all, []byte(key.Prefix)) {
			t.Fatal("the topic holds the token, or not its display prefix")
		}
	})
}

// TestKeyLastUsedMoves: a use after the interval moves LastUsedAt.
func TestKeyLastUsedMoves(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		cfg := storeConfig(t, k, testbackend.UniqueName(t), keyK1)
		cfg.KeyUseInterval = 200 * time.Millisecond
		s, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		tn, _ := s.CreateTenant(ctx, "", "Acme")
		_, key, err := s.CreateKey(ctx, tn.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		s.NoteKeyUse(key.ID)
		var first time.Time
		eventually(t, func() bool { k, _ := s.Key(key.ID); first = k.LastUsedAt; return !first.IsZero() }, "the first use is recorded")
		time.Sleep(cfg.KeyUseInterval)
		s.NoteKeyUse(key.ID)
		eventually(t, func() bool { k, _ := s.Key(key.ID); return k.LastUsedAt.After(first) }, "LastUsedAt moves with a use after the interval")
	})
}

// TestNoteKeyUseDoesNotWait: with Kafka unreachable, noting a use returns
// at once and the key goes on authenticating: a request never waits for
// its use to be recorded. Nor does a shutdown wait for the stuck write.
func TestNoteKeyUseDoesNotWait(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		out := testbackend.NewOutage()
		cfg := storeConfig(t, k, testbackend.UniqueName(t), keyK1)
		cfg.ClientOpts = []kgo.Opt{out.Opt()}
		s, err := Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		tn, _ := s.CreateTenant(ctx, "", "Acme")
		token, key, err := s.CreateKey(ctx, tn.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		out.Cut()
		start := time.Now()
		s.NoteKeyUse(key.ID)
		if took := time.Since(start); took > 50*time.Millisecond {
			t.Fatalf("NoteKeyUse took %v with Kafka away", took)
		}
		if _, ok := s.Authenticate(token); !ok {
			t.Fatal("the key is refused while its use cannot be recorded")
		}
		time.Sleep(time.Second) // the write is under way
		closed := make(chan struct{})
		go func() { s.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close waits for a use write Kafka cannot take")
		}
	})
}

// TestRevokeDeletesKeyAndItsUse: a revocation leaves tombstones as the
// newest records of both the key and its use; a use recorded after the
// revocation (it lost the race) is deleted by its writer, and one a dead
// process left behind by the next Store to open. No Store lists or
// authenticates the key again.
func TestRevokeDeletesKeyAndItsUse(t *testing.T) {
	testbackend.ForEachKafka(t, func(t *testing.T, k testbackend.Kafka) {
		ctx := context.Background()
		topic := testbackend.UniqueName(t)
		a, b := openStore(t, k, topic, keyK1), openStore(t, k, topic, keyK1)
		tn, _ := a.CreateTenant(ctx, "", "Acme")
		token, key, err := a.CreateKey(ctx, tn.ID, "ci")
		if err != nil {
			t.Fatal(err)
		}
		a.NoteKeyUse(key.ID)
		eventually(t, func() bool { k, _ := a.Key(key.ID); return !k.LastUsedAt.IsZero() }, "the use is recorded")
		if err := a.RevokeKey(ctx, tn.ID, key.ID); err != nil {
			t.Fatal(err)
		}
		deleted := func(when string) {
			t.Helper()
			latest := latestRecords(t, k, topic)
			for _, rk := range []string{keyPrefix + key.ID, keyUsePrefix + key.ID} {
				if v, ok := latest[rk]; !ok || v != nil {
					t.Fatalf("%s: the newest record of %s is %q, want a tombstone", when, rk, v)
				}
			}
		}
		deleted("after the revocation")

		a.writeUse(key.ID, time.Now()) // a use that lost the race with the revocation
		deleted("after a late use")

		late, _ := json.Marshal(useRecord{At: time.Now()})
		if err := k.Client(t).ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(keyUsePrefix + key.ID), Value: late}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		c := openStore(t, k, topic, keyK1)
		deleted("after a fresh store opened on a use left behind")

		for name, s := range map[string]*Store{"writer": a, "other": b, "fresh": c} {
			if _, ok := s.Authenticate(token); ok {
				t.Fatalf("%s store authenticates the revoked key", name)
			}
			if _, ok := s.Key(key.ID); ok || len(s.Keys(tn.ID)) != 0 {
				t.Fatalf("%s store still lists the revoked key", name)
			}
		}
	})
}

// TestKeysPerTenantCapped: a tenant holds at most MaxKeysPerTenant keys;
// revoking one makes room.
func TestKeysPerTenantCapped(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, testbackend.NewFake(t), testbackend.UniqueName(t), keyK1)
	tn, _ := s.CreateTenant(ctx, "", "Acme")
	other, _ := s.CreateTenant(ctx, "", "Globex")
	var last Key
	for range MaxKeysPerTenant {
		var err error
		if _, last, err = s.CreateKey(ctx, tn.ID, "k"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.CreateKey(ctx, tn.ID, "one too many"); !errors.Is(err, ErrTooManyKeys) {
		t.Fatalf("key %d: %v, want ErrTooManyKeys", MaxKeysPerTenant+1, err)
	}
	if _, _, err := s.CreateKey(ctx, other.ID, "k"); err != nil {
		t.Fatalf("another tenant's cap: %v", err)
	}
	if err := s.RevokeKey(ctx, tn.ID, last.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateKey(ctx, tn.ID, "k"); err != nil {
		t.Fatalf("after a revocation: %v", err)
	}
}
