package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Handler is the inbound chat contract every adapter calls; *bot.Router implements it.
type Handler = chat.Handler

// Mode is how Slack reaches the adapter.
type Mode string

// Transports.
const (
	// ModeSocket receives over an outbound WebSocket (Socket Mode, app-level token):
	// no inbound port on the host that holds the Graph credentials.
	ModeSocket Mode = "socket"
	// ModeHTTP receives signed POSTs on /slack/commands and /slack/interactions.
	ModeHTTP Mode = "http"
)

// Options configure the adapter. The zero value of every optional field is a
// sensible default.
type Options struct {
	Mode Mode // socket (default) or http

	BotToken      string // xoxb-…: every Web API call (required)
	AppToken      string // xapp-… with connections:write: Socket Mode only
	SigningSecret string // HTTP mode only

	// APIURL is Slack's Web API base, default https://slack.com/api/ (GovSlack:
	// https://slack-gov.com/api/; tests: a slacktest server).
	APIURL string

	// TeamID is the workspace mfadesk serves; people from other workspaces are
	// refused. With EnterpriseID set (an org-wide Enterprise Grid install), membership
	// of that org counts instead. One of them is required.
	TeamID       string
	EnterpriseID string

	ApprovalsChannel string // channel id for approval cards (required)
	AuditChannel     string // channel id for audit events (required)
	// SecurityChannel, optional, also gets the alerts that someone may be
	// impersonating a user ("This is not me", "This is not them").
	SecurityChannel string

	Command string // the slash command, default /mfa

	Handler  Handler  // the router (required by New, not by NewNotifier)
	Resolver Resolver // Slack email → directory object id (required by New)

	Logger     *slog.Logger
	HTTPClient *http.Client     // for Web API calls and response_url posts
	Now        func() time.Time // clock, for tests

	IdentityTTL       time.Duration // how long a resolved Slack user is cached; default 5m
	IdentityCacheSize int           // default 1000

	MaxBodyBytes    int64 // HTTP request body limit; default 256 KiB
	ReplayCacheSize int   // signed requests (or envelopes) remembered; default 50,000

	// MetadataKey signs modal private_metadata. Default: derived from the bot token,
	// so every replica verifies what another opened (Socket Mode may deliver the
	// submission to any connection) without another secret to configure.
	MetadataKey []byte

	// ResponseURLHosts are the hosts (each with its subdomains) response_url may point
	// at; empty means DefaultResponseURLHosts, Slack's. Only a loopback host may be
	// plain http (tests: 127.0.0.1).
	ResponseURLHosts []string

	// OnRefused, if set, is called once for each caller refused before the router
	// sees them (another workspace; an identity that cannot act: guest, deactivated,
	// unmatched email), with that reason, for metrics.
	OnRefused func(reason string)

	CallTimeout     time.Duration // deadline of one Web API call; default 10s
	FollowUpTimeout time.Duration // deadline of the work after an ack; default 2m
	MaxFollowUps    int           // concurrent background jobs; default 32
	// SubmitBudget is how long a form submission may wait for the router before the
	// ack must go: its answer (field errors, the request id) belongs in the ack if it
	// is ready. Default 2s, inside Slack's 3 s.
	SubmitBudget time.Duration

	PingInterval time.Duration // Socket Mode: longest silence from Slack; default 30s
}

// Adapter is the Slack adapter: both transports, one handling path, and the
// chat.Notifier (through the embedded *Notifier).
type Adapter struct {
	*Notifier

	mode          Mode
	botToken      string
	appToken      string
	signingSecret []byte
	apiURL        string
	httpClient    *http.Client
	api           *goslack.Client
	command       string
	teamID        string
	enterpriseID  string

	h         Handler
	ids       *identities
	metaKey   []byte
	log       *slog.Logger
	now       func() time.Time
	respHost  []string
	onRefused func(reason string)

	maxBody      int64
	replay       *replayCache[[sha256.Size]byte]
	envelopes    *replayCache[string]
	callTimeout  time.Duration
	followUp     time.Duration
	submitBudget time.Duration
	pingInterval time.Duration

	base    context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	slots   chan struct{}
	closing atomic.Bool
	ready   atomic.Bool
}

