package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hookline/hookline/internal/applications"
	"github.com/hookline/hookline/producer"
)

// produceSettings names the flag behind each producer.Config setting the
// command sets.
var produceSettings = settings{"Brokers": "brokers", "MaxEventBytes": "max-event-bytes", "SchemaDir": "schema-dir"}

func runProduce(ctx context.Context, args []string) error {
	fs := newFlagSet("produce", "[--type T --tenant ID --data JSON | --file F|-]")
	brokers := fs.String("brokers", "127.0.0.1:9092", "Kafka bootstrap list, comma-separated")
	topic := fs.String("topic", producer.DefaultTopic, "events topic")
	schemaDir := fs.String("schema-dir", "", "directory of extra <type>.schema.json files")
	maxBytes := fs.Int("max-event-bytes", producer.DefaultMaxEventBytes, "largest encoded event accepted")
	typ := fs.String("type", "", "event type, e.g. task.created")
	tenant := fs.String("tenant", "", "tenant id")
	eventID := fs.String("event-id", "", "event id (default: generated)")
	origin := fs.String("origin", "", "origin of the change, e.g. api")
	data := fs.String("data", "", `event data as JSON, e.g. '{"task":{"id":"t1","title":"x"}}'`)
	file := fs.String("file", "", "read whole envelopes (one or more JSON objects) from this file, or - for stdin")
	app := fs.String("application", "", "the application the event belongs to (its catalog holds the type; only its endpoints receive it)")
	appFiles := fs.String("applications", "", "application JSON files or directories, comma-separated, whose catalogs events naming them are held to (e.g. examples/applications/)")
	var kf kafkaFlags
	kf.register(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if (*file == "") == (*typ == "") {
		return errors.New("give either --type, --tenant and --data, or --file (- for stdin)")
	}
	if err := fs.refuseZero("max-event-bytes", "topic"); err != nil {
		return err
	}
	log, err := fs.logger()
	if err != nil {
		return err
	}
	if err := kf.connect(ctx, splitList(*brokers), log); err != nil {
		return err
	}
	cfg := producer.Config{Brokers: splitList(*brokers), Security: kf.sec, Topic: *topic, SchemaDir: *schemaDir, MaxEventBytes: *maxBytes, Logger: log}
	if *appFiles != "" {
		list, err := applications.ReadFiles(splitList(*appFiles)...)
		if err != nil {
			return badFlag("applications", "%v", err)
		}
		if cfg.Applications, err = applications.NewSet(list...); err != nil {
			return badFlag("applications", "%v", err)
		}
	}
	p, err := producer.New(cfg)
	if err != nil {
		return produceSettings.flagError(err)
	}
	defer p.Close(context.Background())

	publish := func(ev producer.Event) error {
		res, err := p.Publish(ctx, ev)
		if err != nil {
			return explain(err)
		}
		fmt.Printf("published %s (%s, tenant %s) to %s partition %d offset %d\n", res.EventID, ev.Type, ev.TenantID, *topic, res.Partition, res.Offset)
		return nil
	}
	if *file == "" {
		ev := producer.Event{Type: *typ, TenantID: *tenant, EventID: *eventID, Origin: *origin, Application: *app}
		if *data != "" {
			dec := json.NewDecoder(bytes.NewReader([]byte(*data)))
			dec.UseNumber()
			if err := dec.Decode(&ev.Data); err != nil {
				return badFlag("data", "not a JSON object: %v", err)
			}
		}
		return publish(ev)
	}
	var in io.Reader = os.Stdin
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return badFlag("file", "%v", err)
		}
		defer f.Close()
		in = f
	}
	dec := json.NewDecoder(bufio.NewReader(in))
	n := 0
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("input event %d: not JSON: %w", n+1, err)
		}
		n++
		ev, err := producer.ParseEvent(raw)
		if err != nil {
			return fmt.Errorf("input event %d: %w", n, err)
		}
		if err := publish(ev); err != nil {
			return fmt.Errorf("input event %d: %w", n, err)
		}
	}
	if n == 0 {
		return errors.New("no events in the input")
	}
	return nil
}

// explain adds what to do to the producer's bad-input errors.
func explain(err error) error {
	var se *producer.SchemaError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("%w (fix the field at %s; the schemas are in schemas/)", err, se.Pointer)
	case errors.Is(err, producer.ErrUnknownType):
		return fmt.Errorf("%w (add a schema with --schema-dir to publish a new type, or give the application's file with --applications)", err)
	}
	return err
}
