package rpc_test

import "testing"

// A page of integrations costs the same statements whatever its size: the
// last run of each comes in the page's query, not one query per row.
func TestListIntegrationsStatementsDoNotGrowWithThePage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, testLease)
	h.addIntegrations(60)
	one, many := h.listStatements(1), h.listStatements(60)
	if many != one {
		t.Fatalf("a page of 60 integrations ran %d statements, a page of 1 ran %d: the page must cost the same", many, one)
	}
}
