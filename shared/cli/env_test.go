package cli

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestApplyEnvFillsOnlyUnsetFlags(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	name := fs.String("name", "def", "the name")
	count := fs.Int("count", 1, "how many")
	BindEnv(fs, map[string]string{"name": "T_NAME", "count": "T_COUNT"})
	t.Setenv("T_NAME", "from-env")
	t.Setenv("T_COUNT", "7")

	if err := fs.Parse([]string{"--count", "3"}); err != nil {
		t.Fatal(err)
	}
	if err := ApplyEnv(fs); err != nil {
		t.Fatal(err)
	}
	if *name != "from-env" || *count != 3 {
		t.Fatalf("name=%q count=%d; want env for name and flag for count", *name, *count)
	}
	if u := fs.Lookup("name").Usage; !strings.Contains(u, "[env T_NAME]") {
		t.Fatalf("usage does not name the variable: %q", u)
	}
}

func TestApplyEnvBadValueIsUsageError(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.Int("count", 1, "how many")
	BindEnv(fs, map[string]string{"count": "T_COUNT"})
	t.Setenv("T_COUNT", "many")
	_ = fs.Parse(nil)
	err := ApplyEnv(fs)
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "T_COUNT") {
		t.Fatalf("want a usage error naming T_COUNT, got %v", err)
	}
	if ExitCode(errors.New("x")) != ExitFailure || ExitCode(nil) != ExitOK {
		t.Fatal("exit code table wrong")
	}
}
