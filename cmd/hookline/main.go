// Command hookline is hookline's one binary: the pipeline's components
// (dispatcher, retrier, api, and dev, which runs them all in one process
// on an embedded Kafka and Redis), their operations (topics, doctor,
// registry, replay, probe), clients of the management API (endpoints,
// deliveries), and tools to publish, read and receive events (produce,
// tail, receiver). `hookline help` lists them. Each command's flags also
// read HOOKLINE_<FLAG> environment variables; a flag given wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hookline/hookline/internal/lifecycle"
	"go.uber.org/zap"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"dev", "run the whole pipeline in one process on embedded Kafka and Redis (--demo for a live demo)", runDev},
		{"dispatcher", "consume events, batch per endpoint, sign and POST", runDispatcher},
		{"api", "serve the management API: tenants, keys, endpoints, deliveries, health, Retry now, replays, ingest", runAPI},
		{"retrier", "send due retries from the retry tiers; dead-letter what fails for good", runRetrier},
		{"replay", "re-enqueue a dead or pending delivery now, or an endpoint's dead letters at a rate", runReplay},
		{"registry", "registry maintenance: keygen (a new master key), rekey (re-seal secrets under it)", runRegistry},
		{"applications", "list, show, apply (from JSON files) or delete applications: catalogs and dialects", runApplications},
		{"tenants", "list the tenants in the registry", runTenants},
		{"keys", "list, create (with an expiry) or revoke a tenant's API keys in the registry", runKeys},
		{"endpoints", "create, list, get, update, delete, rotate or test endpoints through the API", runEndpoints},
		{"deliveries", "an endpoint's recent deliveries, or one delivery's attempts, through the API", runDeliveries},
		{"produce", "publish an event from flags, a JSON file or stdin", runProduce},
		{"tail", "print records of a topic with their headers", runTail},
		{"doctor", "check Kafka, Redis, the topics, consumer lag and the registry; say what is wrong and what to do", runDoctor},
		{"receiver", "a sample webhook receiver that verifies signatures and counts deliveries (compose demo, smoke tests)", runReceiver},
		{"probe", "GET a health URL, exit 1 unless it answers 2xx (container healthchecks)", runProbe},
		{"topics", "create hookline's topics, or compare those that exist with the layout (create|describe)", runTopics},
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "hookline: a Kafka-native outgoing-webhook pipeline\n\nusage: hookline <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\n'hookline <command> -h' (or 'hookline help <command>') lists a command's flags; each flag --x-y also reads HOOKLINE_X_Y.\n")
}

// errUsage is returned by a command whose arguments it could not read,
// after it printed its usage.
var errUsage = errors.New("usage")

// isHelp says whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// helpOrUsage is what a command with subcommands returns when args name
// none it has: help asked for is not an error; anything else is.
func helpOrUsage(args []string) error {
	if len(args) > 0 && isHelp(args[0]) {
		return flag.ErrHelp
	}
	return errUsage
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// run runs the command args name and returns the exit status: 0 when it
// succeeded or help was asked for, 1 when it failed, 2 when the command
// line could not be read.
func run(args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return 2
	}
	if isHelp(args[0]) {
		if len(args) == 1 {
			usage(os.Stdout)
			return 0
		}
		args = []string{args[1], "-h"} // hookline help <command>
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		}
		fmt.Fprintf(os.Stderr, "hookline %s: %v\n", c.name, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "hookline: unknown command %q\n\n", args[0])
	usage(os.Stderr)
	return 2
}

// supervisor is how every long-running command (dev, api, dispatcher,
// retrier) runs its components: each started in turn, and on SIGTERM or
// Ctrl-C (the end of main's context), or when one stops by itself, each
// drained in the same order, all within --shutdown-timeout. draining is
// the line told to the user as the stop begins, with %s for the timeout.
func supervisor(drain time.Duration, log *zap.Logger, draining string) *lifecycle.Supervisor {
	return &lifecycle.Supervisor{
		Timeout: drain,
		Logger:  log,
		OnStop:  func() { fmt.Fprintf(os.Stderr, draining+"\n", drain) },
	}
}
