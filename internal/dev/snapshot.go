package dev

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// redisDBs are the databases saved; miniredis has Redis's 16.
const redisDBs = 16

// savedKey is one key of the snapshot. Values are bytes, which JSON keeps
// exact where strings would lose what is not UTF-8.
type savedKey struct {
	DB   int    `json:"db"`
	Key  []byte `json:"key"`
	Type string `json:"type"`
	// Value is a string's value.
	Value []byte `json:"value,omitempty"`
	// Items are a hash's fields and values, alternating, or the members of
	// a set, list or sorted set.
	Items [][]byte `json:"items,omitempty"`
	// Scores are a sorted set's, one per item.
	Scores []float64 `json:"scores,omitempty"`
	// ExpireAt is wall-clock time, so a key whose TTL ran out while dev
	// was stopped is not brought back, as with Redis's own persistence.
	ExpireAt *time.Time `json:"expireAt,omitempty"`
}

type redisSnapshot struct {
	SavedAt time.Time  `json:"savedAt"`
	Keys    []savedKey `json:"keys"`
}

// saveRedis writes m's keys to file. It reads key by key while the pipeline
// runs, so it is not one instant; the final save, after the pipeline has
// stopped, is.
func saveRedis(m *miniredis.Miniredis, file string, now time.Time) error {
	snap := redisSnapshot{SavedAt: now.UTC(), Keys: []savedKey{}}
	var skipped []string
	for i := range redisDBs {
		db := m.DB(i)
		for _, k := range db.Keys() {
			sk := savedKey{DB: i, Key: []byte(k), Type: db.Type(k)}
			var err error
			switch sk.Type {
			case "string":
				var v string
				v, err = db.Get(k)
				sk.Value = []byte(v)
			case "hash":
				var fields []string
				fields, err = db.HKeys(k)
				for _, f := range fields {
					sk.Items = append(sk.Items, []byte(f), []byte(db.HGet(k, f)))
				}
			case "set", "list":
				var vs []string
				if sk.Type == "set" {
					vs, err = db.Members(k)
				} else {
					vs, err = db.List(k)
				}
				for _, v := range vs {
					sk.Items = append(sk.Items, []byte(v))
				}
			case "zset":
				var ms map[string]float64
				ms, err = db.SortedSet(k)
				for mem, score := range ms {
					sk.Items = append(sk.Items, []byte(mem))
					sk.Scores = append(sk.Scores, score)
				}
			case "":
				continue // gone since Keys
			default:
				skipped = append(skipped, sk.Type)
				continue
			}
			if errors.Is(err, miniredis.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("key %q: %w", k, err)
			}
			if ttl := db.TTL(k); ttl > 0 {
				at := now.Add(ttl).UTC()
				sk.ExpireAt = &at
			}
			snap.Keys = append(snap.Keys, sk)
		}
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	// A crash mid-write must leave the previous snapshot whole.
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		return err
	}
	if len(skipped) > 0 {
		return fmt.Errorf("saved all but keys of types %v, which dev does not keep", skipped)
	}
	return nil
}

// loadRedis fills m from file, if there is one, and says how many keys it
// restored.
func loadRedis(m *miniredis.Miniredis, file string, now time.Time) (int, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var snap redisSnapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return 0, err
	}
	n := 0
	for _, sk := range snap.Keys {
		var ttl time.Duration
		if sk.ExpireAt != nil {
			if ttl = sk.ExpireAt.Sub(now); ttl <= 0 {
				continue
			}
		}
		if sk.DB < 0 || sk.DB >= redisDBs {
			return n, fmt.Errorf("key %q: database %d", sk.Key, sk.DB)
		}
		db, k := m.DB(sk.DB), string(sk.Key)
		var err error
		switch sk.Type {
		case "string":
			err = db.Set(k, string(sk.Value))
		case "hash":
			if len(sk.Items)%2 != 0 {
				return n, fmt.Errorf("key %q: a field without a value", k)
			}
			for i := 0; i < len(sk.Items); i += 2 {
				db.HSet(k, string(sk.Items[i]), string(sk.Items[i+1]))
			}
		case "set":
			_, err = db.SetAdd(k, strs(sk.Items)...)
		case "list":
			_, err = db.Push(k, strs(sk.Items)...)
		case "zset":
			if len(sk.Scores) != len(sk.Items) {
				return n, fmt.Errorf("key %q: %d members, %d scores", k, len(sk.Items), len(sk.Scores))
			}
			for i, mem := range sk.Items {
				if _, err = db.ZAdd(k, sk.Scores[i], string(mem)); err != nil {
					break
				}
			}
		default:
			return n, fmt.Errorf("key %q: type %q", k, sk.Type)
		}
		if err != nil {
			return n, fmt.Errorf("key %q: %w", k, err)
		}
		if ttl > 0 {
			db.SetTTL(k, ttl)
		}
		n++
	}
	return n, nil
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}
