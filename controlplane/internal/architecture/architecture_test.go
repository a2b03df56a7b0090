package architecture

import (
	"errors"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/catalog-discovery/bitbucket/controlplane/"

// Layers of the control plane, innermost first.
const (
	rules   = "rules"   // pure domain: types and decisions, no I/O
	storage = "store"   // persistence of what the rules decided
	service = "service" // use cases: read facts, ask the rules, save
	edge    = "edge"    // transports and binaries
	check   = "check"   // this package
)

// layers places every package of the module; a new package must be placed
// here and in ARCHITECTURE.md.
var layers = map[string]string{
	"internal/auth": rules, "internal/catalog": rules, "internal/correlate": rules, "internal/fault": rules, "internal/ids": rules,
	"internal/imports": rules, "internal/ingest": rules, "internal/integration": rules, "internal/owners": rules, "internal/backstage": rules, "internal/sortkey": rules, "internal/tasks": rules, "internal/webhook": rules,

	"internal/store": storage, "internal/store/storetest": storage,

	"internal/dispatch": service, "internal/integrationsvc": service, "internal/catalogsvc": service,
	"internal/discoverysvc": service, "internal/schedule": service, "internal/hooksvc": service,

	"internal/rpc": edge, "internal/idpctl": edge, "internal/e2e": edge, "internal/metrics": edge, "internal/httpapi": edge, "console": edge, "cmd/controlplane": edge, "cmd/idpctl": edge,

	"internal/architecture": check,
}

// may says which layers a layer's packages may import.
var may = map[string][]string{
	rules:   {rules},
	storage: {rules, storage},
	service: {rules, storage, service},
	edge:    {rules, storage, service, edge},
	check:   {},
}

// wire are the import paths only edges may use: the generated contract and
// the transport.
var wire = []string{
	"github.com/catalog-discovery/bitbucket/proto/gen/",
	"google.golang.org/grpc",
	"google.golang.org/protobuf",
	"google.golang.org/genproto",
}

// wireClient packages speak to the control plane over the wire only: they
// import none of its internal packages.
var wireClient = map[string]bool{"internal/idpctl": true}

type pkg struct {
	rel     string
	imports []string // production and test imports
}

func packages(t *testing.T) []pkg {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var out []pkg
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if d.Name() == "testdata" {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		var none *build.NoGoError
		if errors.As(err, &none) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		imports := append(append(append([]string{}, p.Imports...), p.TestImports...), p.XTestImports...)
		out = append(out, pkg{rel: filepath.ToSlash(rel), imports: imports})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportsFollowTheLayers(t *testing.T) {
	t.Parallel()
	for _, p := range packages(t) {
		layer, ok := layers[p.rel]
		if !ok {
			t.Errorf("%s has no layer: place it in layers and in ARCHITECTURE.md", p.rel)
			continue
		}
		for _, imp := range p.imports {
			if strings.HasPrefix(imp, module) {
				dep := strings.TrimPrefix(imp, module)
				if dep == p.rel {
					continue // an external test package of p
				}
				if wireClient[p.rel] {
					t.Errorf("%s imports %s: it is a wire client and uses the API only", p.rel, dep)
					continue
				}
				if !slices.Contains(may[layer], layers[dep]) {
					t.Errorf("%s (%s) imports %s (%s): arrows point from edges to services to the store to the rules, never back",
						p.rel, layer, dep, layers[dep])
				}
				continue
			}
			for _, w := range wire {
				if strings.HasPrefix(imp, w) && layer != edge {
					t.Errorf("%s (%s) imports %s: only edges (rpc, httpapi, idpctl, cmd, e2e) speak the wire", p.rel, layer, imp)
				}
			}
		}
	}
}

// Every package is on the one screen that explains them.
func TestArchitectureNamesEveryPackage(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	for rel := range layers {
		name := rel[strings.LastIndex(rel, "/")+1:]
		if rel == "internal/architecture" || rel == "cmd/controlplane" || rel == "cmd/idpctl" {
			name = rel
		}
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("ARCHITECTURE.md does not name `%s`", name)
		}
	}
}
