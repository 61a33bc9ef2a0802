package bot_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/actions"
	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
)

const (
	gHelpdesk  = "00000000-0000-4000-8000-0000000000a1"
	gApprovers = "00000000-0000-4000-8000-0000000000a2"
	oidAgent   = "00000000-0000-4000-8000-000000000001"
	oidAppr    = "00000000-0000-4000-8000-000000000002"
	oidTarget  = "00000000-0000-4000-8000-000000000003"
	oidAdmin   = "00000000-0000-4000-8000-000000000004"
)

// backend is a directory double: the flow's logic is tested here; the Graph side is
// tested against the fake tenant in actions/graph and end to end in the adapters.
type backend struct {
	mu      sync.Mutex
	users   map[string]actions.User
	methods map[string][]actions.Method
	members map[string][]string
	writes  []string
	// gatherErr makes Gather fail outright, as a failed $batch does.
	gatherErr error
}

func newBackend() *backend {
	return &backend{
		users: map[string]actions.User{
			oidAgent:  {ID: oidAgent, DisplayName: "Hana Helpdesk", UPN: "hana@contoso.example", UserType: "Member", Enabled: true},
			oidAppr:   {ID: oidAppr, DisplayName: "Alex Approver", UPN: "alex@contoso.example", UserType: "Member", Enabled: true},
			oidTarget: {ID: oidTarget, DisplayName: "MFA Test 2", UPN: "mfatest2@contoso.example", UserType: "Member", Enabled: true},
			oidAdmin:  {ID: oidAdmin, DisplayName: "Ada Admin", UPN: "ada@contoso.example", UserType: "Member", Enabled: true, Roles: []string{"Global Administrator"}},
		},
		methods: map[string][]actions.Method{
			oidTarget: {
				{ID: "28c10230-6103-485e-b985-444c60001490", Type: actions.MethodPassword},
				{ID: "b7d3f046-2ec3-4ad4-9742-f23b6136960f", Type: actions.MethodAuthenticator, DisplayName: "iPhone 13"},
				{ID: "f3b7d48a-6bf7-4e17-9c86-367a047adb43", Type: actions.MethodFido2, DisplayName: "YubiKey 5C"},
			},
		},
		members: map[string][]string{oidAgent: {gHelpdesk}, oidAppr: {gApprovers}},
	}
}

func (b *backend) find(ref actions.UserRef) (actions.User, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, u := range b.users {
		if strings.EqualFold(u.ID, ref.Value) || strings.EqualFold(u.UPN, ref.Value) {
			return u, true
		}
	}
	return actions.User{}, false
}

func (b *backend) User(_ context.Context, ref actions.UserRef) (actions.User, error) {
	if u, ok := b.find(ref); ok {
		return u, nil
	}
	return actions.User{}, &actions.Error{Kind: actions.KindNotFound, Message: fmt.Sprintf("No user %s in the directory.", ref)}
}

func (b *backend) MemberGroups(_ context.Context, id string, want []string) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, g := range b.members[id] {
		for _, w := range want {
			if g == w {
				out = append(out, g)
			}
		}
	}
	return out, nil
}

func (b *backend) Gather(ctx context.Context, ref actions.UserRef, q actions.Query) (actions.Evidence, error) {
	u, err := b.User(ctx, ref)
	if err != nil {
		return actions.Evidence{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gatherErr != nil {
		return actions.Evidence{Query: q.Normalized()}, b.gatherErr
	}
	return actions.Evidence{Query: q.Normalized(), User: u, Methods: b.methods[u.ID]}, nil
}

func (b *backend) RevokeSessions(_ context.Context, id string) (actions.Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes = append(b.writes, "revoke "+id)
	return actions.Result{Summary: actions.RevokeSummary, Steps: []actions.Step{{Action: "revoke sessions", Outcome: actions.OutcomeDone}}}, nil
}

func (b *backend) Reregister(_ context.Context, id string, snap []actions.MethodRef, _ func(actions.Step)) (actions.Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var res actions.Result
	for _, m := range snap {
		if !slices.Contains(actions.DefaultReregisterTypes(), m.Type) {
			continue
		}
		b.writes = append(b.writes, "delete "+m.ID)
		res.Steps = append(res.Steps, actions.Step{Action: "delete method", Method: m, Outcome: actions.OutcomeDeleted})
	}
	b.writes = append(b.writes, "revoke "+id)
	return res, nil
}

func (b *backend) IssueTAP(context.Context, string, time.Duration, bool) (actions.TAP, error) {
	return actions.TAP{}, fmt.Errorf("not used")
}

func (b *backend) Writes() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.writes...)
}

