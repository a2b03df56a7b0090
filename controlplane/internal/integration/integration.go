package integration

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/catalog"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/owners"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/webhook"
	"github.com/catalog-discovery/bitbucket/shared/repofilter"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

// Behavior is how discovered repositories enter the catalog.
type Behavior string

// Registration behaviours.
const (
	RegisterAndMerge Behavior = "REGISTER_AND_MERGE" // default
	Register         Behavior = "REGISTER"
	Merge            Behavior = "MERGE"
)

// Operator compares an ingested value with a catalog value.
type Operator string

// Correlation operators.
const (
	Equals   Operator = "EQUALS"   // exact, case-sensitive
	Contains Operator = "CONTAINS" // the ingested value contains the catalog value, ignoring case
)

// CorrelationRule matches a discovered repository with a catalog entity.
type CorrelationRule struct {
	IngestedPath string   `json:"ingested_path"`
	CatalogPath  string   `json:"catalog_path"`
	Operator     Operator `json:"operator"`
}

// FieldMapping copies the raw repository JSON value at Path into
// metadata.integration_properties.BitbucketCloud.<Name> of linked entities.
type FieldMapping struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

// SecondaryKind is a data stream synced for every repository.
type SecondaryKind string

// Secondary kinds.
const (
	PullRequests SecondaryKind = "PULL_REQUESTS"
	Commits      SecondaryKind = "COMMITS"
)

// AllSecondaryKinds is the default selection.
var AllSecondaryKinds = []SecondaryKind{PullRequests, Commits}

// Frequency is how often an enabled integration syncs.
type Frequency string

// Update frequencies offered to users.
const (
	Every30Minutes Frequency = "30m"
	EveryHour      Frequency = "1h"
	Every3Hours    Frequency = "3h" // default
	Every6Hours    Frequency = "6h"
	Every12Hours   Frequency = "12h"
	EveryDay       Frequency = "1d"
)

var frequencies = map[Frequency]time.Duration{
	Every30Minutes: 30 * time.Minute,
	EveryHour:      time.Hour,
	Every3Hours:    3 * time.Hour,
	Every6Hours:    6 * time.Hour,
	Every12Hours:   12 * time.Hour,
	EveryDay:       24 * time.Hour,
}

// Duration is the interval between scheduled syncs.
func (f Frequency) Duration() time.Duration { return frequencies[f] }

// Valid reports whether f is one of the offered frequencies.
func (f Frequency) Valid() bool { _, ok := frequencies[f]; return ok }

// State says whether an integration syncs.
type State string

// Integration states.
const (
	Enabled   State = "ENABLED"
	Suspended State = "SUSPENDED"
)

// Defaults of a new integration.
const (
	DefaultKind = "Component"
	DefaultType = "service"
)

// DefaultCorrelation matches the repository name with the entity name.
func DefaultCorrelation() []CorrelationRule {
	return []CorrelationRule{{IngestedPath: "name", CatalogPath: "name", Operator: Equals}}
}

// DefaultFieldMappings are the Bitbucket fields copied into linked
// entities unless the user chooses otherwise, named as Bitbucket names them.
func DefaultFieldMappings() []FieldMapping {
	return []FieldMapping{
		{Name: "name", Path: "name"},
		{Name: "url", Path: "links.html.href"},
		{Name: "description", Path: "description"},
		{Name: "default_branch", Path: "mainbranch.name"},
		{Name: "project.key", Path: "project.key"},
		{Name: "project.name", Path: "project.name"},
		{Name: "is_private", Path: "is_private"},
		{Name: "uuid", Path: "uuid"},
		{Name: "full_name", Path: "full_name"},
		{Name: "language", Path: "language"},
		{Name: "created_on", Path: "created_on"},
		{Name: "updated_on", Path: "updated_on"},
	}
}

// Integration connects one Bitbucket Cloud workspace of an account to the
// catalog.
type Integration struct {
	ID          string
	AccountID   string
	Name        string
	ConnectorID string
	// Workspace is fixed at creation: one integration per workspace per account.
	Workspace string
	Behavior  Behavior
	Kind      string
	// Type is empty with Merge: merged entities keep their own type.
	Type        string
	Correlation []CorrelationRule
	Fields      []FieldMapping
	// OwnerMapping maps CODEOWNERS owners to the owner suggested on
	// Register; empty turns owner suggestions off.
	OwnerMapping []owners.Rule
	// SecondaryKinds is locked after creation.
	SecondaryKinds []SecondaryKind
	Frequency      Frequency
	StartDate      time.Time // zero: no start date
	AutoImport     bool
	// Filter selects the repositories discovered (shared/repofilter is the
	// one evaluator); the zero filter keeps all.
	Filter     repofilter.Filter
	State      State
	CreatedAt  time.Time
	UpdatedAt  time.Time
	NextSyncAt time.Time // zero while suspended
	// Webhook is the workspace webhook's secret and last reported state.
	Webhook webhook.Status
	// Sweep holds the windows of the pull request sweep and the listings.
	Sweep sweep.Settings
}

