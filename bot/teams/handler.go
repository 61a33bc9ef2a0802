package teams

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Router is the inbound chat contract every adapter calls; *bot.Router implements it.
type Router = chat.Handler

// InvokeResponse is the body of the HTTP response to an adaptiveCard/action invoke.
// It is the AdaptiveCardInvokeResponse itself, not wrapped in another object (wrapping
// makes Teams show "Something went wrong").
type InvokeResponse struct {
	StatusCode int    `json:"statusCode"`
	Type       string `json:"type"`
	Value      any    `json:"value"`
}

const (
	typeMessage = "application/vnd.microsoft.activity.message"
	typeError   = "application/vnd.microsoft.error"
)

func cardResponse(c Card) InvokeResponse {
	return InvokeResponse{StatusCode: http.StatusOK, Type: CardContentType, Value: c}
}

func messageResponse(text string) InvokeResponse {
	return InvokeResponse{StatusCode: http.StatusOK, Type: typeMessage, Value: text}
}

func errorResponse(status int, code, msg string) InvokeResponse {
	return InvokeResponse{StatusCode: status, Type: typeError, Value: map[string]string{"code": code, "message": msg}}
}

// Handler returns the Bot Framework endpoint to mount at POST /api/messages.
func (a *Adapter) Handler(r Router) http.Handler {
	return &handler{a: a, r: r, flights: newFlights(1024)}
}

type handler struct {
	a       *Adapter
	r       Router
	flights *flights
}

func (h *handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx := req.Context()
	log := h.a.log
	// Authenticate first, before reading the body. Reasons are logged, never sent back,
	// and the Authorization header itself is never logged.
	tok, err := h.a.auth.verify(ctx, req.Header.Get("Authorization"))
	if err != nil {
		h.refuse(ctx, w, err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, h.a.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "activity too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read activity", http.StatusBadRequest)
		return
	}
	act, err := DecodeActivity(body)
	if err != nil {
		log.InfoContext(ctx, "teams: refused undecodable activity", "err", err)
		http.Error(w, "bad activity", http.StatusBadRequest)
		return
	}
	if err := tok.bind(act); err != nil {
		h.refuse(ctx, w, err)
		return
	}
	if tenant := act.TenantID(); !strings.EqualFold(tenant, h.a.opts.TenantID) {
		h.refuse(ctx, w, forbidden("activity from another tenant", errors.New("tenant "+clip(tenant, 64))))
		return
	}
	// Replies go to the activity's serviceUrl: it must be a connector we know, whatever
	// the token says, or the answer (and the bot's bearer token) would go elsewhere.
	if _, err := h.a.conn.urls.check(act.ServiceURL); err != nil {
		h.refuse(ctx, w, forbidden("serviceUrl is not on the allow-list", err))
		return
	}
	switch act.Type {
	case "message":
		// Acknowledge at once and answer through the connector: a lookup can take
		// longer than the connector waits for the HTTP answer (about 15 s), and a late
		// answer makes it retry the message.
		h.a.msgs.Add(1)
		go func() {
			defer h.a.msgs.Done()
			bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.a.opts.ProcessTimeout)
			defer cancel()
			h.onMessage(bg, act)
		}()
		w.WriteHeader(http.StatusOK)
	case "invoke":
		if act.Name != "adaptiveCard/action" {
			log.InfoContext(ctx, "teams: unsupported invoke", "name", clip(act.Name, 64))
			http.Error(w, "not implemented", http.StatusNotImplemented)
			return
		}
		writeJSON(w, h.onCardAction(ctx, act))
	default:
		// conversationUpdate, installationUpdate, messageReaction, typing, …: nothing to
		// do, but the ids help an operator configure the approvals and audit channels.
		cd := act.Teams()
		log.InfoContext(ctx, "teams: activity ignored", "type", clip(string(act.Type), 40), "event", clip(cd.EventType, 40),
			"team", cd.Team.ID, "channel", cd.Channel.ID, "conversation", act.Conversation.ID, "service_url", act.ServiceURL)
		w.WriteHeader(http.StatusOK)
	}
}

