package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/internal/catalog"
	"io"
	"os"
	"strings"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/kafka"
	"github.com/hookline/hookline/internal/registry"
	"github.com/hookline/hookline/internal/topics"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// registryFlags say where the endpoint registry is and how its secrets
// are sealed.
type registryFlags struct {
	masterKey, masterKeyFile string
}

func (f *registryFlags) register(fs *flagSet) {
	fs.StringVar(&f.masterKey, "master-key", "", "keyring sealing endpoint secrets in the registry: base64 32-byte keys, comma-separated, the first seals (prefer HOOKLINE_MASTER_KEY or --master-key-file to the command line)")
	fs.StringVar(&f.masterKeyFile, "master-key-file", "", "file holding the --master-key keyring (e.g. a mounted secret)")
}

// keyring reads the keyring; nil when none is configured.
func (f *registryFlags) keyring() (*registry.Keyring, error) {
	spec := f.masterKey
	if f.masterKeyFile != "" {
		b, err := os.ReadFile(f.masterKeyFile)
		if err != nil {
			return nil, badFlag("master-key-file", "%v", err)
		}
		spec = strings.TrimSpace(string(b))
	}
	if spec == "" {
		return nil, nil
	}
	kr, err := registry.ParseKeyring(spec)
	if err != nil {
		return nil, badFlag("master-key", "%v", err)
	}
	return kr, nil
}

// registryTopic is the registry's topic under the topic prefix, by the
// topic layout.
func registryTopic(topicPrefix string) string { return kafka.Layout{Prefix: topicPrefix}.Registry() }

// openRegistry opens the registry, with kopts (TLS, SASL) on its client,
// and, with epFile, makes it match the file: see registry.Store.ApplyFile,
// which also logs every change.
func openRegistry(ctx context.Context, brokers []string, topicPrefix string, kr *registry.Keyring, epFile string, log *zap.Logger, kopts ...kgo.Opt) (*registry.Store, error) {
	var eps []*endpoints.Endpoint
	var apps *applications.Set
	if epFile != "" {
		var set *endpoints.Set
		var err error
		if apps, set, err = applications.LoadFile(epFile); err != nil {
			return nil, badFlag("endpoints", "%v", err)
		}
		eps = set.All()
	}
	st, err := registry.Open(ctx, registry.Config{Brokers: brokers, Topic: registryTopic(topicPrefix), Keyring: kr, Logger: log, ClientOpts: kopts})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if epFile != "" {
		// The file's applications first: its endpoints name them.
		for _, a := range apps.All() {
			if _, _, err := st.PutApplication(ctx, a); err != nil {
				st.Close()
				return nil, fileError(epFile, fmt.Errorf("application %s: %w", a.ID, err))
			}
		}
		if _, err := st.ApplyFile(ctx, epFile, eps); err != nil {
			st.Close()
			return nil, fileError(epFile, err)
		}
	}
	return st, nil
}

// endpointsDryRun prints what loading epFile would change in the
// registry, a plain line per endpoint and a summary, and writes nothing.
// Without a keyring no registry is involved: the file is read alone.
// kopts are the registry client's options (TLS, SASL).
func endpointsDryRun(ctx context.Context, w io.Writer, epFile string, brokers []string, topicPrefix string, kr *registry.Keyring, log *zap.Logger, kopts ...kgo.Opt) error {
	if epFile == "" {
		return errDryRunNeedsFile
	}
	_, set, err := applications.LoadFile(epFile)
	if err != nil {
		return badFlag("endpoints", "%v", err)
	}
	if kr == nil {
		n, noun := len(set.All()), "endpoints"
		if n == 1 {
			noun = "endpoint"
		}
		fmt.Fprintf(w, "endpoints file %s: no --master-key, so no registry: the file is read alone, a fixed set of %d %s; nothing written\n", epFile, n, noun)
		return nil
	}
	st, err := registry.Open(ctx, registry.Config{Brokers: brokers, Topic: registryTopic(topicPrefix), Keyring: kr, Logger: log, ClientOpts: kopts})
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer st.Close()
	p, err := st.PlanFile(set.All())
	if err != nil {
		return fileError(epFile, err)
	}
	for _, c := range p.Changes {
		fmt.Fprintln(w, c.Line(true))
	}
	fmt.Fprintln(w, p.Summary(epFile, true))
	return nil
}

var errDryRunNeedsFile = badFlag("endpoints-dry-run", "needs --endpoints FILE, the file whose differences with the registry it prints")

