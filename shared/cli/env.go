// Package cli holds the command-line conventions every binary shares: each
// flag has an environment variable, named in its --help, that supplies the
// value when the flag is not given; usage errors exit 2, failures exit 1.
package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"
)

// Exit codes shared by every binary.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// UsageError marks an error as the user's to fix (bad flag, bad config), so
// the binary exits with ExitUsage.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef builds a UsageError.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitCode maps an error returned by a command to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var u *UsageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitFailure
}

// BindEnv ties each named flag to an environment variable: the variable is
// mentioned in the flag's usage, and supplies the value when the flag was
// not set on the command line. Call it after defining the flags and before
// parsing (for the --help text) and ApplyEnv after parsing.
func BindEnv(fs *pflag.FlagSet, bindings map[string]string) {
	for name, env := range bindings {
		f := fs.Lookup(name)
		if f == nil {
			panic("cli.BindEnv: no flag --" + name) // programming error, caught by any test that builds the command
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[envAnnotation] = []string{env}
		f.Usage += fmt.Sprintf(" [env %s]", env)
	}
}

const envAnnotation = "cli_env"

// ApplyEnv sets every flag bound by BindEnv that was not given on the
// command line from the process environment. See ApplyEnvFrom.
func ApplyEnv(fs *pflag.FlagSet) error {
	return ApplyEnvFrom(fs, os.Getenv)
}

// ApplyEnvFrom sets every flag bound by BindEnv that was not given on the
// command line from getenv; an empty value counts as unset. Taking the
// lookup as a parameter lets a command run in-process (tests, embedding)
// with an environment of its own. A value the flag rejects is a usage error
// naming both the variable and the flag.
func ApplyEnvFrom(fs *pflag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		envs := f.Annotations[envAnnotation]
		if err != nil || f.Changed || len(envs) == 0 {
			return
		}
		v := getenv(envs[0])
		if v == "" {
			return
		}
		if setErr := fs.Set(f.Name, v); setErr != nil {
			err = Usagef("%s (for --%s): %v", envs[0], f.Name, setErr)
		}
	})
	return err
}
