package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser drives one headless Debian Chromium through the console. Every
// helper fails the test with what the page showed, and saves a screenshot
// of each page visited into the artifacts folder.
type browser struct {
	t         *testing.T
	ctx       context.Context
	base      string // console URL without the trailing slash
	artifacts string
	shots     int
}

// chromiumPath finds Debian's chromium; the test skips without it unless
// IDP_REQUIRE_BROWSER_TEST=1 (set by CI), where its absence fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("IDP_REQUIRE_BROWSER_TEST") == "1" {
		t.Fatal("chromium is not installed and IDP_REQUIRE_BROWSER_TEST=1: install it with apt-get install chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium); the console's browser test is skipped")
	return ""
}

// artifactsDir is where screenshots go: $IDP_ARTIFACTS_DIR/console when
// set (CI), else controlplane/console/screenshots, which git ignores.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "controlplane", "console", "screenshots")
	if d := os.Getenv("IDP_ARTIFACTS_DIR"); d != "" {
		dir = filepath.Join(d, "console")
	}
	// Screenshots of an earlier run would mix with this run's.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil {
		t.Fatalf("go env GOWORK: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func newBrowser(t *testing.T, consoleURL string, width, height int) *browser {
	t.Helper()
	exe := chromiumPath(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	return &browser{t: t, ctx: ctx, base: strings.TrimSuffix(consoleURL, "/"), artifacts: artifactsDir(t)}
}

// tab opens another tab of the same browser, sharing its cookies.
func (b *browser) tab() *browser {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("open a tab: %v", err)
	}
	return &browser{t: b.t, ctx: ctx, base: b.base, artifacts: b.artifacts, shots: 100}
}

// run runs actions with a deadline, failing the test with a screenshot.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed-" + sanitize(what))
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, b.text())
	}
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(s))
}

// shot saves a full-page screenshot named after the step.
func (b *browser) shot(name string) {
	b.t.Helper()
	b.capture(name, false)
}

// window saves a screenshot of the window only, as the README shows it.
func (b *browser) window(name string) {
	b.t.Helper()
	b.capture(name, true)
}

func (b *browser) capture(name string, window bool) {
	b.t.Helper()
	b.shots++
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	// A dialog covers the window, not the page: take what the user sees.
	capture := chromedp.FullScreenshot(100)
	if dialog, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector("[role=dialog]")`)); dialog || window {
		capture = chromedp.CaptureScreenshot()
	}
	png, err := chromedp.Run(ctx, capture)
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(b.artifacts, fmt.Sprintf("%02d-%s.png", b.shots, name))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// textOf returns the text of the first element at xpath, or "".
func (b *browser) textOf(xpath string) string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => { const e = %s; return e ? e.innerText : ""; })()`, xp(xpath))))
	return s
}

func (b *browser) text() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// open loads a page and records the Content-Security-Policy violations it
// causes from then on; checkCSP reads them.
func (b *browser) open(path string) {
	b.t.Helper()
	b.checkCSP()
	b.run("open "+path, chromedp.Navigate(b.base+path))
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => {
		window.cspViolations = [];
		document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));
		return true;
	})()`)); err != nil {
		b.t.Fatalf("watch CSP violations: %v", err)
	}
}

// checkCSP fails the test if the page broke its Content-Security-Policy,
// which the server sends without unsafe-inline.
func (b *browser) checkCSP() {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.cspViolations || []`))
	if err != nil {
		return // no page yet
	}
	if len(v) > 0 {
		b.t.Errorf("Content-Security-Policy violations: %v", v)
	}
}

// see waits until the page shows every text.
func (b *browser) see(texts ...string) {
	b.t.Helper()
	js, _ := json.Marshal(texts)
	b.waitJS("see "+strings.Join(texts, ", "), fmt.Sprintf(`%s.every(t => document.body.innerText.includes(t))`, js), 60*time.Second)
}

