package catalog

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewFromRepository(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tmpl RegisterTemplate
		want *Entity
	}{
		{
			name: "defaults",
			tmpl: RegisterTemplate{Kind: "Component", Type: "service", Slug: "payments-api", Name: "Payments API", Description: "Takes payments."},
			want: &Entity{
				Kind: "Component", Type: "service", Identifier: "payments_api", Name: "Payments API",
				Owner: "unknown", Lifecycle: "unknown", Description: "Takes payments.",
			},
		},
		{
			name: "mapped owner and lifecycle, type chosen at import, org scope",
			tmpl: RegisterTemplate{
				Kind: "component", Type: "library", Slug: "pay-lib", Name: "pay-lib",
				Owner: "group:payments", Lifecycle: "production", Org: "default",
			},
			want: &Entity{
				Kind: "Component", Type: "library", Identifier: "pay_lib", Name: "pay-lib",
				Owner: "group:payments", Lifecycle: "production", Org: "default",
			},
		},
		{
			name: "name falls back to the slug",
			tmpl: RegisterTemplate{Kind: "Resource", Type: "database", Slug: "1db"},
			want: &Entity{
				Kind: "Resource", Type: "database", Identifier: "_1db", Name: "1db",
				Owner: "unknown", Lifecycle: "unknown",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := NewFromRepository(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("NewFromRepository (-want +got):\n%s", diff)
			}
			if _, err := got.YAML(); err != nil {
				t.Errorf("the registered entity does not render: %v", err)
			}
		})
	}
}

func TestNewFromRepositoryRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		tmpl  RegisterTemplate
		field string
	}{
		{"no slug", RegisterTemplate{Kind: "Component", Type: "service"}, "slug"},
		{"unknown kind", RegisterTemplate{Kind: "Repo", Type: "service", Slug: "a"}, "kind"},
		{"no type for a Component", RegisterTemplate{Kind: "Component", Slug: "a"}, "type"},
		{"project without org", RegisterTemplate{Kind: "Component", Type: "service", Slug: "a", Project: "p"}, "projectIdentifier"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewFromRepository(tc.tmpl)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Errors[0].Field != tc.field {
				t.Fatalf("NewFromRepository = %v, want a problem with %s", err, tc.field)
			}
		})
	}
}
