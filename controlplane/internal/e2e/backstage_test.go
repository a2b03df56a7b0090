package e2e

import (
	"errors"
	"io"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// backstageDocs splits an exported stream into documents by metadata.name.
func backstageDocs(t *testing.T, stream string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	dec := yaml.NewDecoder(strings.NewReader(stream))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("export is not a YAML stream: %v\n%s", err, stream)
		}
		if doc["apiVersion"] != "backstage.io/v1alpha1" {
			t.Fatalf("document with apiVersion %v", doc["apiVersion"])
		}
		out[path(doc, "metadata", "name").(string)] = doc
	}
}

// TestBackstageExportAndImport exports the catalog as Backstage
// catalog-info.yaml, with the Bitbucket annotations of a registered
// repository and a note for what has no counterpart, then imports an
// exported entity back after deleting it and gets the same entity.
func TestBackstageExportAndImport(t *testing.T) {
	s := startStack(t)
	c := s.cli
	dir := t.TempDir()
	c.ok("entity", "create", "-f", writeFile(t, dir, "payments.yaml", `apiVersion: harness.io/v1
kind: Component
type: service
identifier: payments
name: Payments
owner: group:payments
spec:
  lifecycle: production
  system: billing
metadata:
  description: Takes payments.
  tags: [java]
  annotations:
    pagerduty.com/service-id: P123
  links:
    - url: https://runbooks.example.com/payments
      title: Runbook
`))
	c.ok("entity", "create", "-f", writeFile(t, dir, "onboard.yaml", "apiVersion: harness.io/v1\nkind: Workflow\nidentifier: onboard\nname: Onboard\n"))
	c.ok("connector", "create", "--name", "bb", "--workspace", workspace, "--token-ref", "env:BITBUCKET_TOKEN", "--api-url", s.mockURL)
	c.ok("integration", "create", "--name", integration, "--connector", "bb")
	syncWait(t, c)
	c.ok("import", integration, "audit-api", "--action", "register")

	out, errOut, code := c.run("entity", "export", "--format", "backstage")
	if code != 0 {
		t.Fatalf("export exited %d: %s", code, errOut)
	}
	docs := backstageDocs(t, out)
	pay := docs["payments"]
	if pay == nil || pay["kind"] != "Component" || path(pay, "metadata", "title") != "Payments" || path(pay, "spec", "owner") != "group:payments" ||
		path(pay, "spec", "lifecycle") != "production" || path(pay, "spec", "type") != "service" || path(pay, "spec", "system") != "billing" ||
		path(pay, "metadata", "annotations", "pagerduty.com/service-id") != "P123" {
		t.Fatalf("payments exported as %v", pay)
	}
	audit := docs["audit_api"]
	ann, _ := path(audit, "metadata", "annotations").(map[string]any)
	if ann["bitbucket.com/project-slug"] != "acme/audit-api" || !strings.HasSuffix(asString(ann["bitbucket.org/repo-url"]), "/acme/audit-api") ||
		!strings.HasPrefix(asString(ann["backstage.io/source-location"]), "url:") {
		t.Fatalf("the registered repository's entity lacks its Bitbucket annotations: %v", audit)
	}
	if _, ok := docs["onboard"]; ok || !strings.Contains(errOut, "left out: Workflow/onboard") {
		t.Fatalf("the Workflow has no Backstage counterpart and must be reported, not exported; stderr:\n%s", errOut)
	}
	if !strings.Contains(errOut, "metadata.integration_properties") {
		t.Fatalf("what the integration ingested is not exported and must be said so; stderr:\n%s", errOut)
	}

	// Round trip: the exported payments document recreates the same entity.
	var before map[string]any
	c.json(&before, "entity", "get", "payments")
	one, _, code := c.run("entity", "export", "payments", "--format", "backstage")
	if code != 0 {
		t.Fatal("export of one entity failed")
	}
	c.ok("entity", "delete", "payments")
	file := writeFile(t, dir, "catalog-info.yaml", one)
	table := c.ok("entity", "import", "--format", "backstage", file)
	if !strings.Contains(table, "created") || !strings.Contains(table, "Component/payments") {
		t.Fatalf("import output:\n%s", table)
	}
	var after map[string]any
	c.json(&after, "entity", "get", "payments")
	if after["yaml"] != before["yaml"] {
		t.Fatalf("round trip changed the entity:\nbefore:\n%v\nafter:\n%v", before["yaml"], after["yaml"])
	}

	// What cannot map is listed, and idpctl exits 1.
	mixed := writeFile(t, dir, "mixed.yaml", `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: artist-web
  namespace: music
spec:
  type: website
  lifecycle: production
  owner: artists
---
apiVersion: backstage.io/v1alpha1
kind: Template
metadata:
  name: new-service
`)
	stdout, stderr, code := c.run("entity", "import", "--format", "backstage", mixed)
	if code != 1 || !strings.Contains(stdout, "document left out") || !strings.Contains(stdout, `namespace "music" has no counterpart`) ||
		!strings.Contains(stderr, "1 were left out") {
		t.Fatalf("mixed import: exit %d\n%s\n%s", code, stdout, stderr)
	}
	var web map[string]any
	c.json(&web, "entity", "get", "artist_web")
	if web["owner"] != "artists" || web["type"] != "website" {
		t.Fatalf("artist-web imported as %v", web)
	}
	if _, _, code := c.run("entity", "import", "--format", "backstage", file); code != 1 {
		t.Fatal("importing an entity whose identifier is taken did not fail")
	}
	if out := c.fails(2, "entity", "export", "--format", "port"); !strings.Contains(out, "want backstage") {
		t.Fatalf("unknown format: %s", out)
	}
}