func (h *handler) refuse(ctx context.Context, w http.ResponseWriter, err error) {
	status := http.StatusUnauthorized
	reason := err.Error()
	var ae *AuthError
	if errors.As(err, &ae) {
		status, reason = ae.Status, ae.Error()
	}
	h.a.log.WarnContext(ctx, "teams: refused request", "status", status, "reason", reason)
	http.Error(w, http.StatusText(status), status)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// callerOf is the caller of a validated activity of our tenant.
func callerOf(a *Activity) chat.Caller {
	return chat.Caller{Platform: chat.PlatformTeams, ChatID: a.From.ID, Name: a.From.Name, ObjectID: a.From.AadObjectID}
}

func (h *handler) onMessage(ctx context.Context, act *Activity) {
	if v := act.ValueObject(); v != nil {
		if verb := str(v[dataVerbKey]); verb != "" {
			h.onSubmitFallback(ctx, act, verb, v)
			return
		}
	}
	if len(act.Value) > 0 && string(act.Value) != "null" {
		// A click on a card we did not send (messageBack, imBack with data, a string
		// value): its text is not a command someone typed.
		h.a.log.InfoContext(ctx, "teams: ignored a card click that is not ours", "conversation", act.Conversation.ID)
		return
	}
	msg := h.r.Handle(ctx, chat.Event{Caller: callerOf(act), Text: act.CommandText()})
	h.reply(ctx, act, msg)
}

// reply answers a message. In a 1:1 chat it replies there. In a channel or group chat,
// private answers (lookups hold personal data) and forms (Action.Execute in channels
// may not send input values, msteams-docs#9291) go to a 1:1 chat with the caller, and
// the thread gets only a one-line pointer with no data in it.
func (h *handler) reply(ctx context.Context, act *Activity, msg chat.Message) {
	out := renderActivity(msg)
	if act.Personal() || !(msg.Private || msg.Form != nil) {
		out.ReplyToID = act.ID
		if _, err := h.a.conn.sendActivity(ctx, act.ServiceURL, act.Conversation.ID, out); err != nil {
			h.a.log.WarnContext(ctx, "teams: reply", "conversation", act.Conversation.ID, "err", err)
		}
		return
	}
	note := "I've answered you in our 1:1 chat."
	if _, err := h.a.sendPersonal(ctx, act.ServiceURL, outAccount{ID: act.From.ID, AadObjectID: act.From.AadObjectID}, out); err != nil {
		h.a.log.WarnContext(ctx, "teams: private reply", "err", err)
		note = "I could not message you privately, so I won't answer here. Open a 1:1 chat with me and try again there."
	}
	pointer := &outActivity{Type: "message", Text: note, TextFormat: "plain", ReplyToID: act.ID}
	if _, err := h.a.conn.sendActivity(ctx, act.ServiceURL, act.Conversation.ID, pointer); err != nil {
		h.a.log.WarnContext(ctx, "teams: reply", "conversation", act.Conversation.ID, "err", err)
	}
}

// cardAction is what a card click asks for, from either an Action.Execute invoke or an
// Action.Submit message: its verb and data merged with the card's inputs.
type cardAction struct {
	verb string
	data map[string]json.RawMessage
}

func invokeAction(act *Activity) (cardAction, bool) {
	v := act.ValueObject()
	var a struct {
		Type string                     `json:"type"`
		Verb string                     `json:"verb"`
		Data map[string]json.RawMessage `json:"data"`
	}
	if v == nil || json.Unmarshal(v["action"], &a) != nil || a.Type != "Action.Execute" {
		return cardAction{}, false
	}
	return cardAction{verb: a.Verb, data: a.Data}, true
}

// onCardAction answers an adaptiveCard/action invoke. The answer must come fast: Teams
// retries an invoke it gets no answer to, so the work runs in its own goroutine, keyed
// by the invoke's activity id. A retry of the same invoke joins that work instead of
// starting it again, and a retry after it finished gets the card as it now is.
func (h *handler) onCardAction(ctx context.Context, act *Activity) InvokeResponse {
	ca, ok := invokeAction(act)
	if !ok {
		return errorResponse(http.StatusBadRequest, "BadRequest", "not an Action.Execute")
	}
	switch {
	case isTargetVerb(ca.verb):
		if !h.targetValueOK(ca) {
			return messageResponse(notTargetButton)
		}
	case ca.verb == VerbSubmit, ca.verb == VerbApprove, ca.verb == VerbDeny, ca.verb == VerbRetry, ca.verb == VerbContinue, ca.verb == VerbStop, ca.verb == VerbFile, ca.verb == VerbCancel:
	default:
		return errorResponse(http.StatusBadRequest, "BadRequest", "unknown action")
	}
	key := cardKey(act.Conversation.ID, act.ID)
	f, first := h.flights.begin(key)
	if first {
		h.a.wg.Add(1)
		go func() {
			defer h.a.wg.Done()
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.a.opts.ProcessTimeout)
			defer cancel()
			resp, ans := h.runAction(wctx, act, ca)
			if f.finish(resp) {
				// The invoke was answered "working on it": the answer goes out now.
				h.deliverLate(wctx, act, ca, resp, ans)
			}
		}()
	}
	timer := time.NewTimer(h.a.opts.InvokeWait)
	defer timer.Stop()
	select {
	case <-f.done:
		if !first && ca.verb != VerbSubmit {
			if c, ok := h.a.cards.get(act.Conversation.ID, act.ReplyToID); ok {
				return cardResponse(c)
			}
		}
		return f.resp
	case <-timer.C:
	case <-ctx.Done():
	}
	if resp, done := f.answeredEarly(); done {
		return resp // finished while the timer fired
	}
	// Still working: show the card as it is now; the PUT at the end updates everyone,
	// and deliverLate tells the clicker what the invoke answer could not.
	if ca.verb != VerbSubmit {
		if c, ok := h.a.cards.get(act.Conversation.ID, act.ReplyToID); ok {
			return cardResponse(withNote(c, "Working on it; this card will update.", false))
		}
	}
	return messageResponse("Working on it; you'll get the answer shortly.")
}

