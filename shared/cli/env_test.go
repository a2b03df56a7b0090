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

func TestApplyEnvFromUsesTheLookupAndSkipsEmpty(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	server := fs.String("server", "def", "address")
	key := fs.String("api-key", "k0", "key")
	BindEnv(fs, map[string]string{"server": "T_SERVER", "api-key": "T_KEY"})
	_ = fs.Parse(nil)
	env := map[string]string{"T_SERVER": "cp:7443", "T_KEY": ""}
	if err := ApplyEnvFrom(fs, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *server != "cp:7443" || *key != "k0" {
		t.Fatalf("server=%q key=%q; want the lookup's server and the default key", *server, *key)
	}
}