// fileError names the flag when the file is at fault (an endpoint the
// registry refuses), and the file otherwise (Kafka failed, say).
func fileError(epFile string, err error) error {
	if errors.Is(err, endpoints.ErrInvalid) || errors.Is(err, registry.ErrNameTaken) || errors.Is(err, applications.ErrInvalid) || errors.Is(err, applications.ErrBreaking) {
		return badFlag("endpoints", "%s: %v", epFile, err)
	}
	return fmt.Errorf("endpoints file %s: %w", epFile, err)
}

// endpointSource is where a dispatcher or retrier reads endpoints: the
// registry when a master key is configured (made to match --endpoints),
// else the endpoints file alone. close releases it.
func endpointSource(ctx context.Context, s *sharedFlags, brokers []string, log *zap.Logger) (endpoints.Registry, func(), error) {
	kr, err := s.registry.keyring()
	if err != nil {
		return nil, nil, err
	}
	if kr != nil {
		st, err := openRegistry(ctx, brokers, s.topicPrefix, kr, s.endpoints, log, s.kafka.opts...)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
	if s.endpoints == "" {
		return nil, nil, badFlag("master-key", "required to follow the endpoint registry (or give --endpoints FILE for a fixed set of endpoints)")
	}
	apps, set, err := applications.LoadFile(s.endpoints)
	if err != nil {
		return nil, nil, badFlag("endpoints", "%v", err)
	}
	return fileSource{set, apps}, func() {}, nil
}

// fileSource is a fixed endpoints file read alone: its endpoints, and its
// applications' catalogs for the dispatcher.
type fileSource struct {
	*endpoints.Set
	apps *applications.Set
}

// Catalog returns the file's application id's catalog, nil for none.
func (f fileSource) Catalog(id string) *catalog.Catalog { return f.apps.Catalog(id) }

// memberDryRun is --endpoints-dry-run of a dispatcher or retrier.
func memberDryRun(ctx context.Context, s *sharedFlags, log *zap.Logger) error {
	kr, err := s.registry.keyring()
	if err != nil {
		return err
	}
	if kr != nil {
		if err := s.kafka.connect(ctx, splitList(s.brokers), log); err != nil {
			return err
		}
	}
	return endpointsDryRun(ctx, os.Stdout, s.endpoints, splitList(s.brokers), s.topicPrefix, kr, log, s.kafka.opts...)
}

// runRegistry is the registry's maintenance: keygen prints a new master
// key; rekey re-seals every secret under the first key of --master-key.
func runRegistry(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "rekey" && args[0] != "keygen") {
		fmt.Fprintf(os.Stderr, "usage: hookline registry keygen | rekey --master-key NEW,OLD[,...]\n\n"+
			"Rotating the master key: 1) hookline registry keygen; 2) give every process --master-key NEW,OLD and restart\n"+
			"them; 3) hookline registry rekey --master-key NEW,OLD; 4) drop OLD from every process's --master-key.\n")
		return helpOrUsage(args)
	}
	if args[0] == "keygen" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		fmt.Println(base64.StdEncoding.EncodeToString(b))
		return nil
	}
	fs := newFlagSet("registry rekey", "--brokers LIST --master-key NEW,OLD[,...]")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	prefix := fs.String("topic-prefix", topics.DefaultPrefix, "prefix of hookline's topics (the registry is <prefix>registry)")
	var rf registryFlags
	rf.register(fs)
	var kf kafkaFlags
	kf.register(fs)
	if err := fs.parse(args[1:]); err != nil {
		return err
	}
	if err := fs.refuseZero("topic-prefix"); err != nil {
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	kr, err := rf.keyring()
	if err != nil {
		return err
	}
	if kr == nil || len(kr.IDs()) < 2 {
		return badFlag("master-key", "want the new key first, then the old one(s): NEW,OLD")
	}
	if err := kf.connect(ctx, splitList(*brokers), log); err != nil {
		return err
	}
	n, err := rekey(ctx, splitList(*brokers), *prefix, kr, log, kf.opts...)
	if err != nil {
		return err
	}
	fmt.Printf("re-sealed %d endpoints under key %s; the old keys may now be dropped from every process's --master-key\n", n, kr.IDs()[0])
	return nil
}

// rekey opens the registry with kr (which must open every secret) and
// kopts (TLS, SASL), and re-seals what is not under kr's first key.
func rekey(ctx context.Context, brokers []string, topicPrefix string, kr *registry.Keyring, log *zap.Logger, kopts ...kgo.Opt) (int, error) {
	st, err := registry.Open(ctx, registry.Config{Brokers: brokers, Topic: registryTopic(topicPrefix), Keyring: kr, Logger: log, ClientOpts: kopts})
	if err != nil {
		return 0, fmt.Errorf("registry: %w", err)
	}
	defer st.Close()
	return st.Rekey(ctx, kr)
}
