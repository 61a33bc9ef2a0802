package teams

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Adaptive Card constants.
const (
	// CardContentType is the attachment and invoke-response type of an Adaptive Card.
	CardContentType = "application/vnd.microsoft.card.adaptive"
	// CardVersion: Action.Execute needs 1.4, and Teams' docs ask for 1.5 (which also
	// brings Table).
	CardVersion = "1.5"
	cardSchema  = "http://adaptivecards.io/schemas/adaptive-card.json"
)

// Verbs of the card actions, and the key under which Action.Submit fallbacks carry the
// verb in their data (an Action.Submit click arrives as a message with value = data).
const (
	VerbSubmit  = "submit"
	VerbApprove = "approve"
	VerbDeny    = "deny"
	VerbRetry   = "retry"
	// VerbContinue and VerbStop answer a bulk run paused after its canary.
	VerbContinue = "continue"
	VerbStop     = "stop"
	dataVerbKey  = "mfadesk"
)

// Input ids of the request form and of the approval card; they match chat.FieldErrors keys.
const (
	inputReason        = "reason"
	inputVerification  = "verification"
	inputVerifyDetail  = "verification_detail"
	inputTicket        = "ticket"
	inputJustification = "justification"
	inputUsers         = "users" // a bulk form's pasted list (reregister --list)
)

// Card is an Adaptive Card.
type Card struct {
	Type         string    `json:"type"`
	Schema       string    `json:"$schema"`
	Version      string    `json:"version"`
	FallbackText string    `json:"fallbackText,omitempty"`
	Body         []Element `json:"body"`
	Actions      []Action  `json:"actions,omitempty"`
	MSTeams      *struct {
		Width string `json:"width,omitempty"`
	} `json:"msteams,omitempty"`
}

// Element is any Adaptive Card element; only the fields of its Type are set.
type Element struct {
	Type      string `json:"type"`
	ID        string `json:"id,omitempty"`
	Text      string `json:"text,omitempty"`
	Wrap      bool   `json:"wrap,omitempty"`
	Weight    string `json:"weight,omitempty"`
	Size      string `json:"size,omitempty"`
	Color     string `json:"color,omitempty"`
	IsSubtle  bool   `json:"isSubtle,omitempty"`
	Spacing   string `json:"spacing,omitempty"`
	Separator bool   `json:"separator,omitempty"`
	Style     string `json:"style,omitempty"`

	Facts []Fact    `json:"facts,omitempty"`
	Items []Element `json:"items,omitempty"`

	// Inputs.
	Label        string   `json:"label,omitempty"`
	Placeholder  string   `json:"placeholder,omitempty"`
	IsRequired   bool     `json:"isRequired,omitempty"`
	ErrorMessage string   `json:"errorMessage,omitempty"`
	IsMultiline  bool     `json:"isMultiline,omitempty"`
	MaxLength    int      `json:"maxLength,omitempty"`
	Value        string   `json:"value,omitempty"`
	Choices      []Choice `json:"choices,omitempty"`

	// Table, TableRow, TableCell.
	Columns          []Column  `json:"columns,omitempty"`
	Rows             []Element `json:"rows,omitempty"`
	Cells            []Element `json:"cells,omitempty"`
	FirstRowAsHeader bool      `json:"firstRowAsHeader,omitempty"`
	ShowGridLines    *bool     `json:"showGridLines,omitempty"`

	// ActionSet.
	Actions []Action `json:"actions,omitempty"`

	// Fallback is "drop" or an element shown by clients that cannot render this one.
	Fallback any `json:"fallback,omitempty"`
}

// Fact is a FactSet row.
type Fact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// Choice is an Input.ChoiceSet option.
type Choice struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// Column is a Table column.
type Column struct {
	Width int `json:"width"`
}

// Action is an Adaptive Card action.
type Action struct {
	Type             string         `json:"type"`
	ID               string         `json:"id,omitempty"`
	Title            string         `json:"title"`
	Verb             string         `json:"verb,omitempty"`
	Data             map[string]any `json:"data,omitempty"`
	Style            string         `json:"style,omitempty"`
	AssociatedInputs string         `json:"associatedInputs,omitempty"`
	Fallback         *Action        `json:"fallback,omitempty"`
}

