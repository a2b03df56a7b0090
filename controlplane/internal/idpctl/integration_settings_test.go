package idpctl

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	integrationv1 "github.com/catalog-discovery/bitbucket/proto/gen/idp/integration/v1"
)

// settingRoundTrips holds, for every integration setting, flags giving it
// a non-default value and its value in a built Integration written back in
// the -f file's syntax, with the formatting `integration get` shows.
var settingRoundTrips = map[string]struct {
	flags []string
	file  func(in *integrationv1.Integration) any
}{
	"name":      {[]string{"--name", "Bitbucket Acme"}, func(in *integrationv1.Integration) any { return in.GetName() }},
	"connector": {[]string{"--connector", "bb-acme"}, func(in *integrationv1.Integration) any { return in.GetConnector() }},
	"workspace": {[]string{"--workspace", "acme"}, func(in *integrationv1.Integration) any { return in.GetWorkspace() }},
	"behavior":  {[]string{"--behavior", "merge"}, func(in *integrationv1.Integration) any { return behaviorName(in.GetBehavior()) }},
	"kind":      {[]string{"--kind", "API"}, func(in *integrationv1.Integration) any { return in.GetKind() }},
	"type":      {[]string{"--type", "library"}, func(in *integrationv1.Integration) any { return in.GetType() }},
	"correlate": {[]string{"--correlate", "name=name", "--correlate", "project.key=metadata.tags:contains"}, func(in *integrationv1.Integration) any {
		var rules []string
		for _, r := range in.GetCorrelation().GetRules() {
			rules = append(rules, correlationString(r))
		}
		return rules
	}},
	"correlate-identifier": {[]string{"--correlate-identifier"}, func(in *integrationv1.Integration) any {
		return in.GetCorrelation() != nil && len(in.GetCorrelation().GetRules()) == 0
	}},
	"field": {[]string{"--field", "language", "--field", "default_branch=mainbranch.name"}, func(in *integrationv1.Integration) any {
		var fields []string
		for _, m := range in.GetFieldMappings().GetMappings() {
			fields = append(fields, m.GetName()+"="+m.GetPath())
		}
		return fields
	}},
	"secondary-kinds": {[]string{"--secondary-kinds", "commits"}, func(in *integrationv1.Integration) any {
		return secondaryKindsName(in.GetSecondaryKinds().GetKinds())
	}},
	"frequency":   {[]string{"--frequency", "1h"}, func(in *integrationv1.Integration) any { return frequencyName(in.GetUpdateFrequency()) }},
	"start-date":  {[]string{"--start-date", "2025-01-01"}, func(in *integrationv1.Integration) any { return startDateString(in.GetStartDate()) }},
	"auto-import": {[]string{"--auto-import"}, func(in *integrationv1.Integration) any { return in.GetAutoImport() }},
	"owner-mapping": {[]string{"--owner-mapping", "@acme/payments=group:payments", "--owner-mapping", "@acme/*=group:*"}, func(in *integrationv1.Integration) any {
		var rules []string
		for _, r := range in.GetOwnerMapping().GetRules() {
			rules = append(rules, r.GetFrom()+"="+r.GetTo())
		}
		return rules
	}},
	"include-project": {[]string{"--include-project", "PAY,OPS"}, func(in *integrationv1.Integration) any {
		return strings.Join(in.GetFilter().GetIncludeProjects(), ",")
	}},
	"exclude-project": {[]string{"--exclude-project", "LEGACY"}, func(in *integrationv1.Integration) any {
		return in.GetFilter().GetExcludeProjects()
	}},
	"include-name": {[]string{"--include-name", "payments-*", "--include-name", "web-?"}, func(in *integrationv1.Integration) any {
		return in.GetFilter().GetIncludeNames()
	}},
	"exclude-name": {[]string{"--exclude-name", "*-sandbox"}, func(in *integrationv1.Integration) any { return in.GetFilter().GetExcludeNames() }},
	"visibility":   {[]string{"--visibility", "private"}, func(in *integrationv1.Integration) any { return visibilityName(in.GetFilter().GetVisibility()) }},
	"forks":        {[]string{"--forks", "exclude"}, func(in *integrationv1.Integration) any { return forksName(in.GetFilter().GetForks()) }},
	"updated-since": {[]string{"--updated-since", "2025-06-01"}, func(in *integrationv1.Integration) any {
		return startDateString(in.GetFilter().GetUpdatedSince())
	}},
	"no-filter": {[]string{"--no-filter"}, func(in *integrationv1.Integration) any {
		return in.GetFilter() != nil && proto.Equal(in.GetFilter(), &integrationv1.RepositoryFilter{})
	}},
	"pr-sweep-window": {[]string{"--pr-sweep-window", "2d"}, func(in *integrationv1.Integration) any {
		return durationString(in.GetPullRequestSweepWindow())
	}},
	"pr-sweep-window-without-webhook": {[]string{"--pr-sweep-window-without-webhook", "90m"}, func(in *integrationv1.Integration) any {
		return durationString(in.GetPullRequestSweepWindowWithoutWebhook())
	}},
	"full-listing-interval": {[]string{"--full-listing-interval", "12h"}, func(in *integrationv1.Integration) any {
		return durationString(in.GetFullListingInterval())
	}},
	"watermark-overlap": {[]string{"--watermark-overlap", "5m"}, func(in *integrationv1.Integration) any {
		return durationString(in.GetWatermarkOverlap())
	}},
}

