package idpctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/catalog-discovery/bitbucket/shared/cli"
	"github.com/catalog-discovery/bitbucket/shared/number"
)

// outputFormat is the value of -o. It implements pflag.Value so that a bad
// format fails while flags are parsed, as a usage error.
type outputFormat string

const (
	formatTable outputFormat = "table"
	formatJSON  outputFormat = "json"
	formatYAML  outputFormat = "yaml"
)

func (f *outputFormat) String() string { return string(*f) }
func (f *outputFormat) Type() string   { return "format" }

func (f *outputFormat) Set(s string) error {
	switch v := outputFormat(strings.ToLower(s)); v {
	case formatTable, formatJSON, formatYAML:
		*f = v
		return nil
	}
	return fmt.Errorf("want table, json or yaml")
}

func addOutputFlag(cmd *cobra.Command, f *outputFormat) {
	*f = formatTable
	cmd.Flags().VarP(f, "output", "o", "output format: table, json or yaml")
}

// jsonOptions is the JSON convention: proto field names, every field
// present (zero values and null included), enums by name.
var jsonOptions = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

// messageJSON marshals m compactly. protojson varies its whitespace on
// purpose; compacting here and indenting in writeDocument makes the bytes
// the same on every run, which scripts diffing output and golden tests need.
func messageJSON(m proto.Message) (json.RawMessage, error) {
	b, err := jsonOptions.Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// listDocument is how every list prints in JSON and YAML.
type listDocument struct {
	Items         []json.RawMessage `json:"items"`
	NextPageToken string            `json:"next_page_token"`
	Total         *int64            `json:"total,omitempty"`
}

// writeDocument prints doc (JSON-encodable; proto messages must go
// through messageJSON first) as indented JSON or as YAML of the same shape.
func writeDocument(w io.Writer, f outputFormat, doc any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // URLs with & stay readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	if f == formatJSON {
		_, err := w.Write(buf.Bytes())
		return err
	}
	return jsonToYAML(w, buf.Bytes())
}

// jsonToYAML re-emits JSON as block-style YAML, keeping key order and
// types: YAML's parser reads JSON, and clearing the JSON (flow, quoted)
// styles lets the encoder choose plain block style, quoting only where a
// string would otherwise read as another type.
func jsonToYAML(w io.Writer, j []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(j, &doc); err != nil {
		return err
	}
	var plain func(n *yaml.Node)
	plain = func(n *yaml.Node) {
		n.Style = 0
		// Numbers in plain decimal, as the entity YAML writes them: a
		// JSON 2.9236454e+07 reads 29236454.
		if n.Kind == yaml.ScalarNode && n.Tag == "!!float" {
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
				n.Value, n.Tag = number.Format(f), ""
			}
		}
		for _, c := range n.Content {
			plain(c)
		}
	}
	plain(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return enc.Close()
}

// writeMessage prints one resource: JSON or YAML of m, or the table view.
func (a *app) writeMessage(f outputFormat, m proto.Message, table func(io.Writer)) error {
	if f == formatTable {
		table(a.stdout)
		return nil
	}
	j, err := messageJSON(m)
	if err != nil {
		return err
	}
	return writeDocument(a.stdout, f, j)
}