// notifier records what the bot said first.
type notifier struct {
	mu      sync.Mutex
	posted  []bot.Message
	updates []bot.Message
	told    []string
	audit   []string
	refs    map[string]bot.CardRef // by request id
}

func (n *notifier) PostApproval(_ context.Context, m bot.Message) (bot.CardRef, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.posted = append(n.posted, m)
	ref := bot.CardRef{Channel: "C-APPROVALS", ID: fmt.Sprint(len(n.posted))}
	if n.refs == nil {
		n.refs = map[string]bot.CardRef{}
	}
	n.refs[m.RequestID] = ref
	return ref, nil
}

// card is where the approval card of request id was posted, as a click on it reports
// it (the router stores the ref with the platform it was posted on).
func (n *notifier) card(id string) bot.CardRef {
	n.mu.Lock()
	defer n.mu.Unlock()
	ref := n.refs[id]
	ref.Platform = "web"
	return ref
}

func (n *notifier) UpdateApproval(_ context.Context, ref bot.CardRef, m bot.Message) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ref.Channel != "C-APPROVALS" || ref.Platform != "web" {
		return fmt.Errorf("update of a card never posted: %+v", ref)
	}
	n.updates = append(n.updates, m)
	return nil
}

func (n *notifier) Tell(_ context.Context, to bot.Caller, m bot.Message) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.told = append(n.told, to.ObjectID+": "+m.Text)
	return nil
}

func (n *notifier) PostAudit(_ context.Context, line string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.audit = append(n.audit, line)
	return nil
}

type harness struct {
	r   *bot.Router
	svc *approvals.Service
	b   *backend
	n   *notifier
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	return newHarnessPolicy(t, nil)
}

// newHarnessPolicy is newHarness with the policy edited first.
func newHarnessPolicy(t *testing.T, edit func(*approvals.Policy)) *harness {
	t.Helper()
	policy := approvals.Policy{HelpdeskGroupID: gHelpdesk, ApproversGroupID: gApprovers}
	if edit != nil {
		edit(&policy)
	}
	st, err := approvals.OpenBolt(filepath.Join(t.TempDir(), "mfadesk.db"), approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b, n := newBackend(), &notifier{}
	r, svc, err := bot.Assemble(context.Background(), bot.AssembleOptions{
		Backend:   b,
		Store:     st,
		Policy:    policy,
		Notifiers: map[bot.Platform]bot.Notifier{"web": n},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{r, svc, b, n}
}

var (
	agent    = bot.Caller{Platform: "web", ChatID: "hana", Name: "Hana Helpdesk", ObjectID: oidAgent}
	approver = bot.Caller{Platform: "web", ChatID: "alex", Name: "Alex Approver", ObjectID: oidAppr}
	goodForm = bot.FormSubmission{Action: "reregister", Target: oidTarget, Reason: "Lost phone, locked out of Authenticator", Verification: "video_with_id", VerificationDetail: "Teams video, badge checked", Ticket: "INC-1234"}
)

func TestRequestFlowReregister(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()

	m := h.r.Handle(ctx, bot.Event{Caller: agent, Text: "reregister mfatest2@contoso.example"})
	// Five choices: the default policy refuses phone_kba, so the form does not offer it.
	if m.Form == nil || m.Form.Target != oidTarget || len(m.Form.Verifications) != 5 {
		t.Fatalf("no form: %+v", m)
	}
	for _, c := range m.Form.Verifications {
		if c.Value == "phone_kba" {
			t.Errorf("the form offers phone_kba, which the policy refuses")
		}
	}
	ack := h.r.Submit(ctx, agent, goodForm)
	if ack.Refusal || ack.RequestID == "" {
		t.Fatalf("submit: %+v", ack)
	}
	if len(h.n.posted) != 1 || len(h.n.posted[0].Buttons) != 2 {
		t.Fatalf("approval card not posted with buttons: %+v", h.n.posted)
	}
	card := h.n.posted[0]
	for _, want := range []string{"iPhone 13", "Video call", "INC-1234", "MFA Test 2", "Authenticator"} {
		if !strings.Contains(cardText(card), want) {
			t.Errorf("card lacks %q", want)
		}
	}

	// The card says truthfully which methods go and which stay.
	if txt := cardText(card); !strings.Contains(txt, "Microsoft Authenticator (iPhone 13) | microsoftAuthenticator | deleted") || !strings.Contains(txt, "FIDO2 security key (YubiKey 5C) | fido2 | kept") {
		t.Errorf("card does not say what is deleted and what is kept:\n%s", txt)
	}

	// The requester clicks Approve on their own request: refused, nothing runs.
	self := h.r.Decide(ctx, agent, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: h.n.card(ack.RequestID)})
	if !self.Refusal || len(h.b.Writes()) != 0 {
		t.Fatalf("self-approval: %+v, writes %v", self, h.b.Writes())
	}
	// Deny needs a reason.
	if m := h.r.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Card: h.n.card(ack.RequestID)}); !m.Refusal || m.Errors["justification"] == "" {
		t.Fatalf("deny without reason: %+v", m)
	}
	// The approver approves: the methods of the snapshot are deleted, then sessions revoked.
	ok := h.r.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: h.n.card(ack.RequestID)})
	if ok.Refusal || !strings.Contains(ok.Text, "done") {
		t.Fatalf("approve: %+v", ok)
	}
	want := []string{"delete b7d3f046-2ec3-4ad4-9742-f23b6136960f", "revoke " + oidTarget}
	if got := h.b.Writes(); strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("writes = %v, want %v (the password is never in the snapshot)", got, want)
	}
	// A replayed click changes nothing.
	if again := h.r.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: h.n.card(ack.RequestID)}); !again.Refusal {
		t.Fatalf("replayed approve: %+v", again)
	}
	if len(h.b.Writes()) != 2 {
		t.Fatalf("replayed click wrote again: %v", h.b.Writes())
	}
	last := h.n.updates[len(h.n.updates)-1]
	if len(last.Buttons) != 0 || !strings.Contains(last.Text, "done") {
		t.Fatalf("final card: %+v", last)
	}
	if len(h.n.told) != 1 || !strings.HasPrefix(h.n.told[0], oidAgent+": Your request") {
		t.Fatalf("requester not told: %v", h.n.told)
	}
	// Audit: created, refused self-approval, approved, executing, succeeded… each with the head.
	joined := strings.Join(h.n.audit, "\n")
	for _, k := range []string{"request_created", "access_refused", "request_approved", "request_executing", "request_succeeded", "chain head #"} {
		if !strings.Contains(joined, k) {
			t.Errorf("audit channel lacks %s:\n%s", k, joined)
		}
	}
	if rep, err := h.svc.Verify(ctx); err != nil || !rep.OK {
		t.Fatalf("verify: %v %v", rep, err)
	}
}

func TestSubmitRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	bad := func(mod func(*bot.FormSubmission)) bot.FormSubmission {
		f := goodForm
		mod(&f)
		return f
	}
	tests := []struct {
		name   string
		caller bot.Caller
		form   bot.FormSubmission
		field  string
		text   string
	}{
		{"short reason", agent, bad(func(f *bot.FormSubmission) { f.Reason = "pls" }), "reason", ""},
		{"no verification", agent, bad(func(f *bot.FormSubmission) { f.Verification = "trust me" }), "verification", ""},
		{"no verification detail", agent, bad(func(f *bot.FormSubmission) { f.VerificationDetail = " " }), "verification_detail", ""},
		{"no ticket", agent, bad(func(f *bot.FormSubmission) { f.Ticket = "" }), "ticket", ""},
		{"target by name", agent, bad(func(f *bot.FormSubmission) { f.Target = "mfatest2@contoso.example" }), "", "not a directory object id"},
		{"unknown action", agent, bad(func(f *bot.FormSubmission) { f.Action = "delete" }), "", "not for a known request"},
		{"approver is not helpdesk", approver, goodForm, "", "helpdesk"},
		{"self", agent, bad(func(f *bot.FormSubmission) { f.Target = oidAgent }), "", ""},
		{"admin target refused", agent, bad(func(f *bot.FormSubmission) { f.Target = oidAdmin }), "", ""},
		{"weak verification", agent, bad(func(f *bot.FormSubmission) { f.Verification = "phone_kba" }), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := h.r.Submit(ctx, tt.caller, tt.form)
			if !m.Refusal || m.RequestID != "" {
				t.Fatalf("accepted: %+v", m)
			}
			if tt.field != "" && m.Errors[tt.field] == "" {
				t.Fatalf("no error on %s: %+v", tt.field, m)
			}
			if tt.text != "" && !strings.Contains(m.Text, tt.text) {
				t.Fatalf("text %q lacks %q", m.Text, tt.text)
			}
			if strings.Contains(m.Text, "\n") {
				t.Fatalf("refusal is not one line: %q", m.Text)
			}
		})
	}
	if len(h.n.posted) != 0 || len(h.b.Writes()) != 0 {
		t.Fatalf("refused submissions posted %d cards, wrote %v", len(h.n.posted), h.b.Writes())
	}
	open, _ := h.svc.OpenRequests(ctx)
	if len(open) != 0 {
		t.Fatalf("refused submissions stored %d requests", len(open))
	}
}