// TestIntegrationSettingsRoundTrip walks the settings table: each setting
// given as flags builds a request that sets its field alone; that request
// written back as a -f file builds the same request.
func TestIntegrationSettingsRoundTrip(t *testing.T) {
	t.Parallel()
	for _, st := range integrationSettings {
		for _, create := range []bool{true, false} {
			if st.createOnly && !create {
				continue
			}
			name := st.key + "/edit"
			if create {
				name = st.key + "/create"
			}
			t.Run(name, func(t *testing.T) {
				tc, ok := settingRoundTrips[st.key]
				if !ok {
					t.Fatalf("setting %q has no round-trip case", st.key)
				}
				fromFlags, mask := buildSettings(t, create, tc.flags...)
				if want := []string{st.field}; !cmp.Equal(want, mask) {
					t.Errorf("update_mask = %v, want %v", mask, want)
				}
				if proto.Equal(fromFlags, &integrationv1.Integration{}) {
					t.Fatalf("%v set nothing", tc.flags)
				}
				doc, err := yaml.Marshal(map[string]any{st.key: tc.file(fromFlags)})
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(t.TempDir(), "settings.yaml")
				if err := os.WriteFile(file, doc, 0o600); err != nil {
					t.Fatal(err)
				}
				fromFile, fileMask := buildSettings(t, create, "-f", file)
				if diff := cmp.Diff(fromFlags, fromFile, protocmp.Transform()); diff != "" {
					t.Errorf("from flags %v and from the file\n%s\n(-flags +file):\n%s", tc.flags, doc, diff)
				}
				if !cmp.Equal(mask, fileMask) {
					t.Errorf("update_mask from the file = %v, from flags %v", fileMask, mask)
				}
			})
		}
	}
}

// buildSettings parses args with create's or edit's flags and builds the
// request's Integration and update_mask.
func buildSettings(t *testing.T, create bool, args ...string) (*integrationv1.Integration, []string) {
	t.Helper()
	a := newApp(io.Discard, io.Discard, func(string) string { return "" })
	cmd := &cobra.Command{Use: "settings"}
	var f integrationFlags
	f.register(cmd, create)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	spec, err := a.integrationSpec(cmd, &f)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	in, mask, err := spec.build()
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return in, mask
}

// TestIntegrationSettingsTable checks what the table promises: unique
// keys; fields that exist in the Integration message, in its field order,
// so update_masks are valid and ordered; and a string or bool field for
// every setting that takes its value as given.
func TestIntegrationSettingsTable(t *testing.T) {
	t.Parallel()
	fields := (&integrationv1.Integration{}).ProtoReflect().Descriptor().Fields()
	keys := map[string]bool{}
	last := 0
	for _, st := range integrationSettings {
		if keys[st.key] {
			t.Errorf("key %q appears twice", st.key)
		}
		keys[st.key] = true
		fd := fields.ByName(protoreflect.Name(st.field))
		if fd == nil {
			t.Errorf("%s: Integration has no field %q", st.key, st.field)
			continue
		}
		if fd.Index() < last {
			t.Errorf("%s: field %q is out of the message's order", st.key, st.field)
		}
		last = fd.Index()
		if st.apply == nil {
			want := map[valueKind]protoreflect.Kind{textValue: protoreflect.StringKind, boolValue: protoreflect.BoolKind}[st.kind]
			if fd.Kind() != want || fd.IsList() {
				t.Errorf("%s: without apply, a %v field cannot take the value as given", st.key, fd.Kind())
			}
		}
		if integrationSubject.flags[st.field] == "" {
			t.Errorf("%s: errors about %q name no flag", st.key, st.field)
		}
	}
}

func TestIntegrationSettingsAlternatives(t *testing.T) {
	t.Parallel()
	// A flag replaces the file's value of its alternative.
	file := filepath.Join(t.TempDir(), "settings.yaml")
	if err := os.WriteFile(file, []byte("correlate-identifier: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, mask := buildSettings(t, false, "-f", file, "--correlate", "name=name")
	if len(in.GetCorrelation().GetRules()) != 1 || !cmp.Equal(mask, []string{"correlation"}) {
		t.Errorf("--correlate over the file's correlate-identifier: %v, mask %v", in, mask)
	}
	// Alternatives given as flags together are an error, not a silent choice.
	h := newHarness(t)
	r := h.mustRun(2, "integration", "edit", "acme", "--correlate-identifier", "--correlate", "name=name")
	if !strings.HasPrefix(r.stderr, "Error: give --correlate or --correlate-identifier, not both\n") {
		t.Errorf("both alternatives as flags: stderr = %q", r.stderr)
	}
	// So is one key twice in a file.
	if err := os.WriteFile(file, []byte("kind: API\nkind: Component\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = h.mustRun(2, "integration", "edit", "acme", "-f", file)
	if want := "Error: " + file + ": unmarshal errors:\n  line 2: kind is given twice\n"; !strings.HasPrefix(r.stderr, want) {
		t.Errorf("stderr = %q, want prefix %q", r.stderr, want)
	}
}
