package teams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/mfadesk/mfadesk/actions/guid"
	"github.com/mfadesk/mfadesk/bot/chat"
)

// Options configures the Teams adapter. AppID, TenantID and Credential are required;
// everything else has a default.
type Options struct {
	// AppID is the bot's Microsoft App ID (the single-tenant app registration's client
	// id, or the user-assigned managed identity's): the audience of inbound tokens.
	AppID string
	// TenantID is our Entra tenant. Activities of any other tenant are refused.
	TenantID string
	// Credential gets outbound connector tokens (scope ConnectorScope): an azidentity
	// ClientSecretCredential, ClientCertificateCredential or ManagedIdentityCredential
	// for the bot's app, or a fake in tests.
	Credential azcore.TokenCredential

	// ServiceURL is where proactive messages go (approval cards, audit posts, direct
	// messages). Default DefaultServiceURL.
	ServiceURL string
	// ServiceHosts are the connector hosts activities may come from and outbound calls
	// may go to (https only), besides ServiceURL itself; default DefaultServiceHosts.
	// An activity whose serviceUrl is elsewhere is refused (403).
	ServiceHosts []string
	// ApprovalsChannel and AuditChannel are channel ids ("19:…@thread.tacv2"); the bot
	// must be installed in their team.
	ApprovalsChannel string
	AuditChannel     string
	// SecurityChannel, optional, also gets the alerts that someone may be
	// impersonating a user ("This is not me", "This is not them").
	SecurityChannel string

	// OpenIDMetadataURL is the Bot Framework's metadata; default DefaultOpenIDMetadataURL.
	OpenIDMetadataURL string
	// EntraMetadataURL lists the keys of Entra-issued tokens; default DefaultEntraMetadataURL.
	EntraMetadataURL string
	// EntraTenants are the tenants whose Entra-issued tokens are accepted, each bound to
	// its tid claim. nil means BotServiceTenants: the Azure Bot Service's own tenants,
	// which it is migrating channels to. An empty non-nil list accepts Bot Framework
	// tokens only. Any other tenant — our own included — lets every app registered there
	// mint a token for our app id, and the activity it signs names the user: so such a
	// tenant is accepted only together with EntraCallers.
	EntraTenants []string
	// EntraCallers are the app ids (appid / azp claim) whose tokens from a tenant that
	// is not a Bot Service tenant are accepted.
	EntraCallers []string
	// KeyRefresh is how often the signing keys are re-read; default 12 h, at most 24 h.
	KeyRefresh time.Duration
	// UnknownKeyRefresh is the least time between key set fetches caused by tokens
	// naming an unknown key id (key rollover); default 2 s. All requests waiting for a
	// key share one fetch, so made-up key ids cost the key host one fetch per period
	// and delay a genuinely new key by at most one period.
	UnknownKeyRefresh time.Duration
	// UnknownKeyWait is how long a request with an unknown key id waits for that
	// fetch; default 4 s.
	UnknownKeyWait time.Duration
	// KeyRetry is the least time between attempts to read the metadata and keys while
	// they have not loaded; default 30 s.
	KeyRetry time.Duration

	// HTTPClient makes the outbound calls; default a client with a 30 s timeout.
	HTTPClient *http.Client
	// CallTimeout bounds each connector call attempt; default 15 s.
	CallTimeout time.Duration
	// MaxRetries of a connector call on 429/412/502/504; default 3.
	MaxRetries int
	// MaxRetryWait is the longest Retry-After honoured; default 30 s.
	MaxRetryWait time.Duration
	// MaxBodyBytes bounds an inbound activity; default 256 KiB.
	MaxBodyBytes int64
	// InvokeWait is how long a card click waits for its answer before Teams is told the
	// card will update (Teams retries an invoke not answered in time); default 4 s.
	InvokeWait time.Duration
	// ProcessTimeout bounds the work one activity starts; default 2 min.
	ProcessTimeout time.Duration

	Logger *slog.Logger
	Now    func() time.Time
}

// Adapter is the Teams side of mfadesk: the Bot Framework endpoint (Handler) and the
// chat.Notifier that posts approval cards, updates them, tells people the outcome and
// writes to the audit channel.
type Adapter struct {
	opts  Options
	auth  *validator
	conn  *connector
	cards *cardCache
	log   *slog.Logger
	// passKey signs the passes of 1:1 deny forms (see denyform.go); it lives only in
	// this process, so a restart invalidates the forms still open.
	passKey []byte

	bg     context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // card clicks still working after their invoke was answered
	msgs   sync.WaitGroup // messages being answered after their HTTP request was acknowledged
}

