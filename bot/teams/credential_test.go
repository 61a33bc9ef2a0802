package teams

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mfadesk/mfadesk/bot/teams/teamstest"
)

func TestNewCredential(t *testing.T) {
	dir := t.TempDir()
	key := teamstest.RSAKeys()[0]
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mfadesk-bot"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemFile := filepath.Join(dir, "bot.pem")
	pemBytes := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(t, key)})...)
	if err := os.WriteFile(pemFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		c    CredentialConfig
		ok   bool
	}{
		{"client secret", CredentialConfig{Kind: "client_secret", TenantID: testTenant, AppID: testAppID, Secret: "s3cret"}, true},
		{"certificate", CredentialConfig{Kind: "certificate", TenantID: testTenant, AppID: testAppID, CertificateFile: pemFile}, true},
		{"managed identity", CredentialConfig{Kind: "managed_identity", AppID: testAppID}, true},
		{"secret without tenant", CredentialConfig{Kind: "client_secret", AppID: testAppID, Secret: "s"}, false},
		{"botframework.com tenant", CredentialConfig{Kind: "client_secret", TenantID: "botframework.com", AppID: testAppID, Secret: "s"}, false},
		{"no secret", CredentialConfig{Kind: "client_secret", TenantID: testTenant, AppID: testAppID}, false},
		{"missing certificate", CredentialConfig{Kind: "certificate", TenantID: testTenant, AppID: testAppID, CertificateFile: filepath.Join(dir, "none.pem")}, false},
		{"no app id", CredentialConfig{Kind: "managed_identity"}, false},
		{"multi-tenant password flow", CredentialConfig{Kind: "password", AppID: testAppID}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cred, err := NewCredential(c.c)
			if c.ok != (err == nil) || c.ok != (cred != nil) {
				t.Fatalf("credential %T, error %v", cred, err)
			}
		})
	}
}

func mustPKCS8(t *testing.T, key any) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