func (o *Options) defaults() {
	if o.Mode == "" {
		o.Mode = ModeSocket
	}
	if o.APIURL == "" {
		o.APIURL = "https://slack.com/api/"
	}
	if !strings.HasSuffix(o.APIURL, "/") {
		o.APIURL += "/"
	}
	if o.Command == "" {
		o.Command = "/mfa"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxFollowUps <= 0 {
		o.MaxFollowUps = 32
	}
	if o.HTTPClient == nil {
		// Keep a connection per concurrent follow-up: the default transport keeps two
		// per host, so a burst of answers would pay a TLS handshake each.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = o.MaxFollowUps
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.IdentityTTL, 5*time.Minute)
	def(&o.CallTimeout, 10*time.Second)
	def(&o.FollowUpTimeout, 2*time.Minute)
	def(&o.SubmitBudget, 2*time.Second)
	def(&o.PingInterval, 30*time.Second)
	if o.IdentityCacheSize <= 0 {
		o.IdentityCacheSize = 1000
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 256 << 10
	}
	if o.ReplayCacheSize <= 0 {
		o.ReplayCacheSize = 50_000
	}
}

// checkOutbound validates what both New and NewNotifier need. Errors name the option,
// never its value: the values are secrets.
func (o *Options) checkOutbound() error {
	switch {
	case o.BotToken == "":
		return errors.New("slack: no bot token (xoxb-…)")
	case !strings.HasPrefix(o.BotToken, "xoxb-"):
		return errors.New("slack: the bot token must be a bot token (it starts with xoxb-)")
	case !validID(o.ApprovalsChannel, "CGD"):
		return errors.New("slack: approvals channel must be a channel id (C… or G…)")
	case !validID(o.AuditChannel, "CGD"):
		return errors.New("slack: audit channel must be a channel id (C… or G…)")
	case o.SecurityChannel != "" && !validID(o.SecurityChannel, "CGD"):
		return errors.New("slack: security channel must be a channel id (C… or G…)")
	case o.CallTimeout > 0 && o.CallTimeout < 100*time.Millisecond:
		return errors.New("slack: call timeout below 100ms")
	}
	return nil
}

func (o *Options) client() *goslack.Client {
	return goslack.New(o.BotToken, goslack.OptionAPIURL(o.APIURL), goslack.OptionHTTPClient(o.HTTPClient))
}

// NewNotifier builds only the outbound side (approval cards, DMs, audit posts). It
// needs BotToken, ApprovalsChannel, AuditChannel and optionally APIURL, HTTPClient,
// Logger and CallTimeout.
func NewNotifier(o Options) (*Notifier, error) {
	o.defaults()
	if err := o.checkOutbound(); err != nil {
		return nil, err
	}
	return &Notifier{api: o.client(), approvals: o.ApprovalsChannel, audit: o.AuditChannel, security: o.SecurityChannel, log: o.Logger, callTimeout: o.CallTimeout}, nil
}

// New checks the options and builds the adapter. HTTP mode without a signing secret
// and Socket Mode without an app-level token are refused here, before anything
// listens: guessing would fail open.
func New(o Options) (*Adapter, error) {
	o.defaults()
	if err := o.checkOutbound(); err != nil {
		return nil, err
	}
	switch o.Mode {
	case ModeHTTP:
		if o.SigningSecret == "" {
			return nil, errors.New("slack: HTTP mode needs the signing secret; without it requests cannot be verified")
		}
	case ModeSocket:
		if o.AppToken == "" {
			return nil, errors.New("slack: Socket Mode needs an app-level token (xapp-…) with the connections:write scope")
		}
		if !strings.HasPrefix(o.AppToken, "xapp-") {
			return nil, errors.New("slack: the app-level token must start with xapp-")
		}
	default:
		return nil, fmt.Errorf("slack: mode %q is neither socket nor http", o.Mode)
	}
	switch {
	case o.Handler == nil:
		return nil, errors.New("slack: no handler (the router)")
	case o.Resolver == nil:
		return nil, errors.New("slack: no resolver from Slack email to directory user")
	case o.TeamID == "" && o.EnterpriseID == "":
		return nil, errors.New("slack: team id (or enterprise id for an org-wide install) is required, to refuse other workspaces")
	case o.TeamID != "" && !validID(o.TeamID, "T"):
		return nil, errors.New("slack: team id must look like T…")
	case o.EnterpriseID != "" && !validID(o.EnterpriseID, "E"):
		return nil, errors.New("slack: enterprise id must look like E…")
	case !strings.HasPrefix(o.Command, "/") || len(o.Command) > 32:
		return nil, errors.New("slack: the command must start with / and be at most 32 characters")
	}
	key := o.MetadataKey
	if len(key) == 0 {
		m := hmac.New(sha256.New, []byte(o.BotToken))
		m.Write([]byte("mfadesk slack private_metadata key"))
		key = m.Sum(nil)
	}
	n, err := NewNotifier(o)
	if err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	a := &Adapter{
		Notifier:      n,
		mode:          o.Mode,
		botToken:      o.BotToken,
		appToken:      o.AppToken,
		signingSecret: []byte(o.SigningSecret),
		apiURL:        o.APIURL,
		httpClient:    o.HTTPClient,
		api:           n.api,
		command:       o.Command,
		teamID:        o.TeamID,
		enterpriseID:  o.EnterpriseID,
		h:             o.Handler,
		metaKey:       key,
		log:           o.Logger.With("component", "slack"),
		now:           o.Now,
		respHost:      o.ResponseURLHosts,
		onRefused:     o.OnRefused,
		maxBody:       o.MaxBodyBytes,
		replay:        newReplayCache[[sha256.Size]byte](o.ReplayCacheSize),
		envelopes:     newReplayCache[string](o.ReplayCacheSize),
		callTimeout:   o.CallTimeout,
		followUp:      o.FollowUpTimeout,
		submitBudget:  o.SubmitBudget,
		pingInterval:  o.PingInterval,
		base:          base,
		cancel:        cancel,
		slots:         make(chan struct{}, o.MaxFollowUps),
	}
	a.ids = &identities{
		api: n.api, resolver: o.Resolver, teamID: o.TeamID, enterpriseID: o.EnterpriseID,
		ttl: o.IdentityTTL, max: o.IdentityCacheSize, now: o.Now, callTimeout: o.CallTimeout,
		cache: map[string]cachedCaller{}, refused: a.refused,
	}
	if au, ok := o.Handler.(chat.IdentityAuditor); ok {
		a.ids.audit = au.RefusedIdentity
	}
	if o.Mode == ModeHTTP {
		a.ready.Store(true)
	}
	return a, nil
}

// Ready reports whether the adapter can receive: always in HTTP mode, while
// connected in Socket Mode. Wire it into the readiness endpoint.
func (a *Adapter) Ready() bool { return a.ready.Load() && !a.closing.Load() }

// Shutdown stops taking new work and waits for the work after acks (answers, card
// updates) until ctx ends; then it cancels what is left.
func (a *Adapter) Shutdown(ctx context.Context) error {
	a.closing.Store(true)
	done := make(chan struct{})
	go func() { a.wg.Wait(); close(done) }()
	defer a.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		a.cancel()
		<-done
		return fmt.Errorf("slack: shutdown: %w", ctx.Err())
	}
}

// spawn runs the work after an ack in the background, bounded in number and time.
func (a *Adapter) spawn(what string, fn func(ctx context.Context)) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		select {
		case a.slots <- struct{}{}:
		case <-a.base.Done():
			return
		}
		defer func() { <-a.slots }()
		ctx, cancel := context.WithTimeout(a.base, a.followUp)
		defer cancel()
		defer func() {
			// A panic in one answer must not take the bot down with every other
			// conversation; it is logged with its stack for the fix.
			if p := recover(); p != nil {
				a.log.Error("panic while answering", "what", what, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			}
		}()
		fn(ctx)
	}()
}
