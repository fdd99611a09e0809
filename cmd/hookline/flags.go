package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

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
	return cfg.Build()
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
