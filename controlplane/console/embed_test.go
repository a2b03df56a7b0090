package console_test

import (
	"io/fs"
	"regexp"
	"testing"

	"github.com/catalog-discovery/bitbucket/controlplane/console"
)

// TestAssetsAreWhole checks the committed build: index.html is at the root
// and every script and stylesheet it loads is embedded, so a build
// committed in part fails here rather than in a browser.
func TestAssetsAreWhole(t *testing.T) {
	assets := console.Assets()
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		t.Fatalf("index.html: %v", err)
	}
	refs := regexp.MustCompile(`(?:src|href)="/(assets/[^"]+)"`).FindAllSubmatch(index, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html loads %d assets, want the script and the stylesheet:\n%s", len(refs), index)
	}
	for _, ref := range refs {
		name := string(ref[1])
		if info, err := fs.Stat(assets, name); err != nil || info.Size() == 0 {
			t.Errorf("index.html loads /%s, which is not embedded (%v)", name, err)
		}
	}
}
