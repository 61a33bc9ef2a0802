package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"

	"github.com/mfadesk/mfadesk/actions/azcred"
	"github.com/mfadesk/mfadesk/bot/teams"
)

// cloudFor picks the sign-in authority that issues tokens for a Graph host: a national
// cloud's Graph accepts only its own cloud's tokens.
func cloudFor(graphBase, authorityOverride string) cloud.Configuration {
	c := cloud.AzurePublic
	if u, err := url.Parse(graphBase); err == nil {
		switch h := u.Hostname(); {
		case strings.HasSuffix(h, "graph.microsoft.us"): // GCC High and DoD
			c = cloud.AzureGovernment
		case strings.HasSuffix(h, "chinacloudapi.cn"):
			c = cloud.AzureChina
		}
	}
	if authorityOverride != "" {
		c.ActiveDirectoryAuthorityHost = authorityOverride
	}
	return c
}

// graphCredential builds the azidentity credential the config names. It returns nil
// for "none", which the Graph client accepts only on loopback.
func graphCredential(g GraphConfig) (azcore.TokenCredential, error) {
	switch g.Credential {
	case azcred.None, azcred.ClientSecret, azcred.Certificate, azcred.ManagedIdentity, azcred.WorkloadIdentity:
	default:
		return nil, fmt.Errorf("graph.credential %q is not supported", g.Credential)
	}
	cred, err := azcred.New(azcred.Config{
		Kind: g.Credential, TenantID: g.TenantID, ClientID: g.ClientID, Secret: g.ClientSecret,
		CertificateFile: g.CertificateFile, CertificatePassword: g.CertificatePass,
		Options: azcore.ClientOptions{Cloud: cloudFor(g.BaseURL, g.AuthorityHost)},
	})
	if err != nil {
		return nil, fmt.Errorf("graph credential: %w", err)
	}
	return cred, nil
}

// teamsCredential builds the bot's own credential for the connector, from its
// authority (national clouds: teams.authority_host).
func teamsCredential(t TeamsConfig) (azcore.TokenCredential, error) {
	c := teams.CredentialConfig{
		Kind: t.Credential, TenantID: t.TenantID, AppID: t.AppID,
		Secret: t.AppPassword, CertificateFile: t.CertificateFile, CertificatePassword: t.CertificatePass,
	}
	if t.AuthorityHost != "" {
		cl := cloud.AzurePublic
		cl.ActiveDirectoryAuthorityHost = t.AuthorityHost
		c.Options = &azcore.ClientOptions{Cloud: cl}
	}
	return teams.NewCredential(c)
}