func newCard(fallback string) Card {
	c := Card{Type: "AdaptiveCard", Schema: cardSchema, Version: CardVersion, FallbackText: fallback}
	c.MSTeams = &struct {
		Width string `json:"width,omitempty"`
	}{Width: "Full"}
	return c
}

func textBlock(s string) Element { return Element{Type: "TextBlock", Text: ownLinks(s), Wrap: true} }

// noLinks breaks markdown link syntax. TextBlocks and FactSet values render markdown,
// and cards show text users typed (a request's reason, a justification): a reason
// reading "[verify here](https://…)" must not become a link on an approver's card.
func noLinks(s string) string { return strings.ReplaceAll(s, "](", "]\u200b(") }

// ownLinks is noLinks, except that mfadesk's own addresses (chat.LinkURLs) become
// markdown links.
func ownLinks(s string) string {
	var b strings.Builder
	for _, sp := range chat.Spans(s) {
		if sp.Link {
			b.WriteString("[" + sp.Text + "](" + sp.Text + ")")
			continue
		}
		b.WriteString(noLinks(sp.Text))
	}
	return b.String()
}

// execute is an Action.Execute with an Action.Submit fallback for clients without
// Universal Actions; the fallback carries the verb in its data so the message it
// produces can be routed the same way.
func execute(title, verb, style, inputs string, data map[string]any) Action {
	d := map[string]any{dataVerbKey: verb}
	for k, v := range data {
		d[k] = v
	}
	fb := Action{Type: "Action.Submit", Title: title, Data: d, Style: style, AssociatedInputs: inputs}
	return Action{Type: "Action.Execute", Title: title, Verb: verb, Data: d, Style: style, AssociatedInputs: inputs, Fallback: &fb}
}

// severityWords shows severity in words, never by colour alone.
func severityWords(s chat.Severity) (label, color string) {
	switch s {
	case chat.SeverityProblem:
		return "Problem", "attention"
	case chat.SeverityWarning:
		return "Warning", "warning"
	}
	return "Info", "default"
}

// RenderCard renders a message as an Adaptive Card: title, sections (facts as a
// FactSet, tables, findings with their severity in words, notes) and Approve / Deny
// buttons as Action.Execute. Text is the card's fallbackText; it is also shown when the
// message has nothing else.
func RenderCard(m chat.Message) Card {
	c := newCard(m.Text)
	if m.Title != "" {
		c.Body = append(c.Body, Element{Type: "TextBlock", Text: noLinks(m.Title), Wrap: true, Weight: "Bolder", Size: "Medium"})
	}
	if len(m.Sections) == 0 || m.Refusal {
		tb := textBlock(m.Text)
		if m.Refusal {
			tb.Color = "attention"
		}
		c.Body = append(c.Body, tb)
	}
	for _, s := range m.Sections {
		c.Body = append(c.Body, renderSection(s)...)
	}
	if len(m.Buttons) > 0 {
		c.Body = append(c.Body, approvalInputs(m.Buttons)...)
		var acts []Action
		for _, b := range m.Buttons {
			acts = append(acts, button(b))
		}
		c.Body = append(c.Body, Element{Type: "ActionSet", Actions: acts})
	}
	if len(c.Body) == 0 {
		c.Body = append(c.Body, textBlock(m.Text))
	}
	return c
}

