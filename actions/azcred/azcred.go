// Package azcred is the one place that turns configuration into an azidentity
// credential, for Microsoft Graph and for the Teams connector alike, so both read
// certificates and pick managed or workload identity the same way.
package azcred

import (
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Kinds of credential.
const (
	None             = "none"
	ClientSecret     = "client_secret"
	Certificate      = "certificate"
	ManagedIdentity  = "managed_identity"
	WorkloadIdentity = "workload_identity"
)

// Config names one credential. Callers validate what their own configuration
// requires (which kinds, which ids) before asking here.
type Config struct {
	Kind     string
	TenantID string
	// ClientID is the app registration's client id; for a managed identity, the
	// user-assigned identity's client id (empty: the system-assigned identity).
	ClientID string
	Secret   string
	// CertificateFile holds the certificate and its private key, PEM or PKCS#12;
	// CertificatePassword decrypts it.
	CertificateFile     string
	CertificatePassword string
	// Options are passed to azidentity (cloud, transport).
	Options azcore.ClientOptions
}

// New builds the credential. It returns nil for None. Keep one per process and
// audience: azidentity caches its tokens per credential.
func New(c Config) (azcore.TokenCredential, error) {
	co := c.Options
	switch c.Kind {
	case None:
		return nil, nil
	case ClientSecret:
		cred, err := azidentity.NewClientSecretCredential(c.TenantID, c.ClientID, c.Secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: co})
		if err != nil {
			return nil, fmt.Errorf("create client secret credential: %w", err)
		}
		return cred, nil
	case Certificate:
		b, err := os.ReadFile(c.CertificateFile)
		if err != nil {
			return nil, fmt.Errorf("read certificate: %w", err)
		}
		var pass []byte
		if c.CertificatePassword != "" {
			pass = []byte(c.CertificatePassword)
		}
		certs, key, err := azidentity.ParseCertificates(b, pass)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %s: %w", c.CertificateFile, err)
		}
		cred, err := azidentity.NewClientCertificateCredential(c.TenantID, c.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: co})
		if err != nil {
			return nil, fmt.Errorf("create certificate credential: %w", err)
		}
		return cred, nil
	case ManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		if c.ClientID != "" {
			mo.ID = azidentity.ClientID(c.ClientID)
		}
		cred, err := azidentity.NewManagedIdentityCredential(mo)
		if err != nil {
			return nil, fmt.Errorf("create managed identity credential: %w", err)
		}
		return cred, nil
	case WorkloadIdentity:
		cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: co, TenantID: c.TenantID, ClientID: c.ClientID})
		if err != nil {
			return nil, fmt.Errorf("create workload identity credential: %w", err)
		}
		return cred, nil
	}
	return nil, fmt.Errorf("credential kind %q is not %s, %s, %s, %s or %s", c.Kind, None, ClientSecret, Certificate, ManagedIdentity, WorkloadIdentity)
}
