package cli

import (
	"os/exec"
	"testing"
)

func TestQuoteLeavesPlainWordsAlone(t *testing.T) {
	for _, s := range []string{"acme", "bb-acme", "env:BITBUCKET_TOKEN", "file:/run/secrets/x", "a.b_c", "Zürich", "日本", "key=value", "user@host", "50%"} {
		if got := Quote(s); got != s {
			t.Errorf("Quote(%q) = %q, want it unquoted", s, got)
		}
	}
}

// Whatever the text, the shell reads the quoted word back as exactly that
// text, as one word.
func TestQuoteReadsBackThroughTheShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, s := range []string{"", "Bitbucket acme", "it's", `a"b`, "$HOME", "`id`", "a\\b", "*", "x;y", "a|b", "(x)", "<x>", "a&b", "#c", "~", "~x", "!x", "tab\there", "new\nline", "{a,b}", "[ab]", "x?", "Ça va"} {
		q := Quote(s)
		out, err := exec.Command(sh, "-c", `set -- `+q+`; printf '%d:%s' "$#" "$1"`).Output()
		if err != nil {
			t.Fatalf("sh -c with %s: %v", q, err)
		}
		if want := "1:" + s; string(out) != want {
			t.Errorf("Quote(%q) = %s reads back as %q, want one word %q", s, q, out, want)
		}
	}
}

func TestCommandQuotesWordsButNotPlaceholders(t *testing.T) {
	got := Command("idpctl", "import", "Bitbucket acme", "NAME...", "--action", "merge", "...")
	if want := "idpctl import 'Bitbucket acme' NAME... --action merge ..."; got != want {
		t.Errorf("Command = %q, want %q", got, want)
	}
}