func renderSection(s chat.Section) []Element {
	var out []Element
	if s.Heading != "" {
		out = append(out, Element{Type: "TextBlock", Text: noLinks(s.Heading), Wrap: true, Weight: "Bolder", Separator: true, Spacing: "Medium"})
	}
	if s.Text != "" {
		out = append(out, textBlock(s.Text))
	}
	if len(s.Facts) > 0 {
		fs := Element{Type: "FactSet"}
		for _, f := range s.Facts {
			fs.Facts = append(fs.Facts, Fact{Title: noLinks(f.Label), Value: ownLinks(orDash(f.Value))})
		}
		out = append(out, fs)
	}
	if s.Table != nil && (len(s.Table.Columns) > 0 || len(s.Table.Rows) > 0) {
		if len(s.Table.Columns) > maxTableColumns {
			out = append(out, tableAsFacts(*s.Table)...)
		} else {
			out = append(out, renderTable(*s.Table))
		}
	}
	for _, f := range s.Findings {
		label, color := severityWords(f.Severity)
		items := []Element{{Type: "TextBlock", Text: label + ": " + noLinks(f.Title), Wrap: true, Weight: "Bolder", Color: color}}
		if f.Detail != "" {
			items = append(items, textBlock(f.Detail))
		}
		// Evidence comes one item a line; each line is its own TextBlock, because
		// Teams clients differ in how they show a single new line in markdown.
		for i, line := range strings.Split(strings.TrimSpace(f.Evidence), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			if i == 0 {
				line = "Evidence: " + line
			}
			ev := textBlock(line)
			ev.IsSubtle = true
			if i > 0 {
				ev.Spacing = "None"
			}
			items = append(items, ev)
		}
		out = append(out, Element{Type: "Container", Items: items, Spacing: "Medium", Separator: true})
	}
	if s.Note != "" {
		n := textBlock(s.Note)
		n.IsSubtle = true
		n.Size = "Small"
		out = append(out, n)
	}
	return out
}

// maxTableColumns: a Table of more columns is squeezed on a phone or in a channel's
// narrow card until words break, so wider tables become one FactSet per row.
const maxTableColumns = 3

// tableAsFacts shows each row as a FactSet of column name and value, rows separated
// by a line: readable at any width.
func tableAsFacts(t chat.Table) []Element {
	var out []Element
	for i, r := range t.Rows {
		fs := Element{Type: "FactSet", Separator: i > 0}
		for j, cell := range r {
			label := at(t.Columns, j)
			if label == "" {
				label = fmt.Sprintf("Column %d", j+1)
			}
			fs.Facts = append(fs.Facts, Fact{Title: noLinks(label), Value: ownLinks(orDash(cell))})
		}
		out = append(out, fs)
	}
	return out
}

// renderTable uses the 1.5 Table element, with a plain-text fallback for clients that
// cannot draw tables.
func renderTable(t chat.Table) Element {
	cell := func(s string, bold bool) Element {
		tb := textBlock(orDash(s))
		if bold {
			tb.Weight = "Bolder"
		}
		return Element{Type: "TableCell", Items: []Element{tb}}
	}
	n := len(t.Columns)
	for _, r := range t.Rows {
		n = max(n, len(r))
	}
	tbl := Element{Type: "Table", FirstRowAsHeader: len(t.Columns) > 0}
	for range n {
		tbl.Columns = append(tbl.Columns, Column{Width: 1})
	}
	var lines []string
	if len(t.Columns) > 0 {
		row := Element{Type: "TableRow"}
		for i := range n {
			row.Cells = append(row.Cells, cell(at(t.Columns, i), true))
		}
		tbl.Rows = append(tbl.Rows, row)
		lines = append(lines, strings.Join(t.Columns, " · "))
	}
	for _, r := range t.Rows {
		row := Element{Type: "TableRow"}
		for i := range n {
			row.Cells = append(row.Cells, cell(at(r, i), false))
		}
		tbl.Rows = append(tbl.Rows, row)
		lines = append(lines, strings.Join(r, " · "))
	}
	fb := textBlock(strings.Join(lines, "\n\n"))
	tbl.Fallback = fb
	return tbl
}

func at(l []string, i int) string {
	if i < len(l) {
		return l[i]
	}
	return ""
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "—"
	}
	return s
}

// approvalInputs is the justification box of an approval card. Deny needs it; Approve
// may carry it. It is not marked required, because Approve must work without it: Deny
// checks it server-side and, when it is empty, answers with this card and the error.
func approvalInputs(buttons []chat.Button) []Element {
	hasDeny := false
	for _, b := range buttons {
		hasDeny = hasDeny || b.Kind == chat.ButtonDeny
	}
	if !hasDeny {
		return nil
	}
	in := Element{Type: "Input.Text", ID: inputJustification, Label: "Justification (required to deny)", IsMultiline: true, MaxLength: 500,
		Placeholder: "Why approve or deny?"}
	return []Element{in}
}

