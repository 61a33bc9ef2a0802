package teams

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mfadesk/mfadesk/bot/chat"
)

// Teams clients may not send input values with Action.Execute in channels: a Deny
// whose invoke carries no justification at all (not even an empty one) cannot be
// completed on the channel card. The clicker then gets a deny form in their 1:1 chat
// with the bot, where inputs are sent. Its Deny button carries a pass: the approval
// card the first click came from, the request and the clicker, signed with a key that
// never leaves this process and valid for denyPassTTL. The decision made from the 1:1
// form is thus still bound to the approval card (the router checks that card), and
// the pass cannot be used by someone else, for another request, or made up.

const (
	dataDenyPass = "pass" // data key of the pass on the 1:1 deny form's button
	denyPassTTL  = 30 * time.Minute
)

type denyPass struct {
	Request string `json:"r"`
	Conv    string `json:"c"`
	Card    string `json:"a"`
	User    string `json:"u"` // aadObjectId of the clicker
	Expires int64  `json:"e"`
}

func newPassKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic(fmt.Sprintf("teams: random key: %v", err)) // crypto/rand does not fail on supported platforms
	}
	return k
}

func (a *Adapter) sealDenyPass(p denyPass) string {
	body, _ := json.Marshal(p)
	m := hmac.New(sha256.New, a.passKey)
	m.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// openDenyPass checks a pass for request reqID presented by user and returns the
// approval card it was issued on.
func (a *Adapter) openDenyPass(s, reqID, user string) (chat.CardRef, error) {
	b64body, b64mac, ok := strings.Cut(s, ".")
	body, err1 := base64.RawURLEncoding.DecodeString(b64body)
	mac, err2 := base64.RawURLEncoding.DecodeString(b64mac)
	if !ok || err1 != nil || err2 != nil {
		return chat.CardRef{}, errors.New("malformed pass")
	}
	m := hmac.New(sha256.New, a.passKey)
	m.Write(body)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return chat.CardRef{}, errors.New("pass not signed by this mfadesk")
	}
	var p denyPass
	if err := json.Unmarshal(body, &p); err != nil {
		return chat.CardRef{}, errors.New("malformed pass")
	}
	switch {
	case a.opts.Now().Unix() > p.Expires:
		return chat.CardRef{}, errors.New("pass expired")
	case p.Request != reqID:
		return chat.CardRef{}, errors.New("pass is for another request")
	case user == "" || !strings.EqualFold(p.User, user):
		return chat.CardRef{}, errors.New("pass is someone else's")
	}
	return chat.CardRef{Platform: chat.PlatformTeams, Channel: p.Conv, ID: p.Card}, nil
}

// renderDenyForm is the 1:1 deny form for request reqID, with its pass.
func renderDenyForm(reqID, pass string) Card {
	c := newCard("Deny request " + reqID)
	c.Body = append(c.Body,
		Element{Type: "TextBlock", Text: "Deny request " + reqID, Wrap: true, Weight: "Bolder", Size: "Medium"},
		textBlock("Teams did not send a justification from the channel card. Say here why you deny it; the requester sees this."),
		Element{Type: "Input.Text", ID: inputJustification, Label: "Justification", IsMultiline: true, MaxLength: 500, IsRequired: true,
			ErrorMessage: "Say why you deny the request."},
		Element{Type: "ActionSet", Actions: []Action{execute("Deny request", VerbDeny, "destructive", "auto",
			map[string]any{"request": reqID, dataDenyPass: pass})}},
	)
	return c
}
