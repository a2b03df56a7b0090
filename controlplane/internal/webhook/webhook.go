// Package webhook holds the rules of Bitbucket workspace webhooks: which
// events the hook subscribes to, where it delivers, how a delivery is
// authenticated (Verify), what a delivery asks the catalog to do
// (Decide), which of two versions of a pull request wins (Supersedes),
// and what an integration's hook state tells its users (Hint). The
// receiver in httpapi and the applier in hooksvc ask these; none of them
// does I/O.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"time"
)

// Events are the events the workspace webhook subscribes to: every
// repository change that moves the catalog, and the pull request events
// whose payload carries the whole pull request. Comment events are left
// out: the catalog keeps counts that the next sweep refreshes.
var Events = []string{
	"pullrequest:approved",
	"pullrequest:changes_request_created",
	"pullrequest:changes_request_removed",
	"pullrequest:created",
	"pullrequest:fulfilled",
	"pullrequest:rejected",
	"pullrequest:unapproved",
	"pullrequest:updated",
	"repo:created",
	"repo:deleted",
	"repo:imported",
	"repo:push",
	"repo:transfer",
	"repo:updated",
}

// MaxPayload is the largest delivery body accepted: Bitbucket never sends
// more (it drops larger payloads).
const MaxPayload = 256 << 10

// Path is where deliveries arrive on the control plane's HTTP address,
// followed by the integration id.
const Path = "/hooks/bitbucket/"

// Description is how the hook presents itself in Bitbucket's settings.
const Description = "IDP catalog (keeps the catalog fresh between syncs)"

// URL is the delivery address of an integration under the control plane's
// public address publicURL ("" when there is none).
func URL(publicURL, integrationID string) string {
	if publicURL == "" {
		return ""
	}
	return strings.TrimRight(publicURL, "/") + Path + url.PathEscape(integrationID)
}

// CheckPublicURL checks the control plane's public address: an absolute
// http or https URL without credentials, query or fragment.
func CheckPublicURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("want an http:// or https:// URL")
	case u.Host == "":
		return errors.New("want a host")
	case u.User != nil:
		return errors.New("must not hold credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not have a query or fragment")
	}
	return nil
}

// NewSecret returns a fresh signing secret: 32 random bytes in hex, well
// within Bitbucket's 128 characters.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Reasons a delivery is refused before it is stored.
var (
	ErrUnsigned     = errors.New("no X-Hub-Signature")
	ErrBadSignature = errors.New("X-Hub-Signature does not match")
)

// Verify checks X-Hub-Signature ("sha256=" and the hex HMAC-SHA256 of the
// raw body under secret) in constant time. An empty secret verifies
// nothing: a delivery for an integration without one is refused like a
// forged one.
func Verify(secret string, body []byte, signature string) error {
	if signature == "" {
		return ErrUnsigned
	}
	hexSum, ok := strings.CutPrefix(signature, "sha256=")
	got, err := hex.DecodeString(hexSum)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	want := m.Sum(nil)
	if !ok || err != nil || !hmac.Equal(got, want) || secret == "" {
		return ErrBadSignature
	}
	return nil
}

// Supersedes reports whether a pull request last updated at incoming
// replaces the stored one last updated at stored: the newer updated_on
// wins, so deliveries out of order or replayed never move it back. A
// version without updated_on never replaces one with it; equal times
// change nothing (the same version again).
func Supersedes(stored, incoming time.Time) bool {
	switch {
	case incoming.IsZero():
		return stored.IsZero()
	case stored.IsZero():
		return true
	}
	return incoming.After(stored)
}
