// Command hookline runs hookline's components: the embedded development
// stack (dev), the producer CLI (produce), and a reader of topics (tail).
// Each subcommand's flags also read HOOKLINE_<FLAG> environment variables.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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

func usage() {
	fmt.Fprintf(os.Stderr, "hookline: a Kafka-native outgoing-webhook pipeline\n\nusage: hookline <command> [flags]\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(os.Stderr, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\n'hookline <command> -h' lists a command's flags; each flag --x-y also reads HOOKLINE_X_Y.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name != os.Args[1] {
			continue
		}
		err := c.run(ctx, os.Args[2:])
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "hookline %s: %v\n", c.name, err)
			os.Exit(1)
		}
		return
	}
	fmt.Fprintf(os.Stderr, "hookline: unknown command %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
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