// notSee waits until the page shows none of texts.
func (b *browser) notSee(texts ...string) {
	b.t.Helper()
	js, _ := json.Marshal(texts)
	b.waitJS("not see "+strings.Join(texts, ", "), fmt.Sprintf(`!%s.some(t => document.body.innerText.includes(t))`, js), 30*time.Second)
}

// seeIn waits until the first element at xpath shows text.
func (b *browser) seeIn(xpath, text string) {
	b.t.Helper()
	b.waitJS("see "+text+" in "+xpath, fmt.Sprintf(`(() => { const e = %s; return !!e && e.innerText.includes(%s); })()`, xp(xpath), quote(text)), 60*time.Second)
}

func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		b.shot("failed-" + sanitize(what))
		b.t.Fatalf("%s: %v\npage text:\n%s", what, err, b.text())
	}
}

func xp(xpath string) string {
	return fmt.Sprintf(`document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue`, quote(xpath))
}

func quote(s string) string {
	j, _ := json.Marshal(s)
	return string(j)
}

// click clicks the first element at xpath once it is visible.
func (b *browser) click(xpath string) {
	b.t.Helper()
	b.run("click "+xpath, chromedp.Click(chromedp.Search(xpath), chromedp.NodeVisible))
}

// button clicks the button (or link styled as one) labelled text.
func (b *browser) button(text string) {
	b.t.Helper()
	b.click(fmt.Sprintf(`//button[normalize-space()=%[1]s or @aria-label=%[1]s] | //a[normalize-space()=%[1]s or @aria-label=%[1]s]`, xq(text)))
}

// xq quotes a string for XPath 1.0.
func xq(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return `"` + s + `"`
}

// fill sets the value of the input, textarea or select at xpath the way a
// user's typing does, so that React sees the change.
func (b *browser) fill(xpath, value string) {
	b.t.Helper()
	b.run("wait for "+xpath, chromedp.WaitVisible(chromedp.Search(xpath)))
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
		const el = %s;
		if (!el) return false;
		const proto = Object.getPrototypeOf(el);
		Object.getOwnPropertyDescriptor(proto, "value").set.call(el, %s);
		el.dispatchEvent(new Event(el.tagName === "SELECT" ? "change" : "input", { bubbles: true }));
		return true;
	})()`, xp(xpath), quote(value))))
	if err != nil || !ok {
		b.t.Fatalf("fill %s: %v (found: %v)", xpath, err, ok)
	}
}

// labelled is the xpath of the form control inside the label that reads text.
func labelled(text string) string {
	return fmt.Sprintf(`//label[contains(normalize-space(), %s)]//*[self::input or self::select or self::textarea]`, xq(text))
}

// aria is the xpath of the control whose aria-label is text.
func aria(text string) string {
	return fmt.Sprintf(`//*[@aria-label=%s]`, xq(text))
}

// value reads the value of the control at xpath.
func (b *browser) value(xpath string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.Search(xpath)))
	if err != nil {
		b.t.Fatalf("read %s: %v", xpath, err)
	}
	return v
}

// keys focuses the element at xpath and types keys ("\r" is Enter).
func (b *browser) keys(xpath, keys string) {
	b.t.Helper()
	b.run("type into "+xpath, chromedp.SendKeys(chromedp.Search(xpath), keys))
}

// fitsWidth fails the test when the page is wider than the window.
func (b *browser) fitsWidth(page string) {
	b.t.Helper()
	b.waitJS(page+" fits the window", `document.documentElement.scrollWidth <= window.innerWidth`, 30*time.Second)
}

