package slack

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Callback ids of mfadesk's modals.
const (
	callbackRequest = "mfa_request"
	callbackDeny    = "mfa_deny"
	callbackInfo    = "mfa_info"
)

// Block ids of the request form. They are the field names of chat.FieldErrors, so the
// router's errors land on the right block (Slack shows response_action errors only
// when keyed by an input block's block_id).
const (
	fieldReason       = "reason"
	fieldVerification = "verification"
	fieldDetail       = "verification_detail"
	fieldTicket       = "ticket"
	fieldJustify      = "justification"
	// fieldUsers is a bulk form's pasted list (reregister --list).
	fieldUsers  = "users"
	inputAction = "value"
)

// The router's limits (chat.FormLimit): the form refuses more as it is typed, and
// shows them in each field's hint.
var (
	limReason = chat.FormLimit("reason")
	limDetail = chat.FormLimit("verification_detail")
	limTicket = chat.FormLimit("ticket")
	maxReason = limReason.Max
	maxDetail = limDetail.Max
	maxTicket = limTicket.Max
)

// Limits of the form's fields.
const (
	maxJustify = 1000
	// maxMetadata is Slack's private_metadata limit.
	maxMetadata = 3000
	// metaMaxAge bounds how long an opened form stays valid: long enough to fill it in
	// while on the phone with the user, short enough that a form left open overnight
	// does not file a request about a situation that has changed.
	metaMaxAge = time.Hour
)

// Kinds of form metadata.
const (
	metaRequest = "request"
	metaDeny    = "deny"
)

// formMeta travels in a modal's private_metadata, signed: it says what the form is
// for (action and target, or the request being denied), who opened it, and where to
// answer. The view_submission payload is checked against it, so a submission cannot
// change the action or the target, or be made by someone else.
type formMeta struct {
	Kind        string       `json:"k"`
	User        string       `json:"u"`
	Issued      int64        `json:"t"`
	Action      string       `json:"a,omitempty"`
	Target      string       `json:"g,omitempty"`
	Label       string       `json:"l,omitempty"`
	Warning     string       `json:"w,omitempty"`
	Choices     []metaChoice `json:"c,omitempty"`
	RequestID   string       `json:"id,omitempty"`
	Channel     string       `json:"ch,omitempty"`
	MessageTs   string       `json:"ts,omitempty"` // deny: the ts of the card Deny was clicked on
	ResponseURL string       `json:"r,omitempty"`
	// UsersMax, on a bulk form opened with reregister --list, is the users field's
	// limit in characters (a plain_text_input holds at most 3000).
	UsersMax int `json:"um,omitempty"`
}

type metaChoice struct {
	Value string `json:"v"`
	Label string `json:"l"`
}

var errMetadata = errors.New("form metadata is missing, malformed or not signed by this app")

func metaMAC(key []byte, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("mfadesk modal v1\n"))
	m.Write(payload)
	return m.Sum(nil)
}

// encodeMeta signs m as "v1.<mac>.<json>", shrinking optional parts until it fits
// Slack's 3000 characters.
func encodeMeta(key []byte, m formMeta) (string, error) {
	for step := 0; ; step++ {
		b, err := json.Marshal(m)
		if err != nil {
			return "", fmt.Errorf("encode form metadata: %w", err)
		}
		s := "v1." + base64.RawURLEncoding.EncodeToString(metaMAC(key, b)) + "." + string(b)
		if utf8.RuneCountInString(s) <= maxMetadata {
			return s, nil
		}
		switch step {
		case 0:
			m.Warning = ""
		case 1:
			for i := range m.Choices {
				m.Choices[i].Label = clipRunes(m.Choices[i].Label, 40)
			}
			m.Label = clipRunes(m.Label, 120)
		case 2:
			m.ResponseURL, m.Channel = "", ""
		default:
			return "", errors.New("encode form metadata: too large for private_metadata")
		}
	}
}

