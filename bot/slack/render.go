package slack

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	goslack "github.com/slack-go/slack"

	textclip "github.com/mfadesk/mfadesk/actions/clip"
	"github.com/mfadesk/mfadesk/bot/chat"
)

// Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
const (
	maxMessageBlocks = 50
	maxModalBlocks   = 100
	maxSectionText   = 3000
	maxFieldText     = 2000
	maxFields        = 10
	maxHeaderText    = 150
	maxContextText   = 2000
	// maxTopText is far below Slack's 40,000: the top-level text is what screen
	// readers and notifications read, so it stays a summary.
	maxTopText = 3000
	// maxMessageChars keeps the whole message clear of msg_blocks_too_long, which
	// Slack has returned at about 13,000 characters even with every per-block limit
	// met (bolt-js#2509).
	maxMessageChars = 12000
	// tableRowsAsSections: up to this many rows, each row is its own section with
	// fields (a readable grid); more rows become one line each, packed into sections,
	// so a long sign-in list does not eat the block budget.
	tableRowsAsSections = 10
)

// Action ids of the approval card's buttons.
const (
	actionApprove = "mfa_approve"
	actionRetry   = "mfa_retry"
	actionDeny    = "mfa_deny"
	// Continue and Stop on a bulk run paused after its canary.
	actionContinue = "mfa_continue"
	actionStop     = "mfa_stop"
)

// mentionReplacer defuses broadcast mentions typed as plain words: Slack only
// broadcasts <!channel>, which escaping already prevents, but a zero-width joiner
// keeps "@channel" inert even if a future setting parsed it.
var mentionReplacer = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	"@channel", "@\u2060channel", "@here", "@\u2060here", "@everyone", "@\u2060everyone",
)

// esc makes user or directory text safe inside mrkdwn: &, < and > are Slack's
// control characters (they form links and mentions), and control characters other
// than new lines are dropped. mfadesk's own links (chat.LinkURLs) become Slack links;
// any other address stays as text.
func esc(s string) string {
	var b strings.Builder
	for _, sp := range chat.Spans(s) {
		if sp.Link {
			b.WriteString("<" + sp.Text + "|" + sp.Text + ">")
			continue
		}
		b.WriteString(escText(sp.Text))
	}
	return b.String()
}

func escText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	return mentionReplacer.Replace(s)
}

// plain cleans text for plain_text objects, which Slack shows literally.
func plain(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
}

// clipRunes shortens s to at most n code points (Slack counts code points), marking
// the cut with an ellipsis.
func clipRunes(s string, n int) string { return textclip.Runes(s, n) }

// clipEscaped escapes and then clips without cutting an entity such as &amp; or a
// link <url|text> in two.
func clipEscaped(s string, n int) string {
	e := esc(s)
	if utf8.RuneCountInString(e) <= n {
		return e
	}
	c := clipRunes(e, n)
	if i := strings.LastIndexByte(c, '&'); i >= 0 && !strings.Contains(c[i:], ";") {
		c = c[:i] + "…"
	}
	if i := strings.LastIndexByte(c, '<'); i >= 0 && !strings.Contains(c[i:], ">") {
		c = c[:i] + "…"
	}
	return c
}

func mrkdwn(s string) *goslack.TextBlockObject {
	return goslack.NewTextBlockObject(goslack.MarkdownType, s, false, true)
}

func plainText(s string, n int) *goslack.TextBlockObject {
	s = clipRunes(strings.TrimSpace(plain(s)), n)
	if s == "" {
		s = "—"
	}
	return goslack.NewTextBlockObject(goslack.PlainTextType, s, false, false)
}

// summaryText is a message's top-level text: the summary screen readers and
// notifications use.
func summaryText(m chat.Message) string {
	t := strings.TrimSpace(m.Text)
	if t == "" {
		t = strings.TrimSpace(m.Title)
	}
	if t == "" {
		t = "mfadesk"
	}
	return clipEscaped(t, maxTopText)
}

