package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/hookline/hookline/internal/config"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// flagSet wraps flag.FlagSet so every flag --x-y can also come from
// HOOKLINE_X_Y; a flag given on the command line wins.
type flagSet struct {
	*flag.FlagSet
	logLevel string
}

func newFlagSet(name, args string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: hookline %s %s\n\nflags (each also read from HOOKLINE_<NAME>):\n", name, args)
		fs.PrintDefaults()
	}
	fs.StringVar(&fs.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return fs
}

// envName is the environment variable of a flag.
func envName(flagName string) string {
	return "HOOKLINE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse reads args, then the environment for flags not given.
func (fs *flagSet) parse(args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("invalid %s=%q: %v", envName(f.Name), v, e)
			}
		}
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags go before it? see -h)", fs.Arg(0))
	}
	return nil
}

// badFlag reports a setting that failed validation, naming both spellings.
func badFlag(name, format string, a ...any) error {
	return fmt.Errorf("invalid --%s (%s): %s", name, envName(name), fmt.Sprintf(format, a...))
}

// settings names the flag that sets each Config field a command maps, so
// that a package's config error reads in the words of the command line.
// Each bound is the package's: the command only maps flags to fields and
// reports what the package refuses. A nested field ("Sender.Prefix") is
// looked up whole, then by its last part.
type settings map[string]string

// with is m and more in one map; more wins.
func (m settings) with(more settings) settings {
	out := make(settings, len(m)+len(more))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// fieldName is how a Config field is spelled in a reason: an exported Go
// name, maybe qualified ("Sender.MaxRetryAfter").
var fieldName = regexp.MustCompile(`\b[A-Z][A-Za-z]*(\.[A-Z][A-Za-z]*)*\b`)

// flagError reports err, a package's *config.FieldError of a field m
// maps, as a bad flag: the flag and its environment variable, and the
// reason with every field it names put as that field's flag. Any other
// error is returned as it is.
func (m settings) flagError(err error) error {
	var fe *config.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	name, ok := m.flag(fe.Field)
	if !ok {
		return err
	}
	reason := fieldName.ReplaceAllStringFunc(fe.Reason, func(w string) string {
		if f, ok := m.flag(w); ok {
			return "--" + f
		}
		return w
	})
	return badFlag(name, "%s", reason)
}

func (m settings) flag(field string) (string, bool) {
	if f, ok := m[field]; ok {
		return f, true
	}
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		f, ok := m[field[i+1:]]
		return f, ok
	}
	return "", false
}

// refuseZero refuses 0 (or an empty string) for the named flags that
// fs has. Each shows a default other than that, and its package reads
// the zero value as "the default": typed there it is a slip more likely
// than a wish, and taken silently it would not do what it says (a queue
// wait of 0 that waits 100ms, an empty topic prefix that is "hookline.").
func (fs *flagSet) refuseZero(names ...string) error {
	for _, n := range names {
		f := fs.Lookup(n)
		if f == nil {
			continue
		}
		if v := f.Value.String(); v == "0" || v == "0s" || v == "" {
			return badFlag(n, "got %q; leave the flag out for its default, %s", v, f.DefValue)
		}
	}
	return nil
}

// logger builds the process logger: JSON on a pipe, console on a terminal.
func (fs *flagSet) logger() (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(fs.logLevel)
	if err != nil {
		return nil, badFlag("log-level", "%v", err)
	}
	cfg := zap.NewProductionConfig()
	if isTerminal(os.Stderr) {
		cfg = zap.NewDevelopmentConfig()
		cfg.DisableStacktrace = true
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	log, err := cfg.Build()
	if err != nil {
		return nil, err
	}
	redis.SetLogger(redisLog{log.Named("redis")})
	return log, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
