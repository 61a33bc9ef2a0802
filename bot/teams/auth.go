package teams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Well-known values of the Bot Framework authentication spec.
const (
	// BotFrameworkIssuer issues the tokens the Bot Framework channels send.
	BotFrameworkIssuer = "https://api.botframework.com"
	// DefaultOpenIDMetadataURL is the Bot Framework's OpenID metadata ("a static URL
	// that you can hardcode"); its keys carry the endorsements.
	DefaultOpenIDMetadataURL = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	// DefaultEntraMetadataURL lists the keys of Entra-issued tokens (single-tenant bots,
	// and Azure Bot Service's move to Entra tokens).
	DefaultEntraMetadataURL = "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration"
	// ClockSkew is the spec's "industry-standard clock-skew".
	ClockSkew = 5 * time.Minute
	// TeamsChannelID is the only channel this adapter serves.
	TeamsChannelID = "msteams"
)

const (
	maxTokenBytes     = 16 << 10
	maxMetadataBytes  = 256 << 10
	metadataRetryWait = 30 * time.Second
)

// AuthError is a refused inbound request. Reason is one line, safe to log and to show
// in tests; neither it nor Err ever contains the token.
type AuthError struct {
	Status int // 401: not authenticated; 403: authenticated but not allowed; 503: keys unavailable
	Reason string
	Err    error
}

func (e *AuthError) Error() string {
	if e.Err != nil {
		return e.Reason + ": " + e.Err.Error()
	}
	return e.Reason
}

func (e *AuthError) Unwrap() error { return e.Err }

func unauthorized(reason string, err error) error {
	return &AuthError{Status: http.StatusUnauthorized, Reason: reason, Err: err}
}

func forbidden(reason string, err error) error {
	return &AuthError{Status: http.StatusForbidden, Reason: reason, Err: err}
}

// validator checks the Bot Framework JWT of inbound requests.
type validator struct {
	appID        string
	bf           *keySource
	entra        *keySource
	entraIssuers map[string]string // issuer → tenant id it must carry in tid
	entraCallers []string          // app ids accepted from tenants other than the Bot Service's
	now          func() time.Time
	log          *slog.Logger
}

// BotServiceTenants are the Azure Bot Service's infrastructure tenants, whose
// Entra-issued tokens Microsoft's own hosting code accepts from channels.
var BotServiceTenants = []string{
	"d6d49420-f39b-4df7-a1dc-d59a935871db",
	"f8cdef31-a31e-4b4a-93e4-5f571e91255a",
	"69e9b82d-4842-4902-8d1e-abc5b98a55e8",
}

func isBotServiceTenant(t string) bool {
	for _, b := range BotServiceTenants {
		if strings.EqualFold(b, t) {
			return true
		}
	}
	return false
}

type validatorConfig struct {
	appID           string
	entraTenants    []string
	entraCallers    []string
	bfMetadataURL   string
	entraMetaURL    string
	client          *http.Client
	refreshEvery    time.Duration
	unknownKIDEvery time.Duration
	unknownKIDWait  time.Duration
	retryWait       time.Duration
	now             func() time.Time
	log             *slog.Logger
}

func newValidator(bg context.Context, c validatorConfig) *validator {
	v := &validator{appID: c.appID, now: c.now, log: c.log, entraIssuers: map[string]string{}, entraCallers: c.entraCallers}
	src := func(name, u string) *keySource {
		return &keySource{
			name: name, metadataURL: u, client: c.client, refreshEvery: c.refreshEvery,
			unknownEvery: c.unknownKIDEvery, unknownWait: c.unknownKIDWait, retryWait: c.retryWait,
			bg: bg, now: c.now, log: c.log,
		}
	}
	v.bf = src("botframework", c.bfMetadataURL)
	if len(c.entraTenants) > 0 {
		v.entra = src("entra", c.entraMetaURL)
		for _, t := range c.entraTenants {
			t = strings.ToLower(t)
			// Both token versions: v1 (sts.windows.net) and v2 (login.microsoftonline.com).
			v.entraIssuers["https://sts.windows.net/"+t+"/"] = t
			v.entraIssuers["https://login.microsoftonline.com/"+t+"/v2.0"] = t
		}
	}
	return v
}

// verified is what a valid token says; bind checks it against the activity.
type verified struct {
	issuer       string
	entra        bool
	serviceURL   string   // the serviceurl claim
	endorsements []string // of the signing key (Bot Framework keys only)
}