// blockBuilder adds blocks while keeping count and size inside Slack's limits; what
// does not fit is replaced by one note saying how much was left out.
type blockBuilder struct {
	blocks  []goslack.Block
	max     int
	chars   int
	dropped int
}

func newBlockBuilder(max int) *blockBuilder { return &blockBuilder{max: max} }

// add appends b if there is room, keeping one slot for the truncation note.
func (bb *blockBuilder) add(b goslack.Block, chars int) bool {
	if bb.dropped > 0 || len(bb.blocks) >= bb.max-1 || bb.chars+chars > maxMessageChars {
		bb.dropped++
		return false
	}
	bb.blocks = append(bb.blocks, b)
	bb.chars += chars
	return true
}

func (bb *blockBuilder) done() []goslack.Block {
	if bb.dropped > 0 {
		note := fmt.Sprintf("_%d more part(s) of this answer were left out to stay within Slack's message limits. Narrow the question (e.g. --last or --days) to see them._", bb.dropped)
		bb.blocks = append(bb.blocks, goslack.NewContextBlock("", mrkdwn(note)))
	}
	return bb.blocks
}

func (bb *blockBuilder) text(s string) {
	if strings.TrimSpace(s) == "" {
		return
	}
	for _, chunk := range chunkRunes(s, maxSectionText) {
		bb.add(goslack.NewSectionBlock(mrkdwn(chunk), nil, nil), utf8.RuneCountInString(chunk))
	}
}

func (bb *blockBuilder) fields(fs []*goslack.TextBlockObject) {
	for len(fs) > 0 {
		n := min(len(fs), maxFields)
		chars := 0
		for _, f := range fs[:n] {
			chars += utf8.RuneCountInString(f.Text)
		}
		bb.add(goslack.NewSectionBlock(nil, fs[:n], nil), chars)
		fs = fs[n:]
	}
}

func (bb *blockBuilder) context(s string) {
	s = clipRunes(s, maxContextText)
	bb.add(goslack.NewContextBlock("", mrkdwn(s)), utf8.RuneCountInString(s))
}

// chunkRunes splits s into pieces of at most n code points, preferring to cut at a
// line break and never cutting an escape entity such as &amp; in two.
func chunkRunes(s string, n int) []string {
	r := []rune(s)
	var out []string
	for len(r) > n {
		cut := n
		for i := n - 1; i > n/2; i-- {
			if r[i] == '\n' {
				cut = i
				break
			}
		}
		for i := cut - 1; i > 0 && i >= cut-6; i-- {
			if r[i] == ';' {
				break
			}
			if r[i] == '&' {
				cut = i
				break
			}
		}
		out = append(out, string(r[:cut]))
		r = r[cut:]
		if len(r) > 0 && r[0] == '\n' {
			r = r[1:]
		}
	}
	if strings.TrimSpace(string(r)) != "" {
		out = append(out, string(r))
	}
	return out
}

// severityWord says a finding's severity in words, so it does not rest on an emoji
// or a colour alone.
func severityWord(s chat.Severity) (emoji, word string) {
	switch s {
	case chat.SeverityProblem:
		return ":red_circle:", "Problem"
	case chat.SeverityWarning:
		return ":warning:", "Warning"
	default:
		return ":information_source:", "Info"
	}
}

func fieldText(label, value string) *goslack.TextBlockObject {
	l := clipEscaped(strings.TrimSpace(label), 200)
	v := strings.TrimSpace(value)
	if v == "" {
		v = "—"
	}
	body := clipEscaped(v, maxFieldText-utf8.RuneCountInString(l)-8)
	if l == "" {
		return mrkdwn(body)
	}
	return mrkdwn("*" + l + "*\n" + body)
}

// renderOptions says where the blocks go.
type renderOptions struct {
	maxBlocks int
	title     bool // a header block for Title (messages); modals carry it in the view title
	buttons   bool // approval buttons (only on approval cards)
	// commands: File and Cancel buttons, on private answers that have a response_url
	// to answer the click through (not in modals).
	commands bool
}

