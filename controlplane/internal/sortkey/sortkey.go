// Package sortkey orders names the way people read lists: by letter, with
// case and accents deciding only between otherwise equal names, so that
// "Ärger" sorts with the As and "zebra" after "Zahlen", whatever the
// byte values of their UTF-8. The store keeps the key of every repository
// name beside it, so that SQLite and PostgreSQL order (and page) the
// Discovered and Imported lists alike, without either database's own
// collation.
package sortkey

import (
	"encoding/hex"
	"sync"

	"golang.org/x/text/collate"
	"golang.org/x/text/language"
)

var (
	mu  sync.Mutex // a Collator is not safe for concurrent use
	col = collate.New(language.Und)
	buf collate.Buffer
)

// Of returns the sort key of name: lowercase hexadecimal, so that the
// databases compare it byte by byte under any collation of their own
// (digits before letters, shorter before longer: the same in all of
// them). Keys compare as the names do under the Unicode root collation.
func Of(name string) string {
	mu.Lock()
	defer mu.Unlock()
	buf.Reset()
	return hex.EncodeToString(col.KeyFromString(&buf, name))
}

// Compare orders two names as their keys do, for code that sorts in
// memory what the store sorts by key.
func Compare(a, b string) int {
	mu.Lock()
	defer mu.Unlock()
	return col.CompareString(a, b)
}
