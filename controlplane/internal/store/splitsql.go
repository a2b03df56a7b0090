package store

import (
	"fmt"
	"strings"
)

// splitStatements splits a migration into its statements at the semicolons
// that end them, which excludes semicolons in quoted strings and
// identifiers, in comments, in dollar-quoted bodies ($$ ... $$ and
// $tag$ ... $tag$, PostgreSQL's function bodies) and between the BEGIN and
// END of a CREATE TRIGGER, FUNCTION or PROCEDURE (SQLite's trigger bodies,
// PostgreSQL's BEGIN ATOMIC). Each statement keeps its semicolon; text
// holding only comments is dropped. An unterminated string, identifier,
// comment or body is an error naming the line it starts on.
func splitStatements(src string) ([]string, error) {
	s := &sqlSplitter{src: src}
	return s.split()
}

type sqlSplitter struct {
	src  string
	pos  int
	out  []string
	from int // where the current statement starts

	code  bool     // the statement has more than comments and space
	words []string // its first keywords, upper case, to spot a body
	depth int      // open BEGIN and CASE in a statement with a body
}

func (s *sqlSplitter) split() ([]string, error) {
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		switch {
		case strings.HasPrefix(s.src[s.pos:], "--"):
			s.skipLineComment()
		case strings.HasPrefix(s.src[s.pos:], "/*"):
			if err := s.skipBlockComment(); err != nil {
				return nil, err
			}
		case c == '\'':
			if err := s.skipQuoted('\'', '\'', false); err != nil {
				return nil, err
			}
		case c == '"' || c == '`':
			if err := s.skipQuoted(c, c, false); err != nil {
				return nil, err
			}
		case c == '[':
			if err := s.skipQuoted('[', ']', false); err != nil {
				return nil, err
			}
		case c == '$':
			if err := s.skipDollar(); err != nil {
				return nil, err
			}
		case isWordStart(c):
			if err := s.word(); err != nil {
				return nil, err
			}
		case c == ';':
			s.pos++
			if s.depth == 0 {
				s.end()
			}
		default:
			if !isSpace(c) {
				s.code = true
			}
			s.pos++
		}
	}
	s.end()
	return s.out, nil
}

// end closes the statement that ends at pos.
func (s *sqlSplitter) end() {
	if s.code {
		s.out = append(s.out, strings.TrimSpace(s.src[s.from:s.pos]))
	}
	s.from, s.code, s.words, s.depth = s.pos, false, nil, 0
}

func (s *sqlSplitter) skipLineComment() {
	if i := strings.IndexByte(s.src[s.pos:], '\n'); i >= 0 {
		s.pos += i + 1
	} else {
		s.pos = len(s.src)
	}
}

// skipBlockComment skips /* ... */, nested as PostgreSQL nests them.
func (s *sqlSplitter) skipBlockComment() error {
	start, depth := s.pos, 0
	for s.pos < len(s.src) {
		switch {
		case strings.HasPrefix(s.src[s.pos:], "/*"):
			depth++
			s.pos += 2
		case strings.HasPrefix(s.src[s.pos:], "*/"):
			depth--
			s.pos += 2
			if depth == 0 {
				return nil
			}
		default:
			s.pos++
		}
	}
	return s.unterminated("comment", start)
}

// skipQuoted skips a string or quoted identifier from its opening quote;
// a doubled closing quote stands for itself, and with backslashes (E'...')
// a backslash escapes the next byte.
func (s *sqlSplitter) skipQuoted(open, close byte, backslashes bool) error {
	start := s.pos
	s.code = true
	s.pos++
	for s.pos < len(s.src) {
		c := s.src[s.pos]
		s.pos++
		switch {
		case backslashes && c == '\\':
			s.pos++
		case c == close && open == close && s.pos < len(s.src) && s.src[s.pos] == close:
			s.pos++
		case c == close:
			return nil
		}
	}
	what := "identifier"
	if open == '\'' {
		what = "string"
	}
	return s.unterminated(what, start)
}

// skipDollar skips a dollar-quoted body, $$ ... $$ or $tag$ ... $tag$; a
// $ that opens no tag ($1, a parameter) is an ordinary character.
func (s *sqlSplitter) skipDollar() error {
	start := s.pos
	s.code = true
	end := s.pos + 1
	for end < len(s.src) && isWordPart(s.src[end]) && s.src[end] != '$' {
		end++
	}
	if end >= len(s.src) || s.src[end] != '$' || (end > s.pos+1 && !isWordStart(s.src[s.pos+1])) {
		s.pos++
		return nil
	}
	tag := s.src[s.pos : end+1]
	i := strings.Index(s.src[end+1:], tag)
	if i < 0 {
		return s.unterminated("dollar-quoted body "+tag, start)
	}
	s.pos = end + 1 + i + len(tag)
	return nil
}

// word reads an identifier or keyword, following the BEGIN and END of a
// statement that may have a body.
func (s *sqlSplitter) word() error {
	start := s.pos
	for s.pos < len(s.src) && isWordPart(s.src[s.pos]) {
		s.pos++
	}
	s.code = true
	w := strings.ToUpper(s.src[start:s.pos])
	if (w == "E") && s.pos < len(s.src) && s.src[s.pos] == '\'' {
		return s.skipQuoted('\'', '\'', true)
	}
	if len(s.words) < 5 {
		s.words = append(s.words, w)
	}
	if !s.hasBody() {
		return nil
	}
	if start > 0 && s.src[start-1] == '.' {
		return nil // a column, as in NEW.begin, not a keyword
	}
	switch w {
	case "BEGIN", "CASE":
		s.depth++
	case "END":
		s.depth = max(s.depth-1, 0)
	}
	return nil
}

// hasBody reports whether the statement is a CREATE [OR REPLACE]
// [TEMP|TEMPORARY|CONSTRAINT] TRIGGER, FUNCTION or PROCEDURE, whose body may
// hold statements of its own.
func (s *sqlSplitter) hasBody() bool {
	w := s.words
	if len(w) < 2 || w[0] != "CREATE" {
		return false
	}
	w = w[1:]
	if len(w) >= 2 && w[0] == "OR" && w[1] == "REPLACE" {
		w = w[2:]
	}
	if len(w) >= 1 && (w[0] == "TEMP" || w[0] == "TEMPORARY" || w[0] == "CONSTRAINT") {
		w = w[1:]
	}
	return len(w) >= 1 && (w[0] == "TRIGGER" || w[0] == "FUNCTION" || w[0] == "PROCEDURE")
}

func (s *sqlSplitter) unterminated(what string, start int) error {
	line := 1 + strings.Count(s.src[:start], "\n")
	return fmt.Errorf("line %d: unterminated %s", line, what)
}

func isWordStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}

// isWordPart: PostgreSQL identifiers may hold $ after their first letter.
func isWordPart(c byte) bool {
	return isWordStart(c) || '0' <= c && c <= '9' || c == '$'
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
