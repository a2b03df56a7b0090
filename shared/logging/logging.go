// Package logging sets up the zerolog logger every binary of the product uses:
// JSON lines by default (what log shippers want), a human console format on
// request or when stderr is a terminal, and a writer that scrubs registered
// secrets from every line before it leaves the process.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// Format names accepted by --log-format.
const (
	FormatAuto    = "auto"
	FormatJSON    = "json"
	FormatConsole = "console"
)

// Config is what the --log-level and --log-format flags set.
type Config struct {
	Level  string // trace, debug, info, warn, error
	Format string // auto, json, console
}

// Timestamps carry sub-second precision: at 3 a.m. the order of a retry and
// the failure it answers matters. Durations are logged in seconds, the unit
// a reader assumes for a bare number ("retry_in": 1.5), not zerolog's
// default milliseconds. zerolog keeps these settings in globals, so they
// are set once here rather than by every New (which would race).
func init() {
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldUnit = time.Second
}

// New builds a logger writing to w. Every line passes through secrets, so a
// token registered there never reaches the output, whatever logged it.
func New(w io.Writer, c Config, secrets *Secrets) (zerolog.Logger, error) {
	level := zerolog.InfoLevel
	if c.Level != "" {
		l, err := zerolog.ParseLevel(strings.ToLower(c.Level))
		if err != nil || l == zerolog.NoLevel {
			return zerolog.Nop(), fmt.Errorf("log level %q: want one of trace, debug, info, warn, error", c.Level)
		}
		level = l
	}
	if secrets != nil {
		w = secrets.Writer(w)
	}
	switch c.Format {
	case "", FormatAuto:
		if isTerminal(w) {
			w = consoleWriter(w)
		}
	case FormatJSON:
	case FormatConsole:
		w = consoleWriter(w)
	default:
		return zerolog.Nop(), fmt.Errorf("log format %q: want one of auto, json, console", c.Format)
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger(), nil
}

func consoleWriter(w io.Writer) io.Writer {
	return zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
}

// isTerminal reports whether w (or the writer it scrubs for) is a terminal.
func isTerminal(w io.Writer) bool {
	if sw, ok := w.(*scrubWriter); ok {
		w = sw.out
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