// table lines up columns under UPPER CASE headers, as kubectl does.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)}
	if len(headers) > 0 {
		t.row(headers...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = cellText(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() { _ = t.tw.Flush() } // writes to stdout; a broken pipe has nobody to tell

// cellText keeps one value on one line and in one column.
func cellText(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// details is the table view of one resource: "Key:  value" lines.
type details struct{ t *table }

func newDetails(w io.Writer) *details { return &details{t: newTable(w)} }

func (d *details) add(key, value string) { d.t.row(key+":", value) }
func (d *details) flush()                { d.t.flush() }

// Times in tables are ages ("5m ago", "in 2h"): a list is read to see what
// is recent. Detail views add the exact local time; JSON has RFC 3339 UTC.

func (a *app) age(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	d := a.now().Sub(ts.AsTime())
	if d < 0 {
		return "in " + humanDuration(-d)
	}
	return humanDuration(d) + " ago"
}

func (a *app) when(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "-"
	}
	return ts.AsTime().In(a.loc).Format(time.RFC3339) + " (" + a.age(ts) + ")"
}

// humanDuration keeps two units while the smaller one still matters.
func humanDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 10*60:
		if s%60 == 0 {
			return fmt.Sprintf("%dm", s/60)
		}
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 60*60:
		return fmt.Sprintf("%dm", s/60)
	case s < 10*60*60:
		if m := s / 60 % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", s/3600, m)
		}
		return fmt.Sprintf("%dh", s/3600)
	case s < 48*60*60:
		return fmt.Sprintf("%dh", s/3600)
	}
	return fmt.Sprintf("%dd", s/86400)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// listOptions are the flags every list command has.
type listOptions struct {
	output    outputFormat
	pageSize  int32
	pageToken string
	allPages  bool
}

func addListFlags(cmd *cobra.Command, o *listOptions) {
	addOutputFlag(cmd, &o.output)
	cmd.Flags().Int32Var(&o.pageSize, "page-size", 0, "at most this many per page (default: the server's)")
	cmd.Flags().StringVar(&o.pageToken, "page-token", "", "continue from a previous page's next_page_token")
	cmd.Flags().BoolVar(&o.allPages, "all-pages", false, "fetch every page")
}

// page is what a list command fetched: one page, or all of them.
type page[T proto.Message] struct {
	items   []T
	next    string
	total   int64
	counted bool // the RPC reports a total across pages
}

// fetchFunc gets one page of a list RPC.
type fetchFunc[T proto.Message] func(ctx context.Context, size int32, token string) (items []T, next string, total int64, err error)

// collect fetches one page, or every page with --all-pages.
func collect[T proto.Message](ctx context.Context, a *app, o *listOptions, hasTotal bool, fetch fetchFunc[T]) (page[T], error) {
	if o.pageSize < 0 {
		return page[T]{}, cli.Usagef("--page-size must be positive")
	}
	p := page[T]{counted: hasTotal}
	token := o.pageToken
	seen := map[string]bool{}
	for {
		ctx, cancel := context.WithTimeout(ctx, a.requestTimeout)
		items, next, total, err := fetch(ctx, o.pageSize, token)
		cancel()
		if err != nil {
			return page[T]{}, err
		}
		p.items = append(p.items, items...)
		p.next, p.total = next, total
		if !o.allPages || next == "" {
			return p, nil
		}
		if seen[next] {
			return page[T]{}, fmt.Errorf("the control plane returned page token %q twice; stopping rather than looping", next)
		}
		seen[next] = true
		token = next
	}
}

// column is one column of a list table.
type column[T any] struct {
	header string
	value  func(T) string
}

// writeList prints a page: as a document, or as a table with a hint on
// stderr when it is empty or when there are more pages.
func writeList[T proto.Message](a *app, o *listOptions, p page[T], cols []column[T], emptyHint string) error {
	if o.output != formatTable {
		doc := listDocument{Items: []json.RawMessage{}, NextPageToken: p.next}
		if p.counted {
			doc.Total = &p.total
		}
		for _, it := range p.items {
			j, err := messageJSON(it)
			if err != nil {
				return err
			}
			doc.Items = append(doc.Items, j)
		}
		return writeDocument(a.stdout, o.output, doc)
	}
	if len(p.items) == 0 {
		a.hint("%s", emptyHint)
		return nil
	}
	headers := make([]string, len(cols))
	for i, c := range cols {
		headers[i] = c.header
	}
	t := newTable(a.stdout, headers...)
	for _, it := range p.items {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = c.value(it)
		}
		t.row(cells...)
	}
	t.flush()
	if p.next != "" {
		a.hint("%s", a.moreHint(len(p.items), p))
	}
	return nil
}

// moreHint says how much of a list was shown and how to see the rest:
// --all-pages first, since it needs no token; then the next page as a
// command to paste, the command line as given with the new --page-token.
func (a *app) moreHint(shown int, p pageInfo) string {
	head := fmt.Sprintf("Showing %d", shown)
	if p.hasTotal() {
		head += fmt.Sprintf(" of %d", p.totalCount())
	} else {
		head += "; more follow"
	}
	return fmt.Sprintf("%s. All of them: add --all-pages. Next page:\n  %s", head, cmdLine(withPageToken(a.args, p.nextToken())...))
}

// pageInfo is what moreHint needs of a page of any item type.
type pageInfo interface {
	hasTotal() bool
	totalCount() int64
	nextToken() string
}

func (p page[T]) hasTotal() bool    { return p.counted }
func (p page[T]) totalCount() int64 { return p.total }
func (p page[T]) nextToken() string { return p.next }

// withPageToken is args with --page-token set to token: any earlier one
// removed, and --api-key too, which must not be printed (the next command
// takes it from where the user keeps it, IDP_API_KEY or their own flag).
func withPageToken(args []string, token string) []string {
	out := make([]string, 0, len(args)+2)
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "--page-token", arg == "--api-key":
			i++ // and its value
			continue
		case strings.HasPrefix(arg, "--page-token="), strings.HasPrefix(arg, "--api-key="):
			continue
		}
		out = append(out, args[i])
	}
	return append(out, "--page-token", token)
}