// runAction does the work of a click; it returns the invoke answer and, for Approve
// and Deny, the router's answer to the clicker.
func (h *handler) runAction(ctx context.Context, act *Activity, ca cardAction) (InvokeResponse, chat.Message) {
	if ca.verb == VerbSubmit {
		return cardResponse(h.submitForm(ctx, act, ca.data)), chat.Message{}
	}
	if commandVerbs[ca.verb] != "" {
		return h.runCommand(ctx, act, ca)
	}
	if isTargetVerb(ca.verb) {
		return h.runTarget(ctx, act, ca)
	}
	card, ok, ans := h.decide(ctx, act, ca)
	if ok {
		return cardResponse(card), ans
	}
	return messageResponse(ans.Text), ans
}

// deliverLate sends what an invoke answered "working on it" could not: the form's
// result (the request id, or the refusal, or the form with its errors) replaces the
// form card, and a refused decision is told to the clicker in a 1:1 chat. A decision
// that went through needs nothing more: the card is updated for everyone.
func (h *handler) deliverLate(ctx context.Context, act *Activity, ca cardAction, resp InvokeResponse, ans chat.Message) {
	if isTargetVerb(ca.verb) {
		// The target's card shows the answer (or, unknown here, a 1:1 message does).
		if card, ok := resp.Value.(Card); ok {
			h.replaceCard(ctx, act, card)
		} else {
			h.tellClicker(ctx, act, ans)
		}
		return
	}
	if card, ok := resp.Value.(Card); ok && commandVerbs[ca.verb] != "" {
		h.replaceCard(ctx, act, card) // a cancel's answer, in place of the confirmation
		return
	}
	if ca.verb == VerbSubmit {
		if card, ok := resp.Value.(Card); ok {
			h.replaceCard(ctx, act, card)
		}
		return
	}
	if ans.Refusal {
		h.tellClicker(ctx, act, ans)
	}
}

// replaceCard puts card in place of the card clicked on (the form), or posts it in the
// conversation when that fails.
func (h *handler) replaceCard(ctx context.Context, act *Activity, card Card) {
	out := cardActivity(card, card.FallbackText)
	if act.ReplyToID != "" {
		if err := h.a.conn.updateActivity(ctx, act.ServiceURL, act.Conversation.ID, act.ReplyToID, out); err == nil {
			return
		}
	}
	out.ID = ""
	if _, err := h.a.conn.sendActivity(ctx, act.ServiceURL, act.Conversation.ID, out); err != nil {
		h.a.log.WarnContext(ctx, "teams: answer form", "err", err)
	}
}

// tellClicker sends msg to the person who clicked, in a 1:1 chat.
func (h *handler) tellClicker(ctx context.Context, act *Activity, msg chat.Message) {
	if _, err := h.a.sendPersonal(ctx, act.ServiceURL, outAccount{ID: act.From.ID, AadObjectID: act.From.AadObjectID}, renderActivity(msg)); err != nil {
		h.a.log.WarnContext(ctx, "teams: answer click", "err", err)
	}
}