func TestPendingShowCancel(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	f := goodForm
	f.Action = "revoke"
	ack := h.r.Submit(ctx, agent, f)
	if ack.Refusal {
		t.Fatal(ack.Text)
	}
	p := h.r.Handle(ctx, bot.Event{Caller: approver, Text: "pending"})
	if p.Refusal || len(p.Sections) == 0 || !strings.Contains(fmt.Sprint(p.Sections[0].Table.Rows), "approve or deny") {
		t.Fatalf("approver's pending: %+v", p)
	}
	mine := h.r.Handle(ctx, bot.Event{Caller: agent, Text: "pending"})
	if !strings.Contains(fmt.Sprint(mine.Sections[0].Table.Rows), "cancel") {
		t.Fatalf("requester's pending: %+v", mine)
	}
	s := h.r.Handle(ctx, bot.Event{Caller: approver, Text: "show " + ack.RequestID})
	if s.Refusal || len(s.Buttons) != 0 || !strings.Contains(cardText(s), "request_created") {
		t.Fatalf("show: %+v", s)
	}
	if m := h.r.Handle(ctx, bot.Event{Caller: approver, Text: "cancel " + ack.RequestID}); !m.Refusal {
		t.Fatalf("someone else cancelled: %+v", m)
	}
	if m := h.r.Handle(ctx, bot.Event{Caller: agent, Text: "cancel " + ack.RequestID}); m.Refusal {
		t.Fatalf("requester could not cancel: %+v", m)
	}
	if m := h.r.Decide(ctx, approver, bot.Decision{RequestID: ack.RequestID, Approve: true, Card: h.n.card(ack.RequestID)}); !m.Refusal {
		t.Fatalf("approved a cancelled request: %+v", m)
	}
	if len(h.b.Writes()) != 0 {
		t.Fatalf("writes: %v", h.b.Writes())
	}
	if m := h.r.Handle(ctx, bot.Event{Caller: agent, Text: "show R-AAAAAAAAAAAAAAAAAAAAAAAAAA"}); !m.Refusal {
		t.Fatalf("unknown id: %+v", m)
	}
}

// cardText flattens a message as a person would read it.
func cardText(m bot.Message) string {
	var b strings.Builder
	b.WriteString(m.Title + "\n" + m.Text + "\n")
	for _, s := range m.Sections {
		b.WriteString(s.Heading + "\n" + s.Text + "\n" + s.Note + "\n")
		for _, f := range s.Facts {
			b.WriteString(f.Label + ": " + f.Value + "\n")
		}
		if s.Table != nil {
			for _, r := range s.Table.Rows {
				b.WriteString(strings.Join(r, " | ") + "\n")
			}
		}
		for _, f := range s.Findings {
			b.WriteString(string(f.Severity) + " " + f.Title + " " + f.Detail + "\n")
		}
	}
	return b.String()
}

// A failed read of the target must not look like a user with no methods and no
// failed sign-ins: re-register is refused, and a revoke card says the context is missing.
func TestSubmitWhenTheDirectoryFails(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.b.gatherErr = &actions.Error{Kind: actions.KindUnavailable, Message: "Microsoft Graph did not answer in time"}
	if m := h.r.Submit(ctx, agent, goodForm); !m.Refusal || !strings.Contains(m.Text, "could not be read") {
		t.Fatalf("reregister on a failed read: %+v", m)
	}
	f := goodForm
	f.Action = "revoke"
	if m := h.r.Submit(ctx, agent, f); m.Refusal {
		t.Fatalf("revoke: %+v", m)
	}
	txt := cardText(h.n.posted[len(h.n.posted)-1])
	if !strings.Contains(txt, "Risk context unavailable") || strings.Contains(txt, "0 failed") {
		t.Fatalf("revoke card on a failed read:\n%s", txt)
	}
}

// What approvers read on the channel card cannot be spoofed with a chat display name,
// and a phone number typed into the free text is masked there.
func TestCardNamesAndMasking(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	spoof := agent
	spoof.Name = "Alex Approver" // the agent renamed their chat profile
	f := goodForm
	f.Verification = "callback_to_number_on_record"
	f.VerificationDetail = "called back on +1 (425) 555-0199 from HR"
	if m := h.r.Submit(ctx, spoof, f); m.Refusal {
		t.Fatal(m.Text)
	}
	txt := cardText(h.n.posted[0])
	if !strings.Contains(txt, "Requested by: Hana Helpdesk (hana@contoso.example) (web)") {
		t.Errorf("requester not named from the directory:\n%s", txt)
	}
	if strings.Contains(txt, "555-0199") || strings.Contains(txt, "5550199") {
		t.Errorf("full phone number on a channel card:\n%s", txt)
	}
	if !strings.Contains(txt, "from HR") {
		t.Errorf("the rest of the detail was lost:\n%s", txt)
	}
}
