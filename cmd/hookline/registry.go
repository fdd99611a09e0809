package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/hookline/hookline/internal/endpoints"
	"github.com/hookline/hookline/internal/registry"
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

// registryTopic is the registry's topic under the topic prefix.
func registryTopic(topicPrefix string) string { return topicPrefix + "registry" }

// openRegistry opens the registry and, with epFile, loads the file's
// endpoints into it (those it already holds are left as they are).
func openRegistry(ctx context.Context, brokers []string, topicPrefix string, kr *registry.Keyring, epFile string, log *zap.Logger) (*registry.Store, error) {
	st, err := registry.Open(ctx, registry.Config{Brokers: brokers, Topic: registryTopic(topicPrefix), Keyring: kr, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if epFile != "" {
		set, err := endpoints.LoadFile(epFile)
		if err != nil {
			st.Close()
			return nil, badFlag("endpoints", "%v", err)
		}
		n, err := bootstrap(ctx, st, set.All())
		if err != nil {
			st.Close()
			return nil, err
		}
		if n > 0 {
			log.Info("endpoints loaded into the registry", zap.String("file", epFile), zap.Int("created", n))
		}
	}
	return st, nil
}

// bootstrap creates the endpoints the registry lacks. Several processes
// may do it at once: the log decides, and the losers find them there.
func bootstrap(ctx context.Context, st *registry.Store, eps []*endpoints.Endpoint) (int, error) {
	n := 0
	for _, e := range eps {
		if st.Get(e.ID) != nil {
			continue
		}
		if _, err := st.Create(ctx, e); err != nil {
			if errors.Is(err, registry.ErrExists) || errors.Is(err, registry.ErrNameTaken) {
				continue
			}
			return n, fmt.Errorf("load endpoint %s into the registry: %w", e.ID, err)
		}
		n++
	}
	return n, nil
}

// endpointSource is where a dispatcher or retrier reads endpoints: the
// registry when a master key is configured (with --endpoints loaded into
// it), else the endpoints file alone. close releases it.
func endpointSource(ctx context.Context, s *sharedFlags, brokers []string, log *zap.Logger) (endpoints.Registry, func(), error) {
	kr, err := s.registry.keyring()
	if err != nil {
		return nil, nil, err
	}
	if kr != nil {
		st, err := openRegistry(ctx, brokers, s.topicPrefix, kr, s.endpoints, log)
		if err != nil {
			return nil, nil, err
		}
		return st, st.Close, nil
	}
	if s.endpoints == "" {
		return nil, nil, badFlag("master-key", "required to follow the endpoint registry (or give --endpoints FILE for a fixed set of endpoints)")
	}
	set, err := endpoints.LoadFile(s.endpoints)
	if err != nil {
		return nil, nil, badFlag("endpoints", "%v", err)
	}
	return set, func() {}, nil
}

// runRegistry is the registry's maintenance: keygen prints a new master
// key; rekey re-seals every secret under the first key of --master-key.
func runRegistry(ctx context.Context, args []string) error {
	if len(args) == 0 || (args[0] != "rekey" && args[0] != "keygen") {
		fmt.Fprintf(os.Stderr, "usage: hookline registry keygen | rekey --master-key NEW,OLD[,...]\n\n"+
			"Rotating the master key: 1) hookline registry keygen; 2) give every process --master-key NEW,OLD and restart\n"+
			"them; 3) hookline registry rekey --master-key NEW,OLD; 4) drop OLD from every process's --master-key.\n")
		return flag.ErrHelp
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
	prefix := fs.String("topic-prefix", "hookline.", "prefix of hookline's topics (the registry is <prefix>registry)")
	var rf registryFlags
	rf.register(fs)
	if err := fs.parse(args[1:]); err != nil {
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
	n, err := rekey(ctx, splitList(*brokers), *prefix, kr, log)
	if err != nil {
		return err
	}
	fmt.Printf("re-sealed %d endpoints under key %s; the old keys may now be dropped from every process's --master-key\n", n, kr.IDs()[0])
	return nil
}

// rekey opens the registry with kr (which must open every secret) and
// re-seals what is not under kr's first key.
func rekey(ctx context.Context, brokers []string, topicPrefix string, kr *registry.Keyring, log *zap.Logger) (int, error) {
	st, err := registry.Open(ctx, registry.Config{Brokers: brokers, Topic: registryTopic(topicPrefix), Keyring: kr, Logger: log})
	if err != nil {
		return 0, fmt.Errorf("registry: %w", err)
	}
	defer st.Close()
	return st.Rekey(ctx, kr)
}
