package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mfadesk/mfadesk/actions/graphtest"
	"github.com/mfadesk/mfadesk/approvals"
)

// roleCred hands out an unsigned JWT carrying the given application roles.
type roleCred struct{ roles []string }

func (c roleCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	claims := fmt.Sprintf(`{"aud":"https://graph.microsoft.com","roles":["%s"]}`, strings.Join(c.roles, `","`))
	tok := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".sig"
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func TestValidate(t *testing.T) {
	tenant := graphtest.MustTenant("demo")
	gs := httptest.NewServer(graphtest.NewServer(tenant))
	defer gs.Close()
	slackAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = r.ParseForm()
		switch r.URL.Path {
		case "/auth.test":
			fmt.Fprint(w, `{"ok":true,"user":"mfadesk","team":"Contoso","team_id":"T0TEAM","user_id":"U0BOT"}`)
		case "/chat.postMessage":
			if r.Form.Get("channel") == "C0APPROVE" {
				fmt.Fprint(w, `{"ok":true,"channel":"C0APPROVE","ts":"1700000000.000100"}`)
			} else {
				fmt.Fprint(w, `{"ok":false,"error":"not_in_channel"}`)
			}
		default:
			fmt.Fprint(w, `{"ok":false,"error":"unknown_method"}`)
		}
	}))
	defer slackAPI.Close()
	helpdesk := tenant.GroupID("mfadesk-helpdesk")
	db := filepath.Join(t.TempDir(), "mfadesk.db")
	cfg := &Config{
		Database: db,
		Graph:    GraphConfig{BaseURL: gs.URL + "/v1.0", Credential: "client_secret"},
		// The approvers group id does not exist in the tenant.
		Groups: GroupsConfig{Helpdesk: helpdesk, Approvers: "99999999-9999-4999-8999-999999999999"},
		Slack:  SlackConfig{Enabled: true, BotToken: "xoxb-1", APIURL: slackAPI.URL + "/", ApprovalsChannel: "C0APPROVE", AuditChannel: "C0AUDIT", SecurityChannel: "C0SECURITY"},
	}
	deps := validateDeps{graphCred: func(GraphConfig) (azcore.TokenCredential, error) {
		return roleCred{roles: []string{"User.Read.All", "GroupMember.Read.All", "AuditLog.Read.All", "Directory.Read.All"}}, nil
	}}
	got := map[string]check{}
	for _, c := range validate(context.Background(), cfg, deps) {
		got[c.name] = c
	}
	want := []struct {
		name string
		pass bool
		text string
	}{
		{"database", true, "writable"},
		{"graph token", true, "acquired"},
		{"graph permissions", false, "Policy.Read.All, PrivilegedEligibilitySchedule.Read.AzureADGroup, RoleManagement.Read.Directory, User.RevokeSessions.All, UserAuthenticationMethod.ReadWrite.All"},
		{"groups.helpdesk", true, `"mfadesk-helpdesk" exists`},
		{"groups.approvers", false, "does not exist"},
		{"slack auth.test", true, "bot mfadesk in workspace Contoso"},
		{"slack.approvals_channel", true, "posted a check message to C0APPROVE"},
		{"slack.audit_channel", false, "not_in_channel — invite the bot"},
		{"slack.security_channel", false, "channel C0SECURITY: not_in_channel — invite the bot"},
	}
	for _, w := range want {
		c, ok := got[w.name]
		if !ok {
			t.Errorf("no check %q", w.name)
			continue
		}
		text := c.ok
		if c.err != nil {
			text = c.err.Error()
		}
		if (c.err == nil) != w.pass || !strings.Contains(text, w.text) {
			t.Errorf("%s: pass=%v %q, want pass=%v containing %q", w.name, c.err == nil, text, w.pass, w.text)
		}
	}

	// A running serve holds the database: validate says so instead of hanging.
	st, err := approvals.OpenBolt(db, approvals.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range validate(context.Background(), cfg, deps) {
		if c.name == "database" && (c.err == nil || !strings.Contains(c.err.Error(), "locked")) {
			t.Errorf("locked database: %+v", c)
		}
	}
}

func TestMissingRoles(t *testing.T) {
	if m := missingRoles([]string{"User.ReadWrite.All", "Directory.ReadWrite.All", "GroupMember.Read.All", "UserAuthenticationMethod.ReadWrite.All", "AuditLog.Read.All", "Policy.Read.All", "RoleManagement.Read.Directory", "PrivilegedAccess.Read.AzureADGroup"}); len(m) != 0 {
		t.Errorf("broader roles should cover: missing %v", m)
	}
	if _, err := tokenRoles("not-a-jwt"); err == nil {
		t.Error("opaque token accepted")
	}
}
