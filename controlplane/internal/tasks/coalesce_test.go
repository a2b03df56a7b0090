package tasks

import (
	"fmt"
	"slices"
	"testing"
)

func TestCoalesce(t *testing.T) {
	many := make([]string, MaxTargeted)
	for i := range many {
		many[i] = fmt.Sprintf("r%04d", i)
	}
	tests := []struct {
		name        string
		queued, add []string
		want        []string
		ok          bool
	}{
		{"new", nil, []string{"b", "a", "b"}, []string{"a", "b"}, true},
		{"joins", []string{"a", "b"}, []string{"c", "a"}, []string{"a", "b", "c"}, true},
		{"same again", []string{"a"}, []string{"a"}, []string{"a"}, true},
		{"full", many, []string{"zzz"}, nil, false},
		{"full, already in", many, []string{"r0001"}, many, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Coalesce(tt.queued, tt.add)
			if ok != tt.ok || ok && !slices.Equal(got, tt.want) {
				t.Fatalf("Coalesce = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