// onSubmitFallback handles an Action.Submit click (clients without Action.Execute): the
// same work as the invoke, but the answer cannot go in the HTTP response, so the form
// card is replaced with a PUT and refusals go to the clicker in a 1:1 chat.
func (h *handler) onSubmitFallback(ctx context.Context, act *Activity, verb string, data map[string]json.RawMessage) {
	ca := cardAction{verb: verb, data: data}
	f, first := h.flights.begin(cardKey(act.Conversation.ID, act.ID))
	if !first {
		return // the connector re-sent the same click
	}
	defer func() { _ = f.finish(InvokeResponse{}) }()
	switch verb {
	case VerbSubmit:
		h.replaceCard(ctx, act, h.submitForm(ctx, act, data))
	case VerbApprove, VerbDeny, VerbRetry, VerbContinue, VerbStop:
		_, _, ans := h.decide(ctx, act, ca)
		if ans.Refusal {
			h.tellClicker(ctx, act, ans)
		}
	case VerbFile, VerbCancel:
		resp, ans := h.runCommand(ctx, act, ca)
		if card, ok := resp.Value.(Card); ok {
			h.replaceCard(ctx, act, card)
		} else if ans.Refusal {
			h.tellClicker(ctx, act, ans)
		}
	case string(chat.ButtonPick), string(chat.ButtonNotMe):
		if !h.targetValueOK(ca) {
			h.tellClicker(ctx, act, chat.Refuse(notTargetButton))
			return
		}
		resp, ans := h.runTarget(ctx, act, ca)
		h.deliverLate(ctx, act, ca, resp, ans)
	}
}

// submitForm files a request from a completed form and returns the card that replaces
// the form: the acknowledgement, or the form again with the errors on its fields.
func (h *handler) submitForm(ctx context.Context, act *Activity, data map[string]json.RawMessage) Card {
	fs := chat.FormSubmission{
		Action:             str(data["action"]),
		Target:             str(data["target"]),
		Reason:             strings.TrimSpace(str(data[inputReason])),
		Verification:       str(data[inputVerification]),
		VerificationDetail: strings.TrimSpace(str(data[inputVerifyDetail])),
		Ticket:             strings.TrimSpace(str(data[inputTicket])),
		Users:              str(data[inputUsers]),
	}
	ans := h.r.Submit(ctx, callerOf(act), fs)
	if len(ans.Errors) == 0 && ans.Form == nil {
		return RenderCard(ans)
	}
	form := chat.Form{Action: fs.Action, Target: fs.Target, TargetLabel: str(data["label"]), Warning: str(data["warning"])}
	var usersMax int
	if json.Unmarshal(data["users_max"], &usersMax) == nil && usersMax > 0 {
		form.Users = &chat.FieldLimit{Min: 1, Max: usersMax} // display only: the router applies its own limit
	}
	var choices []Choice
	if json.Unmarshal(data["choices"], &choices) == nil {
		for _, c := range choices {
			form.Verifications = append(form.Verifications, chat.Choice{Value: c.Value, Label: c.Title})
		}
	}
	if ans.Form != nil {
		form = *ans.Form
	}
	return RenderForm(ans, form, ans.Errors, formState{Reason: fs.Reason, Verification: fs.Verification, Detail: fs.VerificationDetail, Ticket: fs.Ticket, Users: fs.Users})
}