// renderBlocks turns a bot message into Block Kit.
func renderBlocks(m chat.Message, o renderOptions) []goslack.Block {
	bb := newBlockBuilder(o.maxBlocks)
	if o.title && strings.TrimSpace(m.Title) != "" {
		h := plainText(m.Title, maxHeaderText)
		bb.add(goslack.NewHeaderBlock(h), utf8.RuneCountInString(h.Text))
	}
	if len(m.Sections) == 0 || m.Refusal {
		t := esc(strings.TrimSpace(m.Text))
		if m.Refusal {
			t = ":no_entry: " + t
		}
		if strings.TrimSpace(t) != "" {
			bb.text(t)
		}
	}
	for _, s := range m.Sections {
		renderSection(bb, s)
	}
	if (o.buttons || o.commands) && len(m.Buttons) > 0 {
		renderButtons(bb, m, o)
	}
	return bb.done()
}

func renderSection(bb *blockBuilder, s chat.Section) {
	var head string
	if h := strings.TrimSpace(s.Heading); h != "" {
		head = "*" + clipEscaped(h, 200) + "*"
	}
	switch t := strings.TrimSpace(s.Text); {
	case t != "":
		if head != "" {
			head += "\n"
		}
		bb.text(head + esc(t))
	case head != "":
		bb.text(head)
	}
	if len(s.Facts) > 0 {
		fs := make([]*goslack.TextBlockObject, 0, len(s.Facts))
		for _, f := range s.Facts {
			fs = append(fs, fieldText(f.Label, f.Value))
		}
		bb.fields(fs)
	}
	if s.Table != nil {
		renderTable(bb, s.Table)
	}
	for _, f := range s.Findings {
		emoji, word := severityWord(f.Severity)
		var b strings.Builder
		fmt.Fprintf(&b, "%s *%s:* %s", emoji, word, clipEscaped(f.Title, 300))
		if d := strings.TrimSpace(f.Detail); d != "" {
			b.WriteString("\n" + clipEscaped(d, 1500))
		}
		if e := strings.TrimSpace(f.Evidence); e != "" {
			b.WriteString("\n_Evidence:_ " + clipEscaped(e, 1000))
		}
		bb.text(b.String())
	}
	if n := strings.TrimSpace(s.Note); n != "" {
		bb.context("_Note:_ " + clipEscaped(n, maxContextText-10))
	}
}

