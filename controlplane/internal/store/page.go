package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"hash/crc32"
	"strconv"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/sortkey"
)

// Page tokens are opaque to clients: the key of the last item returned,
// so pages stay stable while rows are added (keyset pagination), and a
// checksum of it, so that a token no list returned is refused rather
// than read as a key.

func encodeToken(parts ...string) string {
	key := strings.Join(parts, "\x00")
	return base64.RawURLEncoding.EncodeToString([]byte(key + "\x00" + tokenSum(key)))
}

func tokenSum(key string) string {
	return strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(key))), 36)
}

func decodeToken(tok string, n int) ([]string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	i := bytes.LastIndexByte(b, 0)
	if err != nil || i < 0 {
		return nil, fault.InvalidField("page_token", "not a token returned by this list")
	}
	key, sum := string(b[:i]), string(b[i+1:])
	parts := strings.Split(key, "\x00")
	if len(parts) != n || sum != tokenSum(key) {
		return nil, fault.InvalidField("page_token", "not a token returned by this list")
	}
	return parts, nil
}

// timeKey decodes a (time, id) token of a newest-first list.
func timeKey(tok string) (int64, string, error) {
	parts, err := decodeToken(tok, 2)
	if err != nil {
		return 0, "", err
	}
	t, perr := strconv.ParseInt(parts[0], 10, 64)
	if perr != nil {
		return 0, "", fault.InvalidField("page_token", "not a token returned by this list")
	}
	return t, parts[1], nil
}

func timeToken(t int64, id string) string { return encodeToken(strconv.FormatInt(t, 10), id) }

// listPage reads one page of a keyset-paginated list. query must end in
// "LIMIT ?": it is asked for one row more than size, which tells whether
// another page follows; the next page's token is then key of the last row
// returned, and empty otherwise.
func listPage[T any](ctx context.Context, q querier, query string, args []any, size int,
	scan func(scanner) (T, error), key func(T) string) ([]T, string, error) {
	out, err := queryAll(ctx, q, query, append(args, size+1), scan)
	if err != nil || len(out) <= size {
		return out, "", err
	}
	out = out[:size]
	return out, key(out[size-1]), nil
}

// afterKey is the key a page of a list ordered by one column starts after:
// empty for the first page, which every key sorts after.
func afterKey(p Page) (string, error) {
	if p.Token == "" {
		return "", nil
	}
	parts, err := decodeToken(p.Token, 1)
	if err != nil {
		return "", err
	}
	return parts[0], nil
}

// repoSearch narrows a query on repositories r to those whose name or slug
// contains a likePattern, given twice.
const repoSearch = ` AND (LOWER(r.name) LIKE ? ESCAPE '\' OR LOWER(r.slug) LIKE ? ESCAPE '\')`

// afterRepository is the condition and arguments that continue a list of
// repositories r ordered by (sort_key, uuid) after the page's token; empty
// for the first page. The token holds the last name and uuid, and the key
// is made again from the name: shorter tokens, the same order.
func afterRepository(p Page) (string, []any, error) {
	if p.Token == "" {
		return "", nil, nil
	}
	k, err := decodeToken(p.Token, 2)
	if err != nil {
		return "", nil, err
	}
	key := sortkey.Of(k[0])
	return ` AND (r.sort_key > ? OR (r.sort_key = ? AND r.uuid > ?))`, []any{key, key, k[1]}, nil
}

// byRepositoryName orders repositories r as people read their names
// (see sortkey); afterRepository continues it.
const byRepositoryName = ` ORDER BY r.sort_key, r.uuid`

// olderThan is the condition and arguments that continue a newest-first
// list ordered by (timeColumn DESC, id DESC) after the page's token; empty
// for the first page.
func olderThan(p Page, timeColumn string) (string, []any, error) {
	if p.Token == "" {
		return "", nil, nil
	}
	t, id, err := timeKey(p.Token)
	if err != nil {
		return "", nil, err
	}
	return ` AND (` + timeColumn + ` < ? OR (` + timeColumn + ` = ? AND id < ?))`, []any{t, t, id}, nil
}
