package store

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
)

// Page tokens are opaque to clients: the key of the last item returned,
// so pages stay stable while rows are added (keyset pagination).

func encodeToken(parts ...string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strings.Join(parts, "\x00")))
}

func decodeToken(tok string, n int) ([]string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	parts := strings.Split(string(b), "\x00")
	if err != nil || len(parts) != n {
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