// decide handles Approve / Deny / Retry. The card's data names only the request; who
// clicked comes from the validated activity, which card was clicked from the activity
// it replies to, and what the request is from the router's own state. It returns the card as it now is (when this process knows it) and the
// router's answer for the clicker.
func (h *handler) decide(ctx context.Context, act *Activity, ca cardAction) (Card, bool, chat.Message) {
	reqID := str(ca.data["request"])
	if reqID == "" || len(reqID) > 64 {
		return Card{}, false, chat.Refuse("That card names no request.")
	}
	// The card clicked is the message the invoke (or Action.Submit) replies to, in the
	// conversation it came from: Teams reports both, the button's data cannot change them.
	card := chat.CardRef{Platform: chat.PlatformTeams, Channel: act.Conversation.ID, ID: act.ReplyToID}
	if pass := str(ca.data[dataDenyPass]); pass != "" {
		// The 1:1 deny form: its pass names the approval card the Deny was clicked on.
		ref, err := h.a.openDenyPass(pass, reqID, act.From.AadObjectID)
		if err != nil || ca.verb != VerbDeny {
			h.a.log.WarnContext(ctx, "teams: refused a deny form pass", "request", reqID, "err", err)
			return Card{}, false, chat.Refuse("This deny form is not valid any more: click Deny on the approval card again.")
		}
		card = ref
	}
	_, sent := ca.data[inputJustification]
	just := strings.TrimSpace(str(ca.data[inputJustification]))
	if ca.verb == VerbDeny && !sent && !act.Personal() {
		// No justification at all, not even an empty one: the client did not send the
		// card's inputs (Action.Execute in channels). Ask in the 1:1 chat instead.
		return h.askDenyInPrivate(ctx, act, reqID, card)
	}
	if ca.verb == VerbDeny && just == "" {
		const msg = "A justification is required to deny."
		if c, ok := h.a.cards.get(act.Conversation.ID, act.ReplyToID); ok {
			return withJustificationError(c, msg), true, chat.Refuse(msg)
		}
		return Card{}, false, chat.Refuse(msg)
	}
	d := chat.Decision{RequestID: reqID, Approve: ca.verb == VerbApprove, Justification: just, Retry: ca.verb == VerbRetry, Card: card}
	if ca.verb == VerbContinue || ca.verb == VerbStop {
		d = chat.Decision{RequestID: reqID, Bulk: ca.verb, Card: card}
	}
	ans := h.r.Decide(ctx, callerOf(act), d)
	c, ok := h.a.cards.get(act.Conversation.ID, act.ReplyToID)
	switch {
	case !ok:
	case ans.Errors[inputJustification] != "":
		c = withJustificationError(c, ans.Errors[inputJustification])
	case ans.Refusal:
		c = withNote(c, ans.Text, true)
	}
	return c, ok, ans
}

// askDenyInPrivate sends the clicker a deny form in their 1:1 chat, bound to the
// approval card clicked, and answers the click with that card and a note.
func (h *handler) askDenyInPrivate(ctx context.Context, act *Activity, reqID string, card chat.CardRef) (Card, bool, chat.Message) {
	pass := h.a.sealDenyPass(denyPass{Request: reqID, Conv: card.Channel, Card: card.ID, User: act.From.AadObjectID,
		Expires: h.a.opts.Now().Add(denyPassTTL).Unix()})
	form := renderDenyForm(reqID, pass)
	note := "Teams did not send the justification from this card: I've sent you a deny form in our 1:1 chat."
	if _, err := h.a.sendPersonal(ctx, act.ServiceURL, outAccount{ID: act.From.ID, AadObjectID: act.From.AadObjectID}, cardActivity(form, form.FallbackText)); err != nil {
		h.a.log.WarnContext(ctx, "teams: send deny form", "request", reqID, "err", err)
		note = "Teams did not send the justification from this card, and I could not message you privately: open a 1:1 chat with me and click Deny again."
	}
	ans := chat.Refuse(note)
	if c, ok := h.a.cards.get(act.Conversation.ID, act.ReplyToID); ok {
		return withNote(c, note, false), true, ans
	}
	return Card{}, false, ans
}

// str reads a JSON string; anything else is "".
func str(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// flights de-duplicates clicks by activity id: Teams re-sends an invoke it got no
// answer to, with the same id.
type flights struct {
	mu    sync.Mutex
	m     map[string]*flight
	order []string
	max   int
}

type flight struct {
	done chan struct{}
	resp InvokeResponse

	mu       sync.Mutex
	finished bool
	deferred bool // an invoke was answered before the work finished
}

// finish records the answer and reports whether an invoke was already answered
// without it (so it must be delivered another way).
func (f *flight) finish(r InvokeResponse) bool {
	f.mu.Lock()
	f.resp, f.finished = r, true
	late := f.deferred
	f.mu.Unlock()
	close(f.done)
	return late
}

// answeredEarly marks the invoke as answered without the result, unless the work finished
// meanwhile: then it returns the result. Exactly one of the two sides delivers.
func (f *flight) answeredEarly() (InvokeResponse, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.finished {
		return f.resp, true
	}
	f.deferred = true
	return InvokeResponse{}, false
}

func newFlights(max int) *flights { return &flights{m: map[string]*flight{}, max: max} }

func (fs *flights) begin(key string) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	f := &flight{done: make(chan struct{})}
	fs.m[key] = f
	fs.order = append(fs.order, key)
	if len(fs.order) > fs.max {
		delete(fs.m, fs.order[0])
		fs.order = fs.order[1:]
	}
	return f, true
}