// Draft is a requested integration before defaults: a nil slice pointer
// means "not given" (use the default), a pointer to an empty slice means
// "explicitly none".
type Draft struct {
	Name           string
	Connector      string // id or name; resolved by the caller
	Workspace      string
	Behavior       Behavior
	Kind           string
	Type           string
	Correlation    *[]CorrelationRule
	Fields         *[]FieldMapping
	OwnerMapping   *[]owners.Rule
	SecondaryKinds *[]SecondaryKind
	Frequency      Frequency
	StartDate      time.Time
	AutoImport     bool
	Filter         repofilter.Filter
	// Sweep settings; nil ones take their defaults.
	Sweep SweepDraft
}

// SweepDraft holds the sweep settings given; nil means the default.
type SweepDraft struct {
	Window, WindowWithoutWebhook, FullListingInterval, Overlap *time.Duration
}

// settings fills what is not given from base.
func (d SweepDraft) settings(base sweep.Settings) sweep.Settings {
	for _, f := range []struct {
		given *time.Duration
		to    *time.Duration
	}{{d.Window, &base.Window}, {d.WindowWithoutWebhook, &base.WindowWithoutWebhook},
		{d.FullListingInterval, &base.FullListingInterval}, {d.Overlap, &base.Overlap}} {
		if f.given != nil {
			*f.to = *f.given
		}
	}
	return base
}

// ValidType reports whether t is a valid catalog type for an integration
// to register entities as (e.g. service, library, website).
func ValidType(t string) bool { return typePattern.MatchString(t) }

