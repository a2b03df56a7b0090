// Package ids mints the identifiers of everything the control plane
// stores: a short type prefix ("int", "run", "con", ...) and a body that
// sorts in creation order.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"sync/atomic"
	"time"
)

// encoding preserves byte order in string order, so ids sort by creation.
var encoding = base32.HexEncoding.WithPadding(base32.NoPadding)

var counter atomic.Uint32

// New returns an identifier with a short type prefix, e.g. "run_…", that
// sorts in creation order within a process (and roughly across processes):
// 48 bits of wall-clock milliseconds, a 16-bit counter, then 48 random
// bits. Lists ordered by a time column use it to break ties. It reads the
// wall clock, not an injected one: only the order matters, and ids minted
// under a fake clock must still differ between test runs.
func New(prefix string) string {
	var b [14]byte
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint64(b[0:8], ms<<16|uint64(counter.Add(1)&0xffff))
	_, _ = rand.Read(b[8:])
	return prefix + "_" + strings.ToLower(encoding.EncodeToString(b[:]))
}
