package idpctl

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/catalog-discovery/bitbucket/shared/cli"
)

// subject says what a request was about, so that its errors read in the
// user's words: the noun of "invalid integration", the flag behind each
// field a BadRequest names, and the command that lists such resources.
type subject struct {
	noun     string
	prefixes []string          // request message names before field paths, e.g. "integration."
	flags    map[string]string // first field path element -> flag
	list     string            // command listing the resources, for NOT_FOUND
}

// subjectError carries the subject of a failed request to describe.
type subjectError struct {
	err error
	s   *subject
}

func (e *subjectError) Error() string { return e.err.Error() }
func (e *subjectError) Unwrap() error { return e.err }

// about marks err as the outcome of a request about s.
func about(s *subject, err error) error {
	if err == nil {
		return nil
	}
	return &subjectError{err: err, s: s}
}

// rejectedValue lists the server's answers that refuse a value the user
// gave (a flag, an argument, a file's field): exit 2, like a bad flag, so
// that a script retrying on 1 does not retry them. The server's message
// names the value, so no pointer to --help is printed.
var rejectedValue = struct {
	codes   map[codes.Code]bool
	reasons map[string]bool // ErrorInfo reasons of other codes that name a value to change
}{
	codes: map[codes.Code]bool{codes.InvalidArgument: true, codes.OutOfRange: true},
	reasons: map[string]bool{
		"SECONDARY_KINDS_LOCKED": true, // --secondary-kinds on edit
		"AMBIGUOUS_IDENTIFIER":   true, // ID needs --kind or --scope
		"AMBIGUOUS_REPOSITORY":   true, // NAME needs the slug or uuid
		// Per repository, in import results:
		"INVALID_TYPE":       true, // --type
		"INVALID_TARGET":     true, // --target
		"ACTION_NOT_ALLOWED": true, // --action against the integration's behavior
	},
}

// exitCode is the one mapping from what a command returned to idpctl's
// exit code, whichever command it was: 0 done; 2 a usage error or a value
// the server rejects (rejectedValue); 1 anything else.
func exitCode(err error) int {
	if err == nil {
		return cli.ExitOK
	}
	if cli.ExitCode(err) == cli.ExitUsage {
		return cli.ExitUsage
	}
	if st, ok := status.FromError(err); ok {
		if rejectedValue.codes[st.Code()] || rejectedValue.reasons[detail[*errdetails.ErrorInfo](st).GetReason()] {
			return cli.ExitUsage
		}
	}
	return cli.ExitFailure
}

// describe renders any error for a person: gRPC statuses by their details
// and code, with what to do next; other errors as they are.
func (a *app) describe(err error) string {
	var s *subject
	var se *subjectError
	if errors.As(err, &se) {
		s, err = se.s, se.err
	}
	if errors.Is(err, context.Canceled) {
		return "interrupted"
	}
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	if msg, ok := describeReason(st, s); ok {
		return msg
	}
	if br := detail[*errdetails.BadRequest](st); br != nil && len(br.GetFieldViolations()) > 0 {
		noun := "request"
		if s != nil {
			noun = s.noun
		}
		var b strings.Builder
		fmt.Fprintf(&b, "invalid %s:", noun)
		for _, v := range br.GetFieldViolations() {
			fmt.Fprintf(&b, "\n  %s: %s", s.fieldLabel(v.GetField()), v.GetDescription())
		}
		return b.String()
	}
	msg := st.Message()
	switch st.Code() {
	case codes.Unavailable:
		return a.describeUnavailable(msg)
	case codes.Unauthenticated:
		return fmt.Sprintf("the control plane rejected the API key (%s): check --api-key or IDP_API_KEY", msg)
	case codes.DeadlineExceeded:
		return fmt.Sprintf("the control plane at %s did not answer within %s (raise --request-timeout if it is just slow)", a.serverLabel(), a.requestTimeout)
	case codes.Canceled:
		return "interrupted"
	case codes.Unimplemented:
		return fmt.Sprintf("the control plane at %s does not support this request (%s); is idpctl newer than the server?", a.serverLabel(), msg)
	case codes.NotFound:
		// Only when the missing thing is the subject: an unlink's NOT_FOUND
		// may be about the repository, not the integration.
		if s != nil && s.list != "" && strings.Contains(strings.ToLower(msg), s.noun) {
			return fmt.Sprintf("%s (list them with `%s`)", msg, s.list)
		}
	case codes.PermissionDenied:
		return "permission denied: " + msg
	case codes.InvalidArgument:
		if s != nil {
			return fmt.Sprintf("invalid %s: %s", s.noun, msg)
		}
	}
	return msg
}

// describeReason explains the ErrorInfo reasons the API documents.
func describeReason(st *status.Status, s *subject) (string, bool) {
	info := detail[*errdetails.ErrorInfo](st)
	md := info.GetMetadata()
	or := func(key, fallback string) string {
		if v := md[key]; v != "" {
			return v
		}
		return fallback
	}
	msg := st.Message()
	switch info.GetReason() {
	case "FEATURE_FLAG_DISABLED":
		flag := or("flag", "IDP_CATALOG_CD_AUTO_DISCOVERY")
		return fmt.Sprintf("the feature flag %s is off for this account. Ask an administrator to run: %s",
			flag, cli.Command("controlplane", "admin", "feature-flag", "set", "--account", or("account", "ACCOUNT"), "--flag", flag, "--enabled")), true
	case "PERMISSION_MISSING":
		return fmt.Sprintf("your API key lacks permission %s on %s. Ask an administrator to grant it, or use a key that has it (--api-key, IDP_API_KEY)",
			or("permission", "?"), or("resourceType", "?")), true
	case "SECONDARY_KINDS_LOCKED":
		return "secondary kinds are fixed when an integration is created and cannot be changed; run the edit again without --secondary-kinds (or the secondary-kinds key of -f FILE)", true
	case "WORKSPACE_ALREADY_INTEGRATED":
		ws := or("workspace", "this workspace")
		if name := md["integration"]; name != "" {
			return fmt.Sprintf("%s already has an integration, %s, and a workspace has only one. Change that one instead: %s", ws, name, cmdLine("integration", "edit", name, "...")), true
		}
		return fmt.Sprintf("%s already has an integration, and a workspace has only one (%s). Find it with `idpctl integration list` and change it with `idpctl integration edit`", ws, msg), true
	case "NAME_TAKEN":
		return msg + " (names are unique per account: choose another --name)", true
	case "CONNECTOR_IN_USE":
		return msg + " (point its integrations at another connector first: " + cmdLine("integration", "edit", "NAME", "--connector", "OTHER") + ")", true
	case "INTEGRATION_SUSPENDED":
		name := or("integration", "INTEGRATION")
		return fmt.Sprintf("integration %s is suspended, so it does not sync; resume it first: %s", name, cmdLine("integration", "resume", name)), true
	case "NOT_IMPORTED":
		return msg + " (see what is linked with `idpctl imported list INTEGRATION`)", true
	case "IDENTIFIER_TAKEN":
		return msg + " (change the identifier, or change the existing entity with `idpctl entity update -f FILE`)", true
	case "AMBIGUOUS_IDENTIFIER":
		return fmt.Sprintf("%s: it exists under several kinds or scopes (%s); add --kind or --scope", msg, or("kinds", "?")), true
	}
	return "", false
}

var indexInPath = regexp.MustCompile(`^\.[a-z_]+\[(\d+)\]`)

// fieldLabel names a field as the user gave it: the flag, with the
// 1-based position for repeated flags (--correlate #2), or the field path
// itself when no flag fits (entity YAML paths, unknown fields).
func (s *subject) fieldLabel(field string) string {
	if s == nil {
		return field
	}
	f := field
	for _, p := range s.prefixes {
		f = strings.TrimPrefix(f, p)
	}
	// The longest dotted prefix that names a flag: a part of a message
	// field may have a flag of its own (filter.include_projects).
	end := strings.IndexByte(f, '[')
	if end < 0 {
		end = len(f)
	}
	flag, ok := s.flags[f[:end]]
	for !ok {
		dot := strings.LastIndexByte(f[:end], '.')
		if dot < 0 {
			return field
		}
		end = dot
		flag, ok = s.flags[f[:end]]
	}
	if m := indexInPath.FindStringSubmatch(f[end:]); m != nil {
		n, _ := strconv.Atoi(m[1]) // the regexp matched digits
		return fmt.Sprintf("%s #%d", flag, n+1)
	}
	return flag
}

// describeUnavailable keeps the useful end of a transport error and says
// what usually causes it.
func (a *app) describeUnavailable(msg string) string {
	detail := msg
	if i := strings.LastIndex(detail, `desc = "`); i >= 0 {
		detail = strings.TrimSuffix(detail[i+len(`desc = "`):], `"`)
	}
	detail = strings.TrimPrefix(detail, "transport: ")
	detail = strings.TrimPrefix(detail, "Error while dialing: ")
	advice := "is it running? check --server or IDP_SERVER"
	switch {
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		advice = "the server does not speak TLS: try --tls=false"
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "certificate"):
		advice = "the server's certificate is not trusted: pass --ca-file with its CA, or --insecure while testing"
	case strings.Contains(msg, "server preface") || strings.Contains(msg, "EOF"):
		advice = "if the server uses TLS, add --tls; otherwise check --server"
	}
	return fmt.Sprintf("cannot reach the control plane at %s: %s (%s)", a.serverLabel(), detail, advice)
}

// detail returns the status's first detail of type T, or nil.
func detail[T any](st *status.Status) T {
	var zero T
	for _, d := range st.Details() {
		if t, ok := d.(T); ok {
			return t
		}
	}
	return zero
}
