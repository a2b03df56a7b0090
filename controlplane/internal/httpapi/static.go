package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
)

// contentSecurityPolicy allows only the console's own scripts, styles and
// API: no inline script, no other origin, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// hashedAssets is the directory where the build puts files whose names
// carry a content hash: they never change, so browsers keep them.
const hashedAssets = "assets/"

// static serves the console: files by path, and index.html for every
// other path without a dot, which the single-page app routes itself.
type static struct {
	files fs.FS
	etags sync.Map // name -> ETag
}

func (s *static) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
	if name == "" || !strings.Contains(path.Base(name), ".") {
		name = "index.html"
	}
	f, err := s.files.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.IsDir() {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	if strings.HasPrefix(name, hashedAssets) {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, "cannot serve "+name, http.StatusInternalServerError)
		return
	}
	if tag, err := s.etag(name, rs); err == nil {
		h.Set("ETag", tag)
	}
	http.ServeContent(w, r, path.Base(name), info.ModTime(), rs)
}

// etag returns the entity tag of a file, a hash of its content computed
// once: embedded files have no modification time to revalidate by.
func (s *static) etag(name string, rs io.ReadSeeker) (string, error) {
	if tag, ok := s.etags.Load(name); ok {
		return tag.(string), nil
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, rs); err != nil {
		return "", err
	}
	if _, err := rs.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	tag := `"` + hex.EncodeToString(sum.Sum(nil)[:16]) + `"`
	s.etags.Store(name, tag)
	return tag, nil
}
