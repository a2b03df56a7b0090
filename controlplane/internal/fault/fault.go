// Package fault is the control plane's one error type: a code that says
// what kind of failure it is, a stable UPPER_SNAKE reason for machines, a
// message for people, and the bad fields of invalid input. Domain code
// returns these; the rpc package maps each code to a gRPC status in one
// table, so no domain package knows about transports.
package fault

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Code classifies a failure; each maps to exactly one gRPC code.
type Code int

// Codes, named after what went wrong rather than after a transport.
const (
	Internal Code = iota
	Invalid
	NotFound
	AlreadyExists
	FailedPrecondition
	PermissionDenied
	Unauthenticated
	OutOfRange
	Unavailable
)

var codeNames = map[Code]string{
	Internal:           "internal",
	Invalid:            "invalid argument",
	NotFound:           "not found",
	AlreadyExists:      "already exists",
	FailedPrecondition: "failed precondition",
	PermissionDenied:   "permission denied",
	Unauthenticated:    "unauthenticated",
	OutOfRange:         "out of range",
	Unavailable:        "unavailable",
}

func (c Code) String() string { return codeNames[c] }

// Violation names one bad field of a request and says what is wrong with it.
type Violation struct {
	Field       string
	Description string
}

// Error is a failure with a code, a reason and, for bad input, the fields
// at fault.
type Error struct {
	Code       Code
	Reason     string            // UPPER_SNAKE_CASE, stable; empty for plain failures
	Message    string            // one line for people; never holds a secret
	Metadata   map[string]string // lowerCamelCase keys; every dynamic value of Message
	Violations []Violation
}

func (e *Error) Error() string {
	if len(e.Violations) == 0 {
		return e.Message
	}
	parts := make([]string, 0, len(e.Violations))
	for _, v := range e.Violations {
		parts = append(parts, v.Field+": "+v.Description)
	}
	return e.Message + ": " + strings.Join(parts, "; ")
}

// Is makes errors.Is match two faults with the same code and reason, so
// callers can compare against sentinel values such as ErrLeaseLost.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Reason == e.Reason
}

// New builds an Error with a formatted message.
func New(code Code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// With returns a copy of e with metadata key set to value.
func (e *Error) With(key, value string) *Error {
	c := *e
	c.Metadata = maps.Clone(e.Metadata)
	if c.Metadata == nil {
		c.Metadata = map[string]string{}
	}
	c.Metadata[key] = value
	return &c
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var f *Error
	if errors.As(err, &f) {
		return f
	}
	return nil
}

// CodeOf returns the code of err, Internal for errors that are not faults.
func CodeOf(err error) Code {
	if f := As(err); f != nil {
		return f.Code
	}
	return Internal
}

// Violations collects field violations while validating a request. The zero
// value is ready to use.
type Violations struct {
	list []Violation
}

// Add records that field is bad.
func (v *Violations) Add(field, format string, args ...any) {
	v.list = append(v.list, Violation{Field: field, Description: fmt.Sprintf(format, args...)})
}

// Has reports whether field already has a violation.
func (v *Violations) Has(field string) bool {
	return slices.ContainsFunc(v.list, func(x Violation) bool { return x.Field == field })
}

// Err returns an Invalid error listing every violation, or nil when there
// is none. reason may be empty.
func (v *Violations) Err(reason, message string) error {
	if len(v.list) == 0 {
		return nil
	}
	return &Error{Code: Invalid, Reason: reason, Message: message, Violations: slices.Clone(v.list)}
}

// InvalidField is a one-field Invalid error.
func InvalidField(field, format string, args ...any) *Error {
	var v Violations
	v.Add(field, format, args...)
	return v.Err("", "invalid "+field).(*Error)
}