var (
	typePattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
	fieldNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}(\.[a-z][a-z0-9_]{0,63})*$`)
)

// New builds an enabled integration from a draft, filling defaults and
// checking every field. The connector must already be resolved.
func New(d Draft, connector Connector, now time.Time) (Integration, error) {
	in := Integration{
		AccountID:   connector.AccountID,
		Name:        strings.TrimSpace(d.Name),
		ConnectorID: connector.ID,
		Workspace:   strings.ToLower(strings.TrimSpace(d.Workspace)),
		Behavior:    d.Behavior,
		Kind:        strings.TrimSpace(d.Kind),
		Type:        strings.TrimSpace(d.Type),
		Frequency:   d.Frequency,
		StartDate:   d.StartDate,
		AutoImport:  d.AutoImport,
		Filter:      d.Filter,
		State:       Enabled,
		CreatedAt:   now,
		UpdatedAt:   now,
		NextSyncAt:  time.Time{},
	}
	var v fault.Violations
	if in.Workspace == "" {
		in.Workspace = connector.Workspace
	}
	switch {
	case !workspacePattern.MatchString(in.Workspace):
		v.Add("integration.workspace", "%q is not a Bitbucket workspace slug", in.Workspace)
	case in.Workspace != connector.Workspace:
		v.Add("integration.workspace", "must be the workspace of connector %q, %q: the connector's token is for that workspace", connector.Name, connector.Workspace)
	}
	if in.Behavior == "" {
		in.Behavior = RegisterAndMerge
	}
	if in.Kind == "" {
		in.Kind = DefaultKind
	}
	if in.Type == "" && in.Behavior != Merge {
		in.Type = DefaultType
	}
	in.Correlation = DefaultCorrelation()
	if d.Correlation != nil {
		in.Correlation = slices.Clone(*d.Correlation)
	}
	in.Fields = DefaultFieldMappings()
	if d.Fields != nil {
		in.Fields = slices.Clone(*d.Fields)
	}
	in.OwnerMapping = owners.Defaults(in.Workspace)
	if d.OwnerMapping != nil {
		in.OwnerMapping = owners.Normalize(*d.OwnerMapping)
	}
	in.SecondaryKinds = slices.Clone(AllSecondaryKinds)
	if d.SecondaryKinds != nil {
		in.SecondaryKinds = slices.Clone(*d.SecondaryKinds)
	}
	if in.Frequency == "" {
		in.Frequency = Every3Hours
	}
	in.Sweep = d.Sweep.settings(sweep.DefaultSettings)
	in.check(&v)
	checkSecondaryKinds(&v, in.SecondaryKinds)
	if !in.StartDate.IsZero() && in.StartDate.After(now) {
		v.Add("integration.start_date", "must not be in the future")
	}
	if err := v.Err("", "invalid integration"); err != nil {
		return Integration{}, err
	}
	in.SecondaryKinds = sortedKinds(in.SecondaryKinds)
	in.NextSyncAt = now.Add(in.Frequency.Duration())
	return in, nil
}

// check validates the fields that may change after creation, normalising
// operators to their defaults.
func (in *Integration) check(v *fault.Violations) {
	checkName(v, "integration.name", in.Name)
	switch in.Behavior {
	case RegisterAndMerge, Register, Merge:
	default:
		v.Add("integration.behavior", "unknown behavior %q: want REGISTER_AND_MERGE, REGISTER or MERGE", in.Behavior)
	}
	// The kind is checked against the catalog's own list, so that an
	// integration never stores a kind every import would then refuse.
	if canon, ok := catalog.CanonicalKind(in.Kind); ok {
		in.Kind = canon
	} else {
		v.Add("integration.kind", "unknown kind %q; want one of %s", in.Kind, strings.Join(catalog.Kinds(), ", "))
	}
	switch {
	case in.Behavior == Merge && in.Type != "":
		v.Add("integration.type", "must be empty with behavior MERGE: merged entities keep their own type; clear it in the same change")
	case in.Behavior != Merge && in.Type == "":
		v.Add("integration.type", "required with behavior %s: the type of registered entities (e.g. %s, library, website)", in.Behavior, DefaultType)
	case in.Behavior != Merge && !typePattern.MatchString(in.Type):
		v.Add("integration.type", "%q is not a valid type (e.g. service, library, website)", in.Type)
	}
	names := make([]string, 0, len(in.Fields)+1)
	for _, m := range in.Fields {
		names = append(names, m.Name)
	}
	names = append(names, "visibility") // derived from is_private
	seen := map[CorrelationRule]bool{}
	for i := range in.Correlation {
		r := &in.Correlation[i]
		field := indexed("integration.correlation.rules", i)
		if r.Operator == "" {
			r.Operator = Equals
		}
		if problem := checkIngestedPath(r.IngestedPath, names); problem != "" {
			v.Add(field+".ingested_path", "%s", problem)
		}
		if problem := checkCatalogPath(r.CatalogPath); problem != "" {
			v.Add(field+".catalog_path", "%s", problem)
		}
		if r.Operator != Equals && r.Operator != Contains {
			v.Add(field+".operator", "unknown operator %q: want EQUALS or CONTAINS", r.Operator)
		}
		if seen[*r] {
			v.Add(field, "duplicate rule")
		}
		seen[*r] = true
	}
	mapped := map[string]bool{}
	for i, m := range in.Fields {
		field := indexed("integration.field_mappings.mappings", i)
		if !fieldNamePattern.MatchString(m.Name) {
			v.Add(field+".name", "%q is not a snake_case property name (dots nest, e.g. project.key)", m.Name)
		} else if mapped[m.Name] {
			v.Add(field+".name", "duplicate name %q", m.Name)
		}
		mapped[m.Name] = true
		if problem := checkRepositoryPath(m.Path); problem != "" {
			v.Add(field+".path", "%s", problem)
		}
	}
	owners.Check(v, "integration.owner_mapping.rules", in.OwnerMapping)
	if !in.Frequency.Valid() {
		v.Add("integration.update_frequency", "unknown frequency %q: want one of 30m, 1h, 3h, 6h, 12h, 1d", in.Frequency)
	}
	filter, problems := in.Filter.Normalize()
	for _, p := range problems {
		v.Add("integration.filter."+p.Field, "%s", p.Message)
	}
	in.Filter = filter
	for _, bad := range in.Sweep.Check() {
		v.Add("integration."+bad.Field, "%s", bad.Rule)
	}
}

func checkSecondaryKinds(v *fault.Violations, kinds []SecondaryKind) {
	seen := map[SecondaryKind]bool{}
	for i, k := range kinds {
		field := indexed("integration.secondary_kinds.kinds", i)
		if !slices.Contains(AllSecondaryKinds, k) {
			v.Add(field, "unknown secondary kind %q: want PULL_REQUESTS or COMMITS", k)
		} else if seen[k] {
			v.Add(field, "duplicate secondary kind %s", k)
		}
		seen[k] = true
	}
}

func sortedKinds(kinds []SecondaryKind) []SecondaryKind {
	out := slices.Clone(kinds)
	slices.SortFunc(out, func(a, b SecondaryKind) int {
		return slices.Index(AllSecondaryKinds, a) - slices.Index(AllSecondaryKinds, b)
	})
	return out
}

func indexed(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }
