// Package integration holds the configuration a user gives the control
// plane: Bitbucket Cloud connectors and integrations, their defaults and
// every validation rule of the product (HTTP-only connectors, x-token-auth,
// token references, one behaviour/kind/type combination per registration
// behaviour, correlation paths, field mappings, locked secondary kinds,
// update frequencies). It has no storage and no transport: the manage
// package persists what this package accepted.
package integration