// apiKey creates a management API key with the given permissions.
func apiKey(t *testing.T, db, name string, permissions ...string) string {
	t.Helper()
	args := []string{"admin", "api-key", "create", "--db", db, "--account", "e2e", "--name", name, "-o", "json"}
	for _, p := range permissions {
		args = append(args, "--permission", p)
	}
	out, err := runBinary("controlplane", args...)
	if err != nil {
		t.Fatalf("api-key create: %v\n%s", err, out)
	}
	var key struct {
		APIKey string `json:"api_key"`
	}
	if err := json.Unmarshal(out, &key); err != nil || key.APIKey == "" {
		t.Fatalf("api-key create -o json printed %s (%v)", out, err)
	}
	return key.APIKey
}

// TestConsoleJourney walks the reference document's screens in a real
// browser against the real control plane, delegate and mock Bitbucket.
func TestConsoleJourney(t *testing.T) {
	chromiumPath(t)
	s := startStack(t)
	dir := t.TempDir()
	// Entities that exist before the integration: one the repository
	// shipping-service correlates with by name, and one to merge into
	// instead of that suggestion.
	s.cli.ok("entity", "create", "-f", writeFile(t, dir, "shipping.yaml", `apiVersion: harness.io/v1
kind: Component
type: service
identifier: shipping
name: shipping-service
owner: group:logistics
spec:
  lifecycle: production
`))
	s.cli.ok("entity", "create", "-f", writeFile(t, dir, "orders.yaml", `apiVersion: harness.io/v1
kind: Component
type: service
identifier: orders
name: Orders
owner: group:logistics
spec:
  lifecycle: production
metadata:
  description: Takes orders and ships them.
`))

	b := newBrowser(t, s.consoleURL, 1280, 900)

	// Sign-in: the server's words for a wrong key, then the real key with
	// the keyboard alone.
	b.open("/")
	b.see("Sign in to the Internal Developer Portal")
	b.shot("sign-in")
	b.keys(`//input[@id="api-key"]`, "idp_ak_not_a_real_key\r")
	b.see("Sign-in failed", "unauthenticated", "INVALID_API_KEY")
	b.shot("sign-in-failed")
	b.fill(`//input[@id="api-key"]`, "")
	b.keys(`//input[@id="api-key"]`, s.apiKey+"\r")
	b.see("Integrations", "No integrations yet")
	b.shot("integrations-empty")

	// + New Integration → Bitbucket Cloud → the three sections.
	b.button("+ New Integration")
	b.see("Select an integration type")
	b.click(`//button[contains(., 'Bitbucket Cloud')]`)
	b.see("Auto Discover Bitbucket Cloud Integration", "1. Setup & Connectivity", "2. Mapping & Correlation", "3. Advanced Settings")

	// Confirming with nothing filled in shows the server's field violations
	// where they belong.
	b.button("Confirm & Enable")
	b.click(`//div[@role="dialog"]//button[normalize-space()='Confirm & Enable']`)
	b.seeIn(`//div[@class='field']`, "required: the id or name of a Bitbucket Cloud connector")
	b.see("The integration was not created", "invalid_argument")
	b.shot("new-integration-violations")

	b.fill(labelled("Integration Name"), integration)
	b.click(`//button[contains(., 'Choose Bitbucket Cloud connector')]`)
	b.see("No connectors yet")
	// The inline connector: an SSH URL is refused with the reason at the field.
	b.fill(labelled("Connector name"), "bb")
	b.fill(labelled("Bitbucket URL"), "git@bitbucket.org:acme/x.git")
	b.fill(labelled("API base URL"), s.mockURL)
	b.button("Create connector")
	b.seeIn(`//label[contains(., 'Bitbucket URL')]`, "HTTP")
	b.shot("new-connector-violation")
	b.fill(labelled("Bitbucket URL"), "https://bitbucket.org/"+workspace)
	b.button("Create connector")
	b.notSee("Create connector")
	b.see("bb (" + workspace + ")")
	b.button("Test connection")
	b.see("Connection successful", "Token valid", "Workspace reachable")
	b.shot("new-integration-connector-tested")

	// A connector whose token lacks scopes: the test names them.
	b.click(`//button[contains(., 'bb (acme)')]`)
	b.button("+ New Connector")
	b.fill(labelled("Connector name"), "bb-limited")
	b.fill(labelled("Bitbucket URL"), "https://bitbucket.org/"+workspace)
	b.fill(labelled("Access token reference"), "env:BITBUCKET_LIMITED_TOKEN")
	b.fill(labelled("API base URL"), s.mockURL)
	b.button("Create connector")
	b.see("bb-limited (" + workspace + ")")
	b.button("Test connection")
	b.see("Missing scopes:")
	b.seeIn(`//div[contains(@class,'verdict')]`, "Pull requests: Read")
	b.shot("connector-missing-scopes")
	b.click(`//button[contains(., 'bb-limited (acme)')]`)
	b.click(`//ul[@aria-label='Connectors']//button[.//strong[normalize-space()='bb']]`)
	b.see("bb (" + workspace + ")")

	// Mapping & Correlation and Advanced keep their defaults; the secondary
	// kinds warn that they are final.
	b.see("Register & Merge (Default)", "Correlation Mapping", "cannot be changed later", "Update Frequency")
	if v := b.value(aria("Ingested path of rule 1")); v != "name" {
		t.Errorf("default correlation ingested path = %q, want name", v)
	}
	b.shot("new-integration")
	b.button("Confirm & Enable")
	b.see("Enable this integration?", "Secondary kinds cannot be changed after this")
	b.shot("confirm-and-enable")
	b.click(`//div[@role="dialog"]//button[normalize-space()='Confirm & Enable']`)

	// The first sync, watched live, fills the Discovered tab.
	b.see(integration, "Discovered", "Imported", "Configuration", "Runs", "Events")
	b.seeIn(`//*[@aria-label='Sync progress']`, "success")
	b.see(strconv.Itoa(repoCount) + " in all")
	b.seeIn(`//tr[.//th[contains(., 'audit-api')]]/td[2]`, "Register")
	b.see("Suggested owner") // from CODEOWNERS, read by the next sync
	b.shot("discovered")

	// The filter by recommendation: only shipping-service matches an entity.
	b.fill(labelled("Recommended action"), "2")
	b.see("Page 1 · 1 in all")
	b.seeIn(`//table[@aria-label='Discovered repositories']/tbody`, "shipping-service")
	b.fill(labelled("Recommended action"), "0")
	b.see(strconv.Itoa(repoCount) + " in all")

	// Register audit-api as a library, merge shipping-service into orders
	// instead of the suggested shipping; select them after searching.
	b.fill(`//input[@type='search']`, "audit-api")
	b.click(aria("Select audit-api"))
	if v := b.value(aria("Action for audit-api")); v != "1" {
		t.Errorf("audit-api action = %q, want Register (1) as recommended", v)
	}
	b.fill(aria("Type for audit-api"), "library")
	b.fill(`//input[@type='search']`, "shipping-service")
	b.click(aria("Select shipping-service"))
	b.seeIn(`//tr[.//th[contains(., 'shipping-service')]]/td[2]`, "Merge")
	if v := b.value(aria("Action for shipping-service")); v != "2" {
		t.Errorf("shipping-service action = %q, want Merge (2) as recommended", v)
	}
	var shipping map[string]any
	s.cli.json(&shipping, "entity", "get", "shipping")
	if v := b.value(aria("Merge target for shipping-service")); v == "" || v != shipping["id"] {
		t.Errorf("merge target preselected = %q, want the suggested entity shipping (%v)", v, shipping["id"])
	}
	b.fill(aria("Merge target for shipping-service"), "__other")
	b.fill(aria("Merge target entity for shipping-service"), "orders")
	b.see("2 selected")
	b.shot("discovered-selected")
	b.fill(`//input[@type='search']`, "shipping")
	b.see("shipping-infra")
	b.window("discovered-window")
	b.button("Import selected entities")
	b.see("2 imported, 0 failed")
	b.fill(`//input[@type='search']`, "")

	b.button("Imported")
	b.see("Bitbucket Cloud Entity", "Imported At", "audit-api", "shipping-service", "Registered", "Merged")
	b.seeIn(`//tr[.//th[contains(., 'audit-api')]]`, "library")
	b.seeIn(`//tr[.//th[contains(., 'shipping-service')]]`, "orders")
	b.shot("imported")

	// Select-all across pages: every matching repository, not just the page.
	b.button("Discovered")
	b.see(strconv.Itoa(repoCount-2) + " in all")
	b.click(aria("Select all on this page"))
	b.button(fmt.Sprintf("Select all %d matching repositories", repoCount-2))
	b.see(fmt.Sprintf("All %d matching repositories are selected", repoCount-2), fmt.Sprintf("%d selected", repoCount-2))
	b.shot("discovered-select-all")
	b.button("Clear selection")
	b.see("0 selected")

	// Auto-import: a repository added in Bitbucket imports itself on the
	// next sync.
	b.click(`//label[contains(., 'Auto-import future discovered entities')]/input`)
	b.waitJS("auto-import on", xp(`//label[contains(., 'Auto-import future discovered entities')]/input`)+".checked", 30*time.Second)
	mockControl(t, s.controlURL, "POST", "/repos", `{"name": "fresh-service", "project_key": "PLAT", "commits": 2}`)
	b.button("Sync")
	b.see("Syncing…")
	b.notSee("Syncing…")
	b.seeIn(`//*[@aria-label='Sync progress']`, "success")
	b.button("Imported")
	b.seeIn(`//tr[.//th[contains(., 'fresh-service')]]`, "auto")
	b.shot("imported-auto")

	// Unlink from the three-dot menu, with the keyboard, confirmed.
	b.keys(aria("Actions for audit-api"), "\r")
	b.run("menu item focused", chromedp.WaitVisible(chromedp.Search(`//*[@role='menuitem']`)))
	b.keys(`//*[@role='menuitem']`, "\r")
	b.see("Unlink audit-api?", "Sync updates from")
	b.shot("unlink-confirm")
	b.click(`//div[@role="dialog"]//button[normalize-space()='Unlink']`)
	b.see("audit-api was unlinked")
	b.button("Discovered")
	b.click(`//label[contains(., 'Unlinked only')]/input`)
	b.see("1 in all")
	b.seeIn(`//tr[.//th[contains(., 'audit-api')]]`, "unlinked")
	b.click(`//label[contains(., 'Unlinked only')]/input`)

	// Ignore one repository, find it in the Ignored view, un-ignore it.
	b.fill(`//input[@type='search']`, "shipping-infra")
	b.see("1 in all")
	b.click(aria("Select shipping-infra"))
	b.button("Ignore selected")
	b.see("1 done, 0 failed", "0 in all")
	b.fill(aria("Show"), "ignored")
	b.seeIn(`//tr[.//th[contains(., 'shipping-infra')]]`, "ignored")
	b.shot("discovered-ignored")
	b.click(aria("Select shipping-infra"))
	b.button("Un-ignore selected")
	b.see("1 done, 0 failed", "0 in all")
	b.fill(aria("Show"), "discovered")
	b.see("shipping-infra")
	b.fill(`//input[@type='search']`, "")

	// The merged entity: overview, activity, View YAML, Ingested Properties.
	b.button("Catalog")
	b.see("Orders", "shipping-service")
	b.fill(labelled("Kind"), "API")
	b.see("No entity matches.")
	b.fill(labelled("Kind"), "Component")
	b.fill(labelled("Type"), "library")
	b.seeIn(`//table[@aria-label='Catalog entities']`, "audit-api")
	b.notSee("Orders")
	b.fill(labelled("Type"), "")
	b.fill(`//input[@type='search']`, "orders")
	b.see("1 in all")
	b.click(`//a[normalize-space()='Orders']`)
	b.see("Overview", "Takes orders and ships them.", "Pull requests", "Commits")
	b.seeIn(`//section[@aria-labelledby='prs']`, "acme/shipping-service")
	b.seeIn(`//section[@aria-labelledby='commits']`, "commits stored")
	b.shot("entity")
	b.button("View YAML")
	b.see("Entity Inspector", "identifier: orders", "integration_properties:")
	b.shot("entity-yaml")
	b.click(`//button[@role='tab' and normalize-space()='Ingested Properties']`)
	b.seeIn(aria("metadata.integration"), "entity_action: MERGE")
	b.seeIn(aria("integration_properties.BitbucketCloud"), "full_name: acme/shipping-service")
	b.window("entity-ingested-properties")
	b.keys(`//button[@role='tab' and normalize-space()='Ingested Properties']`, "\x1b")
	b.notSee("Entity Inspector")

	// Danger Zone: suspend and resume, each confirmed.
	b.button("Integrations")
	card := fmt.Sprintf(`//li[@aria-label=%s]`, xq(integration))
	b.seeIn(card, "Enabled")
	b.seeIn(card+`//dt[.='Connector']/following-sibling::dd[1]`, "bb")
	// fresh-service arrived, shipping-service and fresh-service are imported.
	b.seeIn(card+`//dt[.='Discovered']/following-sibling::dd[1]`, strconv.Itoa(repoCount+1-2))
	b.seeIn(card+`//dt[.='Imported']/following-sibling::dd[1]`, "2")
	b.shot("integrations")

	// A second integration of the same workspace: the server's refusal,
	// shown on the form.
	b.button("+ New Integration")
	b.click(`//button[contains(., 'Bitbucket Cloud')]`)
	b.fill(labelled("Integration Name"), "acme again")
	b.click(`//button[contains(., 'Choose Bitbucket Cloud connector')]`)
	b.click(`//ul[@aria-label='Connectors']//button[.//strong[normalize-space()='bb']]`)
	b.button("Confirm & Enable")
	b.click(`//div[@role="dialog"]//button[normalize-space()='Confirm & Enable']`)
	b.see("The integration was not created", "already_exists", "WORKSPACE_ALREADY_INTEGRATED")
	b.shot("new-integration-already-exists")
	b.button("Integrations")
	b.button("View " + integration)

	// Select-all across pages imports every matching repository, read page
	// by page; what fails stays in the list, each failure with its reason.
	left := repoCount + 1 - 2
	b.see(fmt.Sprintf("%d in all", left))
	b.click(aria("Select all on this page"))
	b.button(fmt.Sprintf("Select all %d matching repositories", left))
	b.button("Import selected entities")
	b.waitJS("import results", `/\d+ imported, \d+ failed/.test(document.body.innerText)`, 120*time.Second)
	var imported, failed int
	if _, err := fmt.Sscanf(b.textOf(`//div[contains(@class,'verdict')]/strong`), "%d imported, %d failed", &imported, &failed); err != nil {
		t.Fatalf("import summary: %v\n%s", err, b.text())
	}
	if imported+failed != left || imported == 0 {
		t.Errorf("select-all imported %d and failed %d, want %d in all, most imported", imported, failed, left)
	}
	if failed == 0 {
		b.see("Nothing waits to be imported")
	} else {
		b.see(fmt.Sprintf("%d in all", failed))
		b.seeIn(`//div[contains(@class,'verdict')]//li/strong`, workspace+"/")
	}
	b.shot("discovered-imported-all")
	b.button("Configuration")
	b.see("Workspace", "cannot change", "locked", "Danger Zone")
	b.shot("configuration")
	b.see("Repository filter", "Every repository of the workspace is discovered")
	b.fill(labelled("Update Frequency"), "2")
	b.button("Preview changes")
	b.see("These changes are valid and do not change the Discovered list.")
	b.button("Save changes")
	b.see("Saved.")
	b.click(`//section[contains(@class,'danger-zone')]//button[normalize-space()='Suspend']`)
	b.see("Suspend " + integration + "?")
	b.click(`//div[@role="dialog"]//button[normalize-space()='Suspend']`)
	b.seeIn(`//h1`, "Suspended")
	b.see("Suspended: resume it under Configuration to sync.")
	b.waitJS("Sync disabled while suspended", xp(`//button[normalize-space()='Sync']`)+".disabled", 10*time.Second)
	b.shot("suspended")
	b.click(`//section[contains(@class,'danger-zone')]//button[normalize-space()='Resume']`)
	b.click(`//div[@role="dialog"]//button[normalize-space()='Resume']`)
	b.seeIn(`//h1`, "Enabled")

	// Runs and Events record what happened.
	b.button("Runs")
	b.see("manual", "success")
	b.shot("runs")
	// The log is paged: the latest events first, the journey's start later.
	b.button("Events")
	b.see("suspended", "resumed", "config changed", "imported")
	b.shot("events")
	log := b.text()
	for page := 2; page <= 5 && !strings.Contains(log, "integration \""+integration+"\" created"); page++ {
		b.button("Next →")
		b.see(fmt.Sprintf("Page %d", page))
		log += b.text()
	}
	for _, want := range []string{"integration \"" + integration + "\" created", "auto imported", "unlinked", "imported automatically"} {
		if !strings.Contains(log, want) {
			t.Errorf("the event log's pages do not show %q", want)
		}
	}

	// A narrow window shows every tab without the page itself scrolling
	// sideways (wide tables scroll in their own box).
	b.run("narrow", chromedp.EmulateViewport(420, 900))
	for _, tab := range []struct{ name, shows string }{
		{"Discovered", "Auto-import future discovered entities"},
		{"Imported", "Bitbucket Cloud Entity"},
		{"Configuration", "Danger Zone"},
		{"Runs", "Trigger"},
		{"Events", "What happened"},
	} {
		b.button(tab.name)
		b.see(tab.shows)
		b.notSee("Loading page")
		b.fitsWidth(tab.name)
		b.shot(sanitize(tab.name) + "-narrow")
	}
	b.button("Catalog")
	b.see("Search entities")
	b.fitsWidth("Catalog")
	b.run("wide", chromedp.EmulateViewport(1280, 900))
	b.button("Integrations")

	// A key without IDP_INTEGRATION_EDIT: the integration pages say which
	// permission is missing; the catalog still works.
	reader := apiKey(t, s.db, "catalog-reader", "IDP_CATALOG_VIEW")
	b.button("Sign out")
	b.see("Sign in to the Internal Developer Portal")
	b.keys(`//input[@id="api-key"]`, reader+"\r")
	b.see("permission_denied", "IDP_INTEGRATION_EDIT")
	b.notSee("+ New Integration")
	b.shot("missing-permission")
	b.button("Catalog")
	b.fill(`//input[@type='search']`, "orders")
	b.seeIn(`//table[@aria-label='Catalog entities']//a`, "Orders")

	// Signed out in another tab, this tab's next call finds the session
	// gone and asks to sign in again; reloading does not bring it back.
	other := b.tab()
	other.open("/catalog")
	other.button("Sign out")
	other.see("Sign in to the Internal Developer Portal")
	b.button("Integrations")
	b.see("Sign in to the Internal Developer Portal", "Your session ended")
	b.shot("session-ended")
	b.open("/catalog")
	b.see("Sign in to the Internal Developer Portal", "Your session ended")

	b.checkCSP()

	// The control plane goes away under an open page: the next call says so.
	b.keys(`//input[@id="api-key"]`, s.apiKey+"\r")
	b.see("Catalog", "Updated")
	if err := s.cp.stop(); err != nil {
		t.Fatalf("stop the control plane: %v", err)
	}
	b.button("Integrations")
	b.see("unavailable", "the control plane did not answer")
	b.shot("control-plane-down")
}
