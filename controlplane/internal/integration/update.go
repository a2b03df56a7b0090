package integration

import (
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/catalog-discovery/bitbucket/controlplane/internal/fault"
	"github.com/catalog-discovery/bitbucket/controlplane/internal/owners"
	"github.com/catalog-discovery/bitbucket/shared/sweep"
)

// ReasonSecondaryKindsLocked is the reason of a rejected secondary-kinds change.
const ReasonSecondaryKindsLocked = "SECONDARY_KINDS_LOCKED"

// Field names of an update mask, as the API names them.
const (
	FieldName           = "name"
	FieldConnector      = "connector"
	FieldWorkspace      = "workspace"
	FieldBehavior       = "behavior"
	FieldKind           = "kind"
	FieldType           = "type"
	FieldCorrelation    = "correlation"
	FieldFieldMappings  = "field_mappings"
	FieldSecondaryKinds = "secondary_kinds"
	FieldFrequency      = "update_frequency"
	FieldStartDate      = "start_date"
	FieldAutoImport     = "auto_import"
	FieldOwnerMapping   = "owner_mapping"
	FieldFilter         = "filter"
	// The sweep settings.
	FieldSweepWindow            = "pull_request_sweep_window"
	FieldSweepWindowWithoutHook = "pull_request_sweep_window_without_webhook"
	FieldFullListingInterval    = "full_listing_interval"
	FieldWatermarkOverlap       = "watermark_overlap"
)

var updatable = []string{FieldName, FieldConnector, FieldBehavior, FieldKind, FieldType, FieldCorrelation,
	FieldFieldMappings, FieldFrequency, FieldStartDate, FieldAutoImport, FieldOwnerMapping, FieldFilter,
	FieldSweepWindow, FieldSweepWindowWithoutHook, FieldFullListingInterval, FieldWatermarkOverlap}

// Changes is a partial update: only the fields named in Mask are applied.
type Changes struct {
	Mask  []string
	Draft Draft
}

// Apply changes in to the values of ch, checking every rule. connector is
// the resolved connector when the mask names it. It reports which fields
// actually changed.
func Apply(in *Integration, ch Changes, connector *Connector, now time.Time) ([]string, error) {
	var v fault.Violations
	if len(ch.Mask) == 0 {
		v.Add("update_mask", "required: name the fields to change, e.g. name or correlation")
	}
	next := *in
	for _, f := range ch.Mask {
		switch f {
		case FieldName:
			next.Name = strings.TrimSpace(ch.Draft.Name)
		case FieldConnector:
			if connector != nil {
				next.ConnectorID = connector.ID
				checkConnectorWorkspace(&v, *connector, in.Workspace)
			}
		case FieldBehavior:
			next.Behavior = ch.Draft.Behavior
			if next.Behavior == "" {
				next.Behavior = RegisterAndMerge
			}
		case FieldKind:
			next.Kind = strings.TrimSpace(ch.Draft.Kind)
			if next.Kind == "" {
				next.Kind = DefaultKind
			}
		case FieldType:
			next.Type = strings.TrimSpace(ch.Draft.Type)
		case FieldCorrelation:
			next.Correlation = nil
			if ch.Draft.Correlation != nil {
				next.Correlation = slices.Clone(*ch.Draft.Correlation)
			}
		case FieldFieldMappings:
			next.Fields = DefaultFieldMappings()
			if ch.Draft.Fields != nil {
				next.Fields = slices.Clone(*ch.Draft.Fields)
			}
		case FieldOwnerMapping:
			next.OwnerMapping = owners.Defaults(in.Workspace)
			if ch.Draft.OwnerMapping != nil {
				next.OwnerMapping = owners.Normalize(*ch.Draft.OwnerMapping)
			}
		case FieldFrequency:
			next.Frequency = ch.Draft.Frequency
			if next.Frequency == "" {
				next.Frequency = Every3Hours
			}
		case FieldStartDate:
			next.StartDate = ch.Draft.StartDate
			if !next.StartDate.IsZero() && next.StartDate.After(now) {
				v.Add("integration.start_date", "must not be in the future")
			}
		case FieldAutoImport:
			next.AutoImport = ch.Draft.AutoImport
		case FieldFilter:
			next.Filter = ch.Draft.Filter
		case FieldSweepWindow:
			next.Sweep.Window = sweepValue(ch.Draft.Sweep.Window, sweep.DefaultSettings.Window)
		case FieldSweepWindowWithoutHook:
			next.Sweep.WindowWithoutWebhook = sweepValue(ch.Draft.Sweep.WindowWithoutWebhook, sweep.DefaultSettings.WindowWithoutWebhook)
		case FieldFullListingInterval:
			next.Sweep.FullListingInterval = sweepValue(ch.Draft.Sweep.FullListingInterval, sweep.DefaultSettings.FullListingInterval)
		case FieldWatermarkOverlap:
			next.Sweep.Overlap = sweepValue(ch.Draft.Sweep.Overlap, sweep.DefaultSettings.Overlap)
		case FieldSecondaryKinds:
			var want []SecondaryKind
			if ch.Draft.SecondaryKinds != nil {
				want = sortedKinds(*ch.Draft.SecondaryKinds)
			}
			if !slices.Equal(want, in.SecondaryKinds) {
				return nil, fault.New(fault.FailedPrecondition, ReasonSecondaryKindsLocked,
					"secondary kinds are locked once an integration is created; create a new integration to change them")
			}
		case FieldWorkspace:
			if strings.ToLower(strings.TrimSpace(ch.Draft.Workspace)) != in.Workspace {
				v.Add("integration.workspace", "cannot change: an integration belongs to one workspace; create a new integration instead")
			}
		default:
			v.Add("update_mask", "%q cannot be updated: updatable fields are %s", f, strings.Join(updatable, ", "))
		}
	}
	// A behaviour change never changes the type on its own: switching to
	// or from Merge states the type in the same change, so that what the
	// user asked for, what changed and the event all name the same fields.
	next.check(&v)
	if err := v.Err("", "invalid integration update"); err != nil {
		return nil, err
	}
	changed := diff(*in, next)
	if len(changed) == 0 {
		return nil, nil
	}
	if slices.Contains(changed, FieldFrequency) && next.State == Enabled {
		next.NextSyncAt = now.Add(next.Frequency.Duration())
	}
	next.UpdatedAt = now
	*in = next
	return changed, nil
}

