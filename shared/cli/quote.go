package cli

import (
	"strings"
	"unicode"
)

// Quote returns s as one word of a POSIX shell command line: as it is when
// the shell would read it back unchanged, in single quotes otherwise (an
// integration named Bitbucket acme prints as 'Bitbucket acme', and a quote
// inside as '\”). Every command line a binary prints for pasting goes
// through Quote, or through Command, which uses it.
func Quote(s string) string {
	if s != "" && !strings.ContainsFunc(s, needsQuotes) && !strings.HasPrefix(s, "~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// needsQuotes reports a rune the shell reads as more than itself. Letters
// and digits of any script are plain; of ASCII punctuation only what no
// shell treats specially.
func needsQuotes(r rune) bool {
	switch {
	case r < 0x80:
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-./:=,@%+", r))
	case unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r):
		return true
	}
	return false
}

// Command joins words into a command line for pasting, each through
// Quote, except placeholders a person replaces (upper-case words such as
// NAME or NAME..., and "..."), which stay as they are.
func Command(words ...string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if isPlaceholder(w) {
			out[i] = w
			continue
		}
		out[i] = Quote(w)
	}
	return strings.Join(out, " ")
}

func isPlaceholder(w string) bool {
	core := strings.TrimSuffix(w, "...")
	if core == "" {
		return w == "..."
	}
	for _, r := range core {
		if !(r >= 'A' && r <= 'Z' || r == '_') {
			return false
		}
	}
	return true
}