// verify checks the Authorization header. It runs before the body is decoded, so an
// unauthenticated request costs no JSON parsing; what needs the activity (serviceurl,
// endorsement of the channel) is checked by bind.
func (v *validator) verify(ctx context.Context, header string) (*verified, error) {
	raw, err := bearer(header)
	if err != nil {
		return nil, unauthorized(err.Error(), nil)
	}
	// The issuer is read before the signature is checked only to pick whose keys check
	// it. An issuer we do not accept is refused here, so a forged token can never make
	// the bot fetch keys from anywhere.
	var peek jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &peek); err != nil {
		return nil, unauthorized("malformed token", err)
	}
	src, tenant := v.bf, ""
	switch t, ok := v.entraIssuers[peek.Issuer]; {
	case peek.Issuer == BotFrameworkIssuer:
	case ok:
		src, tenant = v.entra, t
	default:
		return nil, unauthorized(fmt.Sprintf("issuer %q is not accepted", clip(peek.Issuer, 100)), nil)
	}
	keys, algs, err := src.ready(ctx)
	if err != nil {
		v.log.ErrorContext(ctx, "teams: signing keys unavailable", "source", src.name, "err", err)
		return nil, &AuthError{Status: http.StatusServiceUnavailable, Reason: "signing keys unavailable", Err: err}
	}

	var endorsements []string
	keyFunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("token names no key id (kid)")
		}
		// Only now, with the token's shape, issuer and algorithm checked, may an
		// unknown key id cost a key set fetch (bounded: see keySource.await).
		src.await(ctx, kid)
		key, err := keys.KeyfuncCtx(ctx)(t)
		if err != nil {
			return nil, fmt.Errorf("no signing key with id %q: %w", clip(kid, 64), err)
		}
		endorsements = src.endorsements(kid)
		return key, nil
	}
	claims := jwt.MapClaims{}
	p := jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithLeeway(ClockSkew),
		jwt.WithIssuer(peek.Issuer),
		jwt.WithAudience(v.appID),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(v.now),
	)
	if _, err := p.ParseWithClaims(raw, claims, keyFunc); err != nil {
		return nil, unauthorized(jwtReason(err), err)
	}
	out := &verified{issuer: peek.Issuer, entra: src == v.entra, endorsements: endorsements}
	if s, ok := claims["serviceurl"]; ok {
		if out.serviceURL, ok = s.(string); !ok {
			return nil, unauthorized("serviceurl claim is not a string", nil)
		}
	}
	// Tokens of the Bot Framework issuer carry no appid/azp: only the Bot Framework
	// holds their signing keys, and bind checks their serviceurl and the key's channel
	// endorsement. Entra tokens are another matter: Entra signs for every app.
	if out.entra {
		// Entra signing keys are shared by all tenants: without this binding a token any
		// tenant issued for our app id would pass.
		tid, _ := claims["tid"].(string)
		if !strings.EqualFold(tid, tenant) {
			return nil, unauthorized(fmt.Sprintf("tid %q does not match the issuer's tenant", clip(tid, 64)), nil)
		}
		// Any app registered in the issuing tenant can get a token with our audience,
		// and the unsigned activity it comes with names the user. So the calling app (appid in v1 tokens,
		// azp in v2) must be one we accept, as Microsoft's reference validation requires
		// for tokens not issued by the Bot Framework: from the Bot Service's tenants our
		// own app id or a named caller, from any other tenant only a named caller.
		caller, _ := claims["appid"].(string)
		if caller == "" {
			caller, _ = claims["azp"].(string)
		}
		accepted := v.entraCallers
		if isBotServiceTenant(tenant) {
			accepted = append([]string{v.appID}, v.entraCallers...)
		}
		if caller == "" || !slices.ContainsFunc(accepted, func(a string) bool { return strings.EqualFold(a, caller) }) {
			return nil, unauthorized(fmt.Sprintf("Entra token of tenant %s from app %q, which is not an accepted caller", tenant, clip(caller, 64)), nil)
		}
	}
	return out, nil
}

// bind checks the token against the activity it came with.
func (t *verified) bind(a *Activity) error {
	if a.ChannelID != TeamsChannelID {
		return forbidden(fmt.Sprintf("channel %q is not Microsoft Teams", clip(a.ChannelID, 32)), nil)
	}
	if t.entra {
		if t.serviceURL != "" && t.serviceURL != a.ServiceURL {
			return forbidden("serviceurl claim does not match the activity's serviceUrl", nil)
		}
		return nil
	}
	if t.serviceURL == "" {
		return unauthorized("token has no serviceurl claim", nil)
	}
	if t.serviceURL != a.ServiceURL {
		return forbidden("serviceurl claim does not match the activity's serviceUrl", nil)
	}
	if !slices.Contains(t.endorsements, a.ChannelID) {
		return forbidden(fmt.Sprintf("signing key is not endorsed for channel %q", a.ChannelID), nil)
	}
	return nil
}

// bearer extracts the token of "Authorization: Bearer <jwt>". The scheme is required
// (msbotbuilder-go made it optional) and the shape is checked before any parsing, so
// an oversized or dot-stuffed header never reaches the JWT parser.
func bearer(h string) (string, error) {
	if h == "" {
		return "", errors.New("no Authorization header")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errors.New("authorization is not a Bearer token")
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", errors.New("empty bearer token")
	}
	if len(tok) > maxTokenBytes {
		return "", errors.New("bearer token too long")
	}
	if strings.Count(tok, ".") != 2 {
		return "", errors.New("bearer token is not a JWT")
	}
	return tok, nil
}

// jwtReason names the failed check in words for the log and the tests.
func jwtReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "no signing key for the token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "signature or algorithm refused"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "required claim missing"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	}
	return "invalid token"
}

// checkURL accepts https URLs, and http ones only on loopback (local fakes in tests).
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("%q has no host", clip(raw, 100))
	case u.User != nil:
		return fmt.Errorf("%q carries credentials", clip(raw, 100))
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q is not https", clip(raw, 100))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