// ChangesDiscovered reports whether a change of these fields can change
// the Discovered list: its recommendations (behaviour, kind, type,
// correlation, the field mappings correlation reads) or its repositories
// (filter).
func ChangesDiscovered(changed []string) bool {
	for _, f := range changed {
		switch f {
		case FieldBehavior, FieldKind, FieldType, FieldCorrelation, FieldFieldMappings, FieldFilter:
			return true
		}
	}
	return false
}

// sweepValue is a sweep setting named in a mask: the value given, or
// the default when none is.
func sweepValue(given *time.Duration, def time.Duration) time.Duration {
	if given == nil {
		return def
	}
	return *given
}

// checkConnectorWorkspace holds an integration to its workspace: a
// connector of another workspace would sync a different set of
// repositories into the same entities (and its token may not reach the
// integration's workspace at all).
func checkConnectorWorkspace(v *fault.Violations, c Connector, workspace string) {
	if c.Workspace != workspace {
		v.Add("integration.connector", "connector %q is for workspace %q, and this integration syncs workspace %q, which cannot change: choose a connector of %q, or create a new integration for %q",
			c.Name, c.Workspace, workspace, workspace, c.Workspace)
	}
}

// StartDateMovedBack reports whether a start date change asks for history
// no sync has fetched: the date moved earlier, or was cleared. Backfills
// are complete only down to the old date, so they start again.
func StartDateMovedBack(before, after time.Time) bool {
	return !before.IsZero() && (after.IsZero() || after.Before(before))
}

func diff(a, b Integration) []string {
	var out []string
	add := func(changed bool, f string) {
		if changed {
			out = append(out, f)
		}
	}
	add(a.Name != b.Name, FieldName)
	add(a.ConnectorID != b.ConnectorID, FieldConnector)
	add(a.Behavior != b.Behavior, FieldBehavior)
	add(a.Kind != b.Kind, FieldKind)
	add(a.Type != b.Type, FieldType)
	add(!slices.Equal(a.Correlation, b.Correlation), FieldCorrelation)
	add(!slices.Equal(a.Fields, b.Fields), FieldFieldMappings)
	add(a.Frequency != b.Frequency, FieldFrequency)
	add(!a.StartDate.Equal(b.StartDate), FieldStartDate)
	add(a.AutoImport != b.AutoImport, FieldAutoImport)
	add(!slices.Equal(a.OwnerMapping, b.OwnerMapping), FieldOwnerMapping)
	add(!reflect.DeepEqual(a.Filter, b.Filter), FieldFilter)
	add(a.Sweep.Window != b.Sweep.Window, FieldSweepWindow)
	add(a.Sweep.WindowWithoutWebhook != b.Sweep.WindowWithoutWebhook, FieldSweepWindowWithoutHook)
	add(a.Sweep.FullListingInterval != b.Sweep.FullListingInterval, FieldFullListingInterval)
	add(a.Sweep.Overlap != b.Sweep.Overlap, FieldWatermarkOverlap)
	return out
}
