package teams

import (
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/mfadesk/mfadesk/actions/azcred"
	"github.com/mfadesk/mfadesk/actions/guid"
)

// CredentialConfig says how the bot gets its outbound connector tokens. Azure has not
// created multi-tenant bots since July 2025: a bot is a single-tenant app registration
// (secret or certificate) or a user-assigned managed identity, and azidentity asks
// tenant TenantID (never the deprecated "botframework.com") for the token.
type CredentialConfig struct {
	// Kind is client_secret, certificate or managed_identity.
	Kind string
	// TenantID is the bot's home tenant (single-tenant app).
	TenantID string
	// AppID is the bot's Microsoft App ID: the app registration's client id, or the
	// user-assigned managed identity's client id.
	AppID string
	// Secret is the client secret (client_secret).
	Secret string
	// CertificateFile holds the certificate and its private key, PEM or PKCS#12
	// (certificate); CertificatePassword decrypts it.
	CertificateFile     string
	CertificatePassword string
	// Options are passed to azidentity (cloud, transport); may be nil.
	Options *azcore.ClientOptions
}

// NewCredential builds the azidentity credential for the connector. Keep one per
// process: azidentity caches its tokens per credential.
func NewCredential(c CredentialConfig) (azcore.TokenCredential, error) {
	var co azcore.ClientOptions
	if c.Options != nil {
		co = *c.Options
	}
	if !guid.Valid(c.AppID) {
		return nil, errors.New("teams credential: the app id must be the bot's Microsoft App ID (a GUID)")
	}
	needTenant := func() error {
		if !guid.Valid(c.TenantID) {
			return errors.New("teams credential: a single-tenant bot needs its tenant id (a GUID)")
		}
		return nil
	}
	switch c.Kind {
	case azcred.ClientSecret:
		if err := needTenant(); err != nil {
			return nil, err
		}
		if c.Secret == "" {
			return nil, errors.New("teams credential: no client secret")
		}
	case azcred.Certificate:
		if err := needTenant(); err != nil {
			return nil, err
		}
	case azcred.ManagedIdentity:
		// The user-assigned identity's client id is the bot's app id; azidentity turns
		// the scope into the resource https://api.botframework.com.
	default:
		return nil, fmt.Errorf("teams credential: kind %q is not client_secret, certificate or managed_identity", c.Kind)
	}
	cred, err := azcred.New(azcred.Config{
		Kind: c.Kind, TenantID: c.TenantID, ClientID: c.AppID, Secret: c.Secret,
		CertificateFile: c.CertificateFile, CertificatePassword: c.CertificatePassword, Options: co,
	})
	if err != nil {
		return nil, fmt.Errorf("teams credential: %w", err)
	}
	return cred, nil
}