func button(b chat.Button) Action {
	if a, ok := commandButton(b); ok {
		return a
	}
	data := map[string]any{"request": b.Value}
	switch b.Kind {
	case chat.ButtonApprove:
		return execute(b.Label, VerbApprove, "positive", "auto", data)
	case chat.ButtonDeny:
		return execute(b.Label, VerbDeny, "destructive", "auto", data)
	case chat.ButtonRetry:
		return execute(b.Label, VerbRetry, "positive", "auto", data)
	case chat.ButtonContinue:
		return execute(b.Label, VerbContinue, "positive", "auto", data)
	case chat.ButtonStop:
		return execute(b.Label, VerbStop, "destructive", "auto", data)
	}
	return execute(b.Label, string(b.Kind), "", "none", data)
}

// formState is what a request form submitted, to show it again with errors.
type formState struct {
	Reason, Verification, Detail, Ticket string
	Users                                string
}

// RenderForm renders the request form (reason, identity verification, ticket) as an
// Adaptive Card whose "Submit request" button is Action.Execute verb "submit". errs
// marks failing fields; prev refills what was typed.
func RenderForm(m chat.Message, f chat.Form, errs chat.FieldErrors, prev formState) Card {
	title := fmt.Sprintf("Request: %s %s", chat.FormVerb(f.Action), orDash(f.TargetLabel))
	if f.TargetLabel == "" {
		title = fmt.Sprintf("Request: %s %s", chat.FormVerb(f.Action), f.Target)
	}
	if chat.FormVerb(f.Action) == "attest" {
		title = "Can you vouch for " + orDash(f.TargetLabel) + "?"
	}
	c := newCard(orText(m.Text, title))
	c.Body = append(c.Body, Element{Type: "TextBlock", Text: noLinks(title), Wrap: true, Weight: "Bolder", Size: "Medium"})
	if f.Warning != "" {
		w := textBlock(f.Warning)
		w.Color = "warning"
		c.Body = append(c.Body, w)
	}
	if m.Text != "" && len(errs) > 0 {
		e := textBlock(m.Text)
		e.Color = "attention"
		c.Body = append(c.Body, e)
	}
	field := func(in Element) {
		if msg := errs[in.ID]; msg != "" {
			in.ErrorMessage = msg
			c.Body = append(c.Body, in)
			e := textBlock(msg)
			e.Color = "attention"
			e.Spacing = "None"
			c.Body = append(c.Body, e)
			return
		}
		c.Body = append(c.Body, in)
	}
	// Limits come with the form (chat.FormLimit); the router checks them again.
	lim := func(field string) chat.FieldLimit {
		if l, ok := f.Limits[field]; ok {
			return l
		}
		return chat.FormLimit(field)
	}
	reason, detail, ticket := lim("reason"), lim("verification_detail"), lim("ticket")
	if chat.FormVerb(f.Action) == "attest" {
		attestForm(&c, m, f, field, reason, prev)
		return c
	}
	if f.Users != nil {
		field(Element{Type: "Input.Text", ID: inputUsers, Label: "Users", IsRequired: true, ErrorMessage: "Paste at least one user.",
			Placeholder: fmt.Sprintf("One per line: UPN, mail or object id (at most %d characters)", f.Users.Max), IsMultiline: true, MaxLength: f.Users.Max, Value: prev.Users})
	}
	field(Element{Type: "Input.Text", ID: inputReason, Label: "Reason", IsRequired: true, ErrorMessage: "Give a reason of " + reason.Hint() + ".",
		Placeholder: "Why this is needed (" + reason.Hint() + ")", IsMultiline: true, MaxLength: reason.Max, Value: prev.Reason})
	if len(f.Verifications) > 0 {
		cs := Element{Type: "Input.ChoiceSet", ID: inputVerification, Label: "How was the user's identity verified?", IsRequired: true,
			ErrorMessage: "Choose how the identity was verified.", Style: "compact", Value: prev.Verification}
		for _, ch := range f.Verifications {
			cs.Choices = append(cs.Choices, Choice{Title: ch.Label, Value: ch.Value})
		}
		field(cs)
		field(Element{Type: "Input.Text", ID: inputVerifyDetail, Label: "Verification detail", Placeholder: "e.g. called back the number on record (" + detail.Hint() + ")",
			MaxLength: detail.Max, Value: prev.Detail})
	}
	field(Element{Type: "Input.Text", ID: inputTicket, Label: "Ticket id", IsRequired: true, ErrorMessage: "Give the ticket id (" + ticket.Hint() + ").",
		Placeholder: "e.g. INC0012345 (" + ticket.Hint() + ")", MaxLength: ticket.Max, Value: prev.Ticket})
	// The form's own definition rides along in its data, so that a refused submission
	// can show the form again; the router re-checks every value, so this is display only.
	data := map[string]any{"action": f.Action, "target": f.Target, "label": f.TargetLabel, "warning": f.Warning}
	if f.Users != nil {
		data["users_max"] = f.Users.Max
	}
	if len(f.Verifications) > 0 {
		var cs []Choice
		for _, ch := range f.Verifications {
			cs = append(cs, Choice{Title: ch.Label, Value: ch.Value})
		}
		data["choices"] = cs
	}
	c.Body = append(c.Body, Element{Type: "ActionSet", Actions: []Action{execute("Submit request", VerbSubmit, "positive", "auto", data)}})
	return c
}

