package main

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

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
	opts := azcore.ClientOptions{Cloud: cloudFor(g.BaseURL, g.AuthorityHost)}
	switch g.Credential {
	case "none":
		return nil, nil
	case "client_secret":
		cred, err := azidentity.NewClientSecretCredential(g.TenantID, g.ClientID, g.ClientSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts})
		if err != nil {
			return nil, fmt.Errorf("create client secret credential: %w", err)
		}
		return cred, nil
	case "certificate":
		b, err := os.ReadFile(g.CertificateFile)
		if err != nil {
			return nil, fmt.Errorf("read graph.certificate_file: %w", err)
		}
		var pass []byte
		if g.CertificatePass != "" {
			pass = []byte(g.CertificatePass)
		}
		certs, key, err := azidentity.ParseCertificates(b, pass)
		if err != nil {
			return nil, fmt.Errorf("parse graph.certificate_file: %w", err)
		}
		cred, err := azidentity.NewClientCertificateCredential(g.TenantID, g.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: opts})
		if err != nil {
			return nil, fmt.Errorf("create certificate credential: %w", err)
		}
		return cred, nil
	case "managed_identity":
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if g.ClientID != "" {
			mo.ID = azidentity.ClientID(g.ClientID)
		}
		cred, err := azidentity.NewManagedIdentityCredential(mo)
		if err != nil {
			return nil, fmt.Errorf("create managed identity credential: %w", err)
		}
		return cred, nil
	case "workload_identity":
		cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: opts, TenantID: g.TenantID, ClientID: g.ClientID})
		if err != nil {
			return nil, fmt.Errorf("create workload identity credential: %w", err)
		}
		return cred, nil
	}
	return nil, fmt.Errorf("graph.credential %q is not supported", g.Credential)
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
