package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/internal/delivery"
	"github.com/hookline/hookline/internal/signing"
)

// readEvents reads an events file: per event, a uvarint length and the
// event type, then a uvarint length and the record value.
func readEvents(path string) (types []string, values [][]byte, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	interned := map[string]string{}
	next := func() ([]byte, error) {
		n, used := binary.Uvarint(raw)
		if used <= 0 || uint64(len(raw)-used) < n {
			return nil, errors.New("truncated events file")
		}
		b := raw[used : used+int(n)]
		raw = raw[used+int(n):]
		return b, nil
	}
	for len(raw) > 0 {
		t, err := next()
		if err != nil {
			return nil, nil, err
		}
		v, err := next()
		if err != nil {
			return nil, nil, err
		}
		typ, ok := interned[string(t)]
		if !ok {
			typ = string(t)
			interned[typ] = typ
		}
		types = append(types, typ)
		values = append(values, v)
	}
	return types, values, nil
}

// ceiling is one run of the signer: the events, how they are grouped and
// signed, and the next group not yet taken by a sender.
type ceiling struct {
	url     string
	key     []byte
	items   int
	headers signing.Headers
	types   []string
	values  [][]byte
	next    atomic.Int64 // index of the next group
	failed  atomic.Bool  // a sender stopped; the others stop too
}

func runCeiling(args []string) error {
	fs := flag.NewFlagSet("ceiling", flag.ContinueOnError)
	url := fs.String("url", "", "endpoint URL")
	secret := fs.String("secret", "", "signing secret")
	items := fs.Int("items", 1, "events per request")
	inflight := fs.Int("inflight", 1, "requests in flight, each over a keep-alive connection of its own")
	path := fs.String("events", "", "events file")
	prefix := fs.String("header-prefix", signing.DefaultPrefix, "prefix of the signature headers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *secret == "" || *path == "" || *items < 1 || *inflight < 1 {
		return errors.New("--url, --secret, --events, a positive --items and a positive --inflight are required")
	}
	types, values, err := readEvents(*path)
	if err != nil {
		return err
	}
	c := &ceiling{url: *url, key: []byte(*secret), items: *items, headers: signing.HeadersFor(*prefix), types: types, values: values}
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if _, err := in.ReadString('\n'); err != nil {
		return fmt.Errorf("waiting for the start line: %w", err)
	}
	if err := c.run(*inflight); err != nil {
		return err
	}
	fmt.Println("done")
	_, _ = io.Copy(io.Discard, in) // until the caller closes stdin
	return nil
}

// run posts every group with n senders, as the dispatcher keeps up to its
// per-endpoint concurrency of deliveries in flight, and returns the first
// sender's error.
func (c *ceiling) run(n int) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[w] = c.send(); errs[w] != nil {
				c.failed.Store(true)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// send takes the next group until none is left, one request at a time over
// one keep-alive connection of its own.
func (c *ceiling) send() error {
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var body []byte
	for !c.failed.Load() {
		g := int(c.next.Add(1) - 1)
		i := g * c.items
		if i >= len(c.values) {
			return nil
		}
		var err error
		if body, err = c.post(client, i, body); err != nil {
			return fmt.Errorf("request %d: %w", g, err)
		}
	}
	return nil
}

// post sends the group starting at event i, building a batch body in buf,
// and returns buf for the next group.
func (c *ceiling) post(client *http.Client, i int, buf []byte) ([]byte, error) {
	j := min(i+c.items, len(c.values))
	typ := c.types[i]
	body := c.values[i]
	if c.items > 1 {
		buf = append(buf[:0], '[')
		for k := i; k < j; k++ {
			if k > i {
				buf = append(buf, ',')
			}
			buf = append(buf, c.values[k]...)
			if c.types[k] != typ {
				typ = "batch"
			}
		}
		buf = append(buf, ']')
		body = buf
	}
	mac := hmac.New(sha256.New, c.key)
	mac.Write(body)
	sig := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	var idRaw [12]byte
	_, _ = rand.Read(idRaw[:])
	req, err := http.NewRequest(http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return buf, err
	}
	h := c.headers
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", delivery.DefaultUserAgent)
	req.Header.Set(h.Event, typ)
	req.Header.Set(h.Delivery, hex.EncodeToString(idRaw[:]))
	req.Header.Set(h.Signature, sig)
	req.Header.Set(h.Timestamp, time.Now().UTC().Format(signing.TimestampLayout))
	if c.items > 1 {
		req.Header.Set(h.BatchSize, strconv.Itoa(j-i))
	}
	resp, err := client.Do(req)
	if err != nil {
		return buf, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return buf, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return buf, nil
}