var _ chat.Notifier = (*Adapter)(nil)

// New checks the options and builds the adapter. It fails closed: there is no way to
// run without token validation (msbotbuilder-go turns it off when the app id is empty).
// Signing keys are fetched on the first request, not here.
func New(o Options) (*Adapter, error) {
	if !guid.Valid(o.AppID) {
		return nil, errors.New("teams: the app id must be the bot's Microsoft App ID (a GUID)")
	}
	if !guid.Valid(o.TenantID) {
		return nil, errors.New("teams: the tenant id must be a GUID")
	}
	if o.Credential == nil {
		return nil, errors.New("teams: no credential for the connector")
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&o.ServiceURL, DefaultServiceURL)
	def(&o.OpenIDMetadataURL, DefaultOpenIDMetadataURL)
	def(&o.EntraMetadataURL, DefaultEntraMetadataURL)
	if o.ServiceHosts == nil {
		o.ServiceHosts = DefaultServiceHosts
	}
	if o.EntraTenants == nil {
		o.EntraTenants = BotServiceTenants
	}
	for _, t := range o.EntraTenants {
		if !guid.Valid(t) {
			return nil, fmt.Errorf("teams: Entra tenant %q is not a GUID", clip(t, 64))
		}
		if !isBotServiceTenant(t) && len(o.EntraCallers) == 0 {
			return nil, fmt.Errorf("teams: Entra tokens of tenant %s would let any app registered there speak for any user: name the accepted callers in EntraCallers", t)
		}
	}
	for _, a := range o.EntraCallers {
		if !guid.Valid(a) {
			return nil, fmt.Errorf("teams: Entra caller %q is not an app id (GUID)", clip(a, 64))
		}
	}
	defd(&o.KeyRefresh, 12*time.Hour)
	o.KeyRefresh = min(o.KeyRefresh, 24*time.Hour)
	defd(&o.UnknownKeyRefresh, 2*time.Second)
	defd(&o.UnknownKeyWait, 4*time.Second)
	defd(&o.KeyRetry, metadataRetryWait)
	defd(&o.CallTimeout, 15*time.Second)
	defd(&o.MaxRetryWait, 30*time.Second)
	defd(&o.InvokeWait, 4*time.Second)
	defd(&o.ProcessTimeout, 2*time.Minute)
	if o.MaxRetries <= 0 {
		o.MaxRetries = 3
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 256 << 10
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, u := range []struct{ key, v string }{{"OpenID metadata URL", o.OpenIDMetadataURL}, {"Entra metadata URL", o.EntraMetadataURL}} {
		if err := checkURL(u.v); err != nil {
			return nil, fmt.Errorf("teams: %s: %w", u.key, err)
		}
	}
	urls, err := newServiceURLs(o.ServiceHosts, o.ServiceURL)
	if err != nil {
		return nil, fmt.Errorf("teams: %w", err)
	}
	for _, ch := range []string{o.ApprovalsChannel, o.AuditChannel, o.SecurityChannel} {
		if ch != "" && !strings.HasPrefix(ch, "19:") {
			return nil, fmt.Errorf("teams: channel %q is not a Teams channel id (19:…@thread.tacv2)", clip(ch, 64))
		}
	}
	bg, cancel := context.WithCancel(context.Background())
	a := &Adapter{opts: o, cards: newCardCache(1000), log: o.Logger, bg: bg, cancel: cancel, passKey: newPassKey()}
	a.auth = newValidator(bg, validatorConfig{
		appID: o.AppID, entraTenants: o.EntraTenants, entraCallers: o.EntraCallers, bfMetadataURL: o.OpenIDMetadataURL, entraMetaURL: o.EntraMetadataURL,
		client: o.HTTPClient, refreshEvery: o.KeyRefresh, unknownKIDEvery: o.UnknownKeyRefresh,
		unknownKIDWait: o.UnknownKeyWait, retryWait: o.KeyRetry, now: o.Now, log: o.Logger,
	})
	a.conn = &connector{
		hc: o.HTTPClient, cred: o.Credential, scope: ConnectorScope, callTimeout: o.CallTimeout,
		maxRetries: o.MaxRetries, maxRetryWait: o.MaxRetryWait, sleep: sleepCtx, now: o.Now, urls: urls, log: o.Logger,
	}
	return a, nil
}

// Close stops the key refreshes and waits for card clicks still being worked on.
func (a *Adapter) Close() error {
	a.wg.Wait()
	a.msgs.Wait()
	a.cancel()
	return nil
}

// LoadKeys reads the OpenID metadata and signing keys now instead of on the first
// request; serve calls it at start-up and retries until it succeeds. A failure is
// also retried by the next request (at most every KeyRetry), so it is not fatal.
func (a *Adapter) LoadKeys(ctx context.Context) error {
	if _, _, err := a.auth.bf.ready(ctx); err != nil {
		return fmt.Errorf("teams: load Bot Framework signing keys: %w", err)
	}
	if a.auth.entra != nil {
		if _, _, err := a.auth.entra.ready(ctx); err != nil {
			return fmt.Errorf("teams: load Entra signing keys: %w", err)
		}
	}
	return nil
}

// Ready reports whether the signing keys have loaded: until then every request is
// refused with 503.
func (a *Adapter) Ready() bool {
	return a.auth.bf.loaded() && (a.auth.entra == nil || a.auth.entra.loaded())
}

func (a *Adapter) botAccount() *outAccount { return &outAccount{ID: "28:" + a.opts.AppID} }

// PostApproval posts an approval card as a new thread in the approvals channel
// (POST v3/conversations) and returns where it is, to update it later.
func (a *Adapter) PostApproval(ctx context.Context, card chat.Message) (chat.CardRef, error) {
	if a.opts.ApprovalsChannel == "" {
		return chat.CardRef{}, errors.New("teams: post approval card: no approvals channel configured")
	}
	c := RenderCard(card)
	res, err := a.conn.createConversation(ctx, a.opts.ServiceURL, conversationParams{
		IsGroup:     true,
		ChannelData: &outChannelData{Channel: &idRef{ID: a.opts.ApprovalsChannel}, Tenant: &idRef{ID: a.opts.TenantID}},
		Activity:    cardActivity(c, card.Text),
		TenantID:    a.opts.TenantID,
	})
	if err != nil {
		return chat.CardRef{}, fmt.Errorf("teams: post approval card for %s: %w", card.RequestID, err)
	}
	id := res.ActivityID
	if id == "" {
		// The thread's root message id is also the ";messageid=" of the conversation.
		_, id, _ = strings.Cut(res.ID, ";messageid=")
	}
	ref := chat.CardRef{Platform: chat.PlatformTeams, Channel: res.ID, ID: id}
	a.cards.put(ref.Channel, ref.ID, c)
	return ref, nil
}

// UpdateApproval replaces a posted approval card for everyone (PUT the activity).
func (a *Adapter) UpdateApproval(ctx context.Context, ref chat.CardRef, card chat.Message) error {
	if ref.Platform != chat.PlatformTeams || ref.Channel == "" || ref.ID == "" {
		return fmt.Errorf("teams: update approval card: %+v is not a Teams card", ref)
	}
	c := RenderCard(card)
	// Remember it first: a click being answered right now must show this state even if
	// the PUT below fails.
	a.cards.put(ref.Channel, ref.ID, c)
	if err := a.conn.updateActivity(ctx, a.opts.ServiceURL, ref.Channel, ref.ID, cardActivity(c, card.Text)); err != nil {
		return fmt.Errorf("teams: update approval card for %s: %w", card.RequestID, err)
	}
	return nil
}

// Tell sends msg to a person in a 1:1 chat with the bot. Teams users are addressed by
// their Teams id; others by their directory object id.
func (a *Adapter) Tell(ctx context.Context, to chat.Caller, msg chat.Message) error {
	member := outAccount{ID: to.ObjectID}
	if to.Platform == chat.PlatformTeams && to.ChatID != "" {
		member = outAccount{ID: to.ChatID, AadObjectID: to.ObjectID}
	}
	if member.ID == "" {
		return errors.New("teams: tell: the person has neither a Teams id nor an object id")
	}
	if _, err := a.sendPersonal(ctx, a.opts.ServiceURL, member, renderActivity(msg)); err != nil {
		return fmt.Errorf("teams: tell %s: %w", member.ID, err)
	}
	return nil
}

// PostAudit posts one audit line as a new thread in the audit channel. It is sent as
// plain text so that names and reasons typed by users cannot inject markdown links.
func (a *Adapter) PostAudit(ctx context.Context, text string) error {
	if a.opts.AuditChannel == "" {
		return errors.New("teams: post audit line: no audit channel configured")
	}
	if err := a.postChannel(ctx, a.opts.AuditChannel, text); err != nil {
		return fmt.Errorf("teams: post audit line: %w", err)
	}
	return nil
}

var _ chat.SecurityPoster = (*Adapter)(nil)

// PostSecurity posts an alert as a new thread in the security channel, if one is
// configured, as plain text like an audit line.
func (a *Adapter) PostSecurity(ctx context.Context, text string) error {
	if a.opts.SecurityChannel == "" {
		return nil
	}
	if err := a.postChannel(ctx, a.opts.SecurityChannel, text); err != nil {
		return fmt.Errorf("teams: post alert: %w", err)
	}
	return nil
}

// postChannel starts a thread of plain text in a channel.
func (a *Adapter) postChannel(ctx context.Context, channel, text string) error {
	_, err := a.conn.createConversation(ctx, a.opts.ServiceURL, conversationParams{
		IsGroup:     true,
		ChannelData: &outChannelData{Channel: &idRef{ID: channel}, Tenant: &idRef{ID: a.opts.TenantID}},
		Activity:    &outActivity{Type: "message", Text: text, TextFormat: "plain"},
		TenantID:    a.opts.TenantID,
	})
	return err
}

// sendPersonal opens (or reopens: the call is idempotent) the 1:1 chat with member and
// posts act in it. It returns the activity id.
func (a *Adapter) sendPersonal(ctx context.Context, serviceURL string, member outAccount, act *outActivity) (string, error) {
	_, id, err := a.sendPersonalAt(ctx, serviceURL, member, act)
	return id, err
}

// sendPersonalAt is sendPersonal that also returns the 1:1 conversation's id, for a
// card whose clicks must later be answered with the card as it is.
func (a *Adapter) sendPersonalAt(ctx context.Context, serviceURL string, member outAccount, act *outActivity) (conv, id string, err error) {
	res, err := a.conn.createConversation(ctx, serviceURL, conversationParams{
		IsGroup:     false,
		Bot:         a.botAccount(),
		Members:     []outAccount{member},
		ChannelData: &outChannelData{Tenant: &idRef{ID: a.opts.TenantID}},
		TenantID:    a.opts.TenantID,
	})
	if err != nil {
		return "", "", err
	}
	id, err = a.conn.sendActivity(ctx, serviceURL, res.ID, act)
	return res.ID, id, err
}

// renderActivity turns a message into an activity: a plain-text message when it is one
// line of text, otherwise an Adaptive Card (the request form when it has one).
func renderActivity(m chat.Message) *outActivity {
	if m.Form == nil && m.Title == "" && len(m.Sections) == 0 && len(m.Buttons) == 0 {
		return &outActivity{Type: "message", Text: m.Text, TextFormat: "plain"}
	}
	return cardActivity(messageCard(m), m.Text)
}

// messageCard is m as a card: its form when it has one (a manager asked to vouch),
// otherwise its text, sections and buttons.
func messageCard(m chat.Message) Card {
	if m.Form != nil {
		return RenderForm(m, *m.Form, m.Errors, formState{})
	}
	return RenderCard(m)
}

// cardCache remembers the last card of each approval message, so that the answer to a
// click (which Teams shows only to the clicker) can show the card as it now is.
type cardCache struct {
	mu    sync.Mutex
	m     map[string]Card
	order []string
	max   int
}

func newCardCache(max int) *cardCache { return &cardCache{m: map[string]Card{}, max: max} }

func cardKey(conversation, activityID string) string {
	return baseConversation(conversation) + "|" + activityID
}

func (c *cardCache) put(conversation, activityID string, card Card) {
	k := cardKey(conversation, activityID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		c.order = append(c.order, k)
		if len(c.order) > c.max {
			delete(c.m, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.m[k] = card
}

func (c *cardCache) get(conversation, activityID string) (Card, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	card, ok := c.m[cardKey(conversation, activityID)]
	return card, ok
}