// renderTable shows a table as sections, not as columns that a phone would squeeze:
// a section with one labelled field per column for each row (Slack lays fields out
// two abreast, one per line on a narrow screen), or, for long tables, one line per row.
func renderTable(bb *blockBuilder, t *chat.Table) {
	if len(t.Rows) == 0 {
		bb.text("_No entries._")
		return
	}
	if len(t.Rows) <= tableRowsAsSections {
		for _, row := range t.Rows {
			var fs []*goslack.TextBlockObject
			for i, cell := range row {
				label := ""
				if i < len(t.Columns) {
					label = t.Columns[i]
				}
				if len(fs) == maxFields-1 && i < len(row)-1 {
					// Fold what does not fit into the last field.
					rest := make([]string, 0, len(row)-i)
					for j := i; j < len(row); j++ {
						rest = append(rest, colLabel(t, j)+": "+row[j])
					}
					fs = append(fs, fieldText("More", strings.Join(rest, "; ")))
					break
				}
				fs = append(fs, fieldText(label, cell))
			}
			if len(fs) > 0 {
				bb.fields(fs)
			}
		}
		return
	}
	var lines []string
	for _, row := range t.Rows {
		var parts []string
		for i, cell := range row {
			cell = strings.TrimSpace(cell)
			if cell == "" {
				cell = "—"
			}
			if i == 0 {
				parts = append(parts, "*"+clipEscaped(cell, 200)+"*")
				continue
			}
			parts = append(parts, clipEscaped(colLabel(t, i), 60)+": "+clipEscaped(cell, 300))
		}
		lines = append(lines, "• "+strings.Join(parts, " · "))
	}
	// Pack lines into sections without splitting a row across two.
	var cur strings.Builder
	for _, l := range lines {
		if cur.Len() > 0 && utf8.RuneCountInString(cur.String())+1+utf8.RuneCountInString(l) > maxSectionText {
			bb.text(cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte('\n')
		}
		cur.WriteString(clipRunes(l, maxSectionText))
	}
	if cur.Len() > 0 {
		bb.text(cur.String())
	}
}

func colLabel(t *chat.Table, i int) string {
	if i < len(t.Columns) {
		return t.Columns[i]
	}
	return fmt.Sprintf("Column %d", i+1)
}

// renderButtons adds Approve / Deny. The values are the request id only, never the
// action or the target: a click is a lookup key, and the router decides. The block id
// is new on every rendering because Slack asks for a fresh block_id when a message
// is updated.
func renderButtons(bb *blockBuilder, m chat.Message, o renderOptions) {
	var els []goslack.BlockElement
	for _, b := range m.Buttons {
		if b.Kind == chat.ButtonFile || b.Kind == chat.ButtonCancel {
			if el := commandButton(b); el != nil && o.commands {
				els = append(els, el)
			}
			continue
		}
		if !o.buttons || !validRequestID(b.Value) {
			continue
		}
		switch b.Kind {
		case chat.ButtonApprove:
			label := orDefault(b.Label, "Approve")
			btn := goslack.NewButtonBlockElement(actionApprove, b.Value, plainText(label, 75)).WithStyle(goslack.StylePrimary)
			btn.AccessibilityLabel = clipRunes("Approve request "+b.Value, 75)
			btn.Confirm = goslack.NewConfirmationBlockObject(
				plainText("Approve this request?", 100),
				plainText("mfadesk will carry out request "+b.Value+" in Microsoft Entra ID as soon as you confirm. "+m.Text, 300),
				plainText("Approve and run", 30),
				plainText("Cancel", 30),
			)
			els = append(els, btn)
		case chat.ButtonRetry:
			btn := goslack.NewButtonBlockElement(actionRetry, b.Value, plainText(orDefault(b.Label, "Retry"), 75))
			btn.AccessibilityLabel = clipRunes("Retry request "+b.Value, 75)
			btn.Confirm = goslack.NewConfirmationBlockObject(plainText("Retry this request?", 100),
				plainText("mfadesk will check request "+b.Value+" again and carry it out in Microsoft Entra ID.", 300),
				plainText("Retry", 30), plainText("Cancel", 30))
			els = append(els, btn)
		case chat.ButtonContinue:
			btn := goslack.NewButtonBlockElement(actionContinue, b.Value, plainText(orDefault(b.Label, "Continue"), 75)).WithStyle(goslack.StylePrimary)
			btn.AccessibilityLabel = clipRunes("Continue the run of request "+b.Value, 75)
			btn.Confirm = goslack.NewConfirmationBlockObject(plainText("Run the remaining users?", 100),
				plainText("mfadesk will re-register the remaining users of request "+b.Value+" in Microsoft Entra ID.", 300),
				plainText("Continue", 30), plainText("Cancel", 30))
			els = append(els, btn)
		case chat.ButtonStop:
			btn := goslack.NewButtonBlockElement(actionStop, b.Value, plainText(orDefault(b.Label, "Stop"), 75)).WithStyle(goslack.StyleDanger)
			btn.AccessibilityLabel = clipRunes("Stop the run of request "+b.Value, 75)
			els = append(els, btn)
		case chat.ButtonDeny:
			label := orDefault(b.Label, "Deny")
			btn := goslack.NewButtonBlockElement(actionDeny, b.Value, plainText(label, 75))
			btn.AccessibilityLabel = clipRunes("Deny request "+b.Value+" (asks for a reason)", 75)
			els = append(els, btn)
		}
	}
	if len(els) == 0 {
		return
	}
	bb.add(goslack.NewActionBlock("mfa_decide_"+randomHex(6), els...), 40)
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
