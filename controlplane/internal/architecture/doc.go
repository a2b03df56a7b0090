// Package architecture holds no code: its test keeps the one-way arrows
// between the control plane's packages, which ../../ARCHITECTURE.md
// describes, from being broken by a new import.
package architecture