// attestForm finishes the form of a manager asked to vouch for a user: the message,
// one field for how they verified it is them (the reason field and its limits),
// "Attest" and "This is not them".
// field appends to *c.
func attestForm(c *Card, m chat.Message, f chat.Form, field func(Element), reason chat.FieldLimit, prev formState) {
	if len(m.Sections) > 0 && m.Sections[0].Text != "" {
		c.Body = append(c.Body, textBlock(m.Sections[0].Text))
	}
	field(Element{Type: "Input.Text", ID: inputReason, Label: "How did you verify it is them?", IsRequired: true,
		ErrorMessage: "Say how, in " + reason.Hint() + ".", Placeholder: "e.g. saw her in person at desk 4 (" + reason.Hint() + ")",
		IsMultiline: true, MaxLength: reason.Max, Value: prev.Reason})
	acts := []Action{execute("Attest", VerbSubmit, "positive", "auto", map[string]any{"action": f.Action, "target": f.Target, "label": f.TargetLabel})}
	for _, b := range m.Buttons {
		if b.Kind == chat.ButtonNotMe {
			acts = append(acts, button(b))
		}
	}
	c.Body = append(c.Body, Element{Type: "ActionSet", Actions: acts})
}

func orText(s, alt string) string {
	if s != "" {
		return s
	}
	return alt
}

// withNote returns a copy of card with a line only the clicker sees (an invoke response
// is shown to the invoking user alone).
func withNote(c Card, note string, attention bool) Card {
	out := c
	out.Body = append([]Element(nil), c.Body...)
	tb := textBlock(note)
	if attention {
		tb.Color = "attention"
	}
	tb.Separator = true
	out.Body = append(out.Body, tb)
	return out
}

// withJustificationError returns the approval card again with an error under the
// justification box.
func withJustificationError(c Card, msg string) Card {
	out := c
	out.Body = nil
	for _, e := range c.Body {
		out.Body = append(out.Body, e)
		if e.Type == "Input.Text" && e.ID == inputJustification {
			er := textBlock(msg)
			er.Color = "attention"
			er.Spacing = "None"
			out.Body = append(out.Body, er)
		}
	}
	return out
}

func cardAttachment(c Card) outAttachment {
	return outAttachment{ContentType: CardContentType, Content: c}
}

func cardActivity(c Card, summary string) *outActivity {
	return &outActivity{Type: "message", Summary: clip(summary, 250), Attachments: []outAttachment{cardAttachment(c)}}
}

// mustJSON is for tests and logs of cards, which always marshal.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