// decodeMeta checks the signature and age of private_metadata and decodes it.
func decodeMeta(key []byte, s string, now time.Time) (formMeta, error) {
	rest, ok := strings.CutPrefix(s, "v1.")
	if !ok || len(s) > maxMetadata*4 {
		return formMeta{}, errMetadata
	}
	macText, payload, ok := strings.Cut(rest, ".")
	if !ok {
		return formMeta{}, errMetadata
	}
	mac, err := base64.RawURLEncoding.DecodeString(macText)
	if err != nil || len(mac) != sha256.Size {
		return formMeta{}, errMetadata
	}
	if !hmac.Equal(mac, metaMAC(key, []byte(payload))) {
		return formMeta{}, errMetadata
	}
	var m formMeta
	dec := json.NewDecoder(bytes.NewReader([]byte(payload)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || dec.More() {
		return formMeta{}, errMetadata
	}
	issued := time.Unix(m.Issued, 0)
	if now.Sub(issued) > metaMaxAge || issued.Sub(now) > signatureWindow {
		return formMeta{}, errors.New("the form is more than an hour old")
	}
	switch m.Kind {
	case metaRequest:
		if m.Action == "" || m.Target == "" {
			return formMeta{}, errMetadata
		}
	case metaDeny:
		if !validRequestID(m.RequestID) {
			return formMeta{}, errMetadata
		}
	case metaAttest:
		if chat.FormVerb(m.Action) != "attest" {
			return formMeta{}, errMetadata
		}
	default:
		return formMeta{}, errMetadata
	}
	if !validID(m.User, "UW") {
		return formMeta{}, errMetadata
	}
	return m, nil
}

func actionTitle(action string) string {
	switch chat.FormVerb(action) {
	case "reregister":
		return "Re-register MFA"
	case "revoke":
		return "Revoke sessions"
	case "tap":
		return "Temporary Access Pass"
	}
	return "mfadesk request"
}

// submission is what a request form sends back.
type submission struct {
	Reason, Verification, Detail, Ticket string
	Users                                string
}

// readSubmission takes the form's values from a view_submission's state.
func readSubmission(v goslack.View) submission {
	get := func(block string) goslack.BlockAction {
		if v.State == nil {
			return goslack.BlockAction{}
		}
		return v.State.Values[block][inputAction]
	}
	return submission{
		Reason:       strings.TrimSpace(get(fieldReason).Value),
		Verification: strings.TrimSpace(get(fieldVerification).SelectedOption.Value),
		Detail:       strings.TrimSpace(get(fieldDetail).Value),
		Ticket:       strings.TrimSpace(get(fieldTicket).Value),
		Users:        strings.TrimSpace(get(fieldUsers).Value),
	}
}

func readJustification(v goslack.View) string {
	if v.State == nil {
		return ""
	}
	return strings.TrimSpace(v.State.Values[fieldJustify][inputAction].Value)
}

// validateSubmission is the quick check done before the ack, so the common mistakes
// are shown on their block at once. The router checks again with its policy.
func validateSubmission(m formMeta, s submission) chat.FieldErrors {
	errs := chat.FieldErrors{}
	if m.UsersMax > 0 {
		switch n := utf8.RuneCountInString(s.Users); {
		case n == 0:
			errs[fieldUsers] = "Paste at least one user: UPN, mail or object id."
		case n > m.UsersMax:
			errs[fieldUsers] = fmt.Sprintf("A pasted list may take at most %d characters here; for more users, use --group.", m.UsersMax)
		}
	}
	switch {
	case s.Reason == "":
		errs[fieldReason] = "Say why this is needed."
	case utf8.RuneCountInString(s.Reason) > maxReason:
		errs[fieldReason] = fmt.Sprintf("Keep the reason to at most %d characters.", maxReason)
	}
	if len(m.Choices) > 0 {
		known := false
		for _, c := range m.Choices {
			known = known || c.Value == s.Verification
		}
		if !known {
			errs[fieldVerification] = "Choose how you verified the user's identity."
		}
	}
	switch {
	case s.Detail == "":
		errs[fieldDetail] = "Describe the identity check: what was seen, or who attested."
	case utf8.RuneCountInString(s.Detail) > maxDetail:
		errs[fieldDetail] = fmt.Sprintf("Keep the detail to at most %d characters.", maxDetail)
	}
	switch {
	case s.Ticket == "":
		errs[fieldTicket] = "Give the ticket id."
	case utf8.RuneCountInString(s.Ticket) > maxTicket || strings.ContainsFunc(s.Ticket, func(r rune) bool { return r < ' ' }):
		errs[fieldTicket] = fmt.Sprintf("A ticket id is one line of at most %d characters.", maxTicket)
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// viewErrors keeps only errors Slack can show (keyed by an input block of this form)
// and clips them; anything else would make Slack show "trouble connecting".
func viewErrors(m formMeta, errs chat.FieldErrors) map[string]string {
	out := map[string]string{}
	for k, v := range errs {
		switch k {
		case fieldReason, fieldDetail, fieldTicket:
		case fieldUsers:
			if m.UsersMax == 0 {
				continue
			}
		case fieldVerification:
			if len(m.Choices) == 0 {
				continue
			}
		default:
			continue
		}
		out[k] = clipRunes(plain(v), 150)
	}
	return out
}

func modal(title, callback, meta string, blocks []goslack.Block, submit, close string) goslack.ModalViewRequest {
	v := goslack.ModalViewRequest{
		Type:            goslack.VTModal,
		Title:           plainText(title, 24),
		Blocks:          goslack.Blocks{BlockSet: blocks},
		CallbackID:      callback,
		PrivateMetadata: meta,
		Close:           plainText(close, 24),
	}
	if submit != "" {
		v.Submit = plainText(submit, 24)
	}
	return v
}

// requestView is the request form. On a re-render after the router refused fields,
// values keeps what was typed and errs is shown under each failing block.
func requestView(m formMeta, meta string, values submission, errs chat.FieldErrors) goslack.ModalViewRequest {
	var blocks []goslack.Block
	head := "*User:* " + clipEscaped(orDefault(m.Label, m.Target), 500)
	if w := strings.TrimSpace(m.Warning); w != "" {
		head += "\n:warning: *What this does:* " + clipEscaped(w, 1500)
	}
	blocks = append(blocks, goslack.NewSectionBlock(mrkdwn(head), nil, nil))
	shown := viewErrors(m, errs)
	if len(errs) > 0 {
		msg := "Please fix the fields marked below."
		for k, v := range errs {
			if _, ok := shown[k]; !ok {
				msg += " " + clipRunes(v, 300)
			}
		}
		blocks = append(blocks, goslack.NewContextBlock("", mrkdwn(":warning: "+esc(msg))))
	}
	fieldError := func(block string) {
		if e, ok := shown[block]; ok {
			blocks = append(blocks, goslack.NewContextBlock("", mrkdwn(":warning: *Error:* "+esc(e))))
		}
	}

	if m.UsersMax > 0 {
		users := goslack.NewPlainTextInputBlockElement(plainText("one per line: UPN, mail or object id", 150), inputAction).
			WithMultiline(true).WithMaxLength(min(m.UsersMax, 3000))
		if values.Users != "" {
			users.InitialValue = clipRunes(values.Users, min(m.UsersMax, 3000))
		}
		blocks = append(blocks, goslack.NewInputBlock(fieldUsers, plainText("Users", 2000),
			plainText(fmt.Sprintf("At most %d characters (about %d object ids); for more, use --group.", m.UsersMax, m.UsersMax/37), 2000), users))
		fieldError(fieldUsers)
	}
	reason := goslack.NewPlainTextInputBlockElement(plainText("e.g. lost phone, locked out since Monday", 150), inputAction).
		WithMultiline(true).WithMinLength(limReason.Min).WithMaxLength(maxReason)
	if values.Reason != "" {
		reason.InitialValue = clipRunes(values.Reason, maxReason)
	}
	blocks = append(blocks, goslack.NewInputBlock(fieldReason, plainText("Reason", 2000), plainText("Why this is needed. The approver sees it. "+capitalFirst(limReason.Hint())+".", 2000), reason))
	fieldError(fieldReason)

	if len(m.Choices) > 0 {
		var opts []*goslack.OptionBlockObject
		var initial *goslack.OptionBlockObject
		for _, c := range m.Choices {
			if c.Value == "" || len(c.Value) > 75 || len(opts) == 100 {
				continue
			}
			o := goslack.NewOptionBlockObject(c.Value, plainText(orDefault(c.Label, c.Value), 75), nil)
			opts = append(opts, o)
			if c.Value == values.Verification {
				initial = o
			}
		}
		sel := goslack.NewOptionsSelectBlockElement(goslack.OptTypeStatic, plainText("Choose a method", 150), inputAction, opts...)
		if initial != nil {
			sel.InitialOption = initial
		}
		blocks = append(blocks, goslack.NewInputBlock(fieldVerification, plainText("How did you verify the user's identity?", 2000), nil, sel))
		fieldError(fieldVerification)
	}

	detail := goslack.NewPlainTextInputBlockElement(plainText("e.g. video call, photo ID matched to HR record", 150), inputAction).
		WithMultiline(true).WithMinLength(limDetail.Min).WithMaxLength(maxDetail)
	if values.Detail != "" {
		detail.InitialValue = clipRunes(values.Detail, maxDetail)
	}
	blocks = append(blocks, goslack.NewInputBlock(fieldDetail, plainText("Verification detail", 2000), plainText("What exactly you checked. The approver sees it. "+capitalFirst(limDetail.Hint())+".", 2000), detail))
	fieldError(fieldDetail)

	ticket := goslack.NewPlainTextInputBlockElement(plainText("e.g. INC0012345", 150), inputAction).WithMaxLength(maxTicket)
	if values.Ticket != "" {
		ticket.InitialValue = clipRunes(values.Ticket, maxTicket)
	}
	blocks = append(blocks, goslack.NewInputBlock(fieldTicket, plainText("Ticket id", 2000), plainText("Your ticket system's id: "+limTicket.Hint()+".", 2000), ticket))
	fieldError(fieldTicket)

	return modal(actionTitle(m.Action), callbackRequest, meta, blocks, "File request", "Cancel")
}

// denyView asks for the reason of a denial: the requester is told it.
func denyView(m formMeta, meta string) goslack.ModalViewRequest {
	intro := goslack.NewSectionBlock(mrkdwn("You are denying request *"+esc(m.RequestID)+"*. Say why: the requester is told, and the reason is audited."), nil, nil)
	in := goslack.NewPlainTextInputBlockElement(plainText("e.g. identity not verified well enough", 150), inputAction).
		WithMultiline(true).WithMaxLength(maxJustify)
	block := goslack.NewInputBlock(fieldJustify, plainText("Reason for denying", 2000), nil, in)
	return modal("Deny request", callbackDeny, meta, []goslack.Block{intro, block}, "Deny", "Cancel")
}

// infoView is a modal that only shows text (loading, result, refusal).
func infoView(title string, msg chat.Message) goslack.ModalViewRequest {
	blocks := renderBlocks(msg, renderOptions{maxBlocks: maxModalBlocks})
	if len(blocks) == 0 {
		blocks = []goslack.Block{goslack.NewSectionBlock(mrkdwn(summaryText(msg)), nil, nil)}
	}
	return modal(title, callbackInfo, "", blocks, "", "Close")
}

func loadingView(title string) goslack.ModalViewRequest {
	return infoView(title, chat.Message{Text: ":hourglass_flowing_sand: Checking your rights and the user in the directory…"})
}

func choicesOf(f *chat.Form) []metaChoice {
	out := make([]metaChoice, 0, len(f.Verifications))
	for _, c := range f.Verifications {
		out = append(out, metaChoice{Value: c.Value, Label: c.Label})
	}
	return out
}

// capitalFirst starts a hint with a capital letter.
func capitalFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
