package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mfadesk/mfadesk/approvals"
	"github.com/mfadesk/mfadesk/bot"
	"github.com/mfadesk/mfadesk/bot/web"
)

// brokenWords lists the words of visible table cells that the layout broke across
// lines ("Metho d"), and cells whose text overflows them. A word is a run of letters
// or digits: a break after a hyphen, an @ or a dot is where text may wrap.
const brokenWords = `(() => {
  const bad = [];
  for (const cell of document.querySelectorAll('table.grid-t td, table.grid-t th')) {
    if (cell.offsetParent === null) continue;
    const w = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let n; (n = w.nextNode());) {
      const re = /[\p{L}\p{N}]+/gu;
      for (let m; (m = re.exec(n.data));) {
        const r = document.createRange();
        r.setStart(n, m.index);
        r.setEnd(n, m.index + m[0].length);
        if (new Set([...r.getClientRects()].map((q) => Math.round(q.top))).size > 1) bad.push(m[0]);
      }
    }
    if (cell.scrollWidth > cell.clientWidth + 1) bad.push("overflowing cell " + JSON.stringify(cell.textContent.slice(0, 40)));
  }
  return bad.join(", ");
})()`

// wideTables counts the visible tables of more than three columns.
const wideTables = `String([...document.querySelectorAll('table.grid-t.wide')].filter((t) => t.offsetParent !== null).length)`

// scrolledAway says what scrolled the page away from the conversation on opening:
// the window, or the grid of panes that scrolls below 1100 px.
const scrolledAway = `(() => {
  const g = document.querySelector('[data-testid="grid"]');
  const parts = [];
  if (window.scrollY > 0) parts.push("window " + window.scrollY);
  if (g.scrollTop > 0) parts.push("grid " + g.scrollTop);
  const c = document.querySelector('[data-testid="conversation"]').getBoundingClientRect();
  if (c.top >= window.innerHeight || c.bottom <= 0) parts.push("conversation off screen at " + Math.round(c.top));
  return parts.join(", ");
})()`

// TestDemoLayoutInBrowser reads the demo as a person does, at 1024×768 and on a
// phone (390×844): tables keep their words whole (key–value rows when narrow),
// evidence keeps its lines, mfadesk's links are links and request ids copy in one
// click, cards after the fact speak in the past and say who closed them, the
// requester learns why a request was denied, the page opens on the conversation, the
// header stays small on a phone and the suggestion chips show that there are more.
// User text is never markup: a reason holding an <img onerror> stays text.
func TestDemoLayoutInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	d := startDemo(t, "--db", filepath.Join(t.TempDir(), "demo.db"))
	b := newBrowser(t, ctx)
	shots := t.ArtifactDir()
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Errorf("save screenshot: %v", err)
		}
	}
	fileRequest := func(verb, user, reason string) string {
		t.Helper()
		n := b.text("count cards", `String(document.querySelectorAll('[data-testid="approval-card"]').length)`)
		b.send(verb + " " + user + "@" + demoDomain)
		b.waitJS("the "+verb+" form", `!!document.querySelector('[data-testid="request-form"]')`)
		b.do("fill in the "+verb+" form",
			chromedp.SendKeys(tid("form-reason"), reason),
			chromedp.SetValue(tid("form-verification"), string(approvals.VerifyInPerson)),
			chromedp.SendKeys(tid("form-verification-detail"), "Badge checked at the desk"),
			chromedp.SendKeys(tid("form-ticket"), "INC-2001"),
			chromedp.Click(tid("form-submit")),
		)
		b.waitJS("a new card", `document.querySelectorAll('[data-testid="approval-card"]').length > `+n)
		return b.text("the new card's request id", `[...document.querySelectorAll('[data-testid="approval-card"]')].pop().dataset.request`)
	}
	cardSel := func(id string) string { return `[data-testid="approval-card"][data-request="` + id + `"]` }
	card := func(id string) string { return `document.querySelector('` + cardSel(id) + `')` }

	b.do("open the demo at 1024×768", chromedp.EmulateViewport(1024, 768), chromedp.Navigate(d.url))
	b.waitJS("every persona", `document.querySelectorAll('button.persona').length === `+strconv.Itoa(len(demoPersonas)))

	// 16.2, 16.9: evidence one item a line; the security-info page is a link.
	b.send("diagnose mfatest2@" + demoDomain)
	b.waitJS("evidence on its own lines", `[...document.querySelectorAll('[data-testid="evidence"]')].some((e) => e.innerText.trim().split("\n").length >= 3)`)
	b.waitJS("the security-info link", `[...document.querySelectorAll('[data-testid="bot-message"] a[data-testid="link"]')].some((a) => a.href === "https://aka.ms/mysecurityinfo" && a.rel === "noopener noreferrer")`)

	// User text stays text, on the card and everywhere.
	const xss = `<img src=x onerror="window.__pwned=1"> phone stolen`
	denied := fileRequest("revoke", "fiona.failures", xss)
	b.waitJS("the reason shown as text", card(denied)+`.textContent.includes('<img src=x onerror="window.__pwned=1">')`)
	if got := b.text("markup from user text", `String(document.querySelectorAll('[data-testid="approval-card"] img').length) + " " + String(window.__pwned)`); got != "0 undefined" {
		t.Errorf("a reason became markup: %s", got)
	}
	// 16.9: the acknowledgement's request id is selected whole by its copy button.
	b.do("copy the request id", chromedp.Click(`[data-testid="bot-message"]:last-of-type [data-testid="copy-id"]`))
	b.waitJS("the id selected", `window.getSelection().toString() === "`+denied+`"`)
	if got := b.text("id selection", `getComputedStyle(document.querySelector('[data-testid="request-id"]')).userSelect`); got != "all" {
		t.Errorf("a request id is selected with user-select %q, want all (one click)", got)
	}

	// 16.4: Hana cancels her own request; the card says who and when, and that nothing ran.
	cancelled := fileRequest("reregister", "mfatest2", "Authenticator never finished registering")
	b.send("cancel " + cancelled)
	b.waitJS("the card cancelled", card(cancelled)+`.dataset.state === "cancelled"`)
	txt := b.text("the cancelled card", card(cancelled)+`.textContent`)
	for _, want := range []string{"Cancelled", "by Hana Helpdesk", "nothing ran", "Nothing ran"} {
		if !strings.Contains(txt, want) {
			t.Errorf("the cancelled card lacks %q:\n%s", want, txt)
		}
	}
	for _, not := range []string{"What will run", "On approval"} {
		if strings.Contains(txt, not) {
			t.Errorf("the cancelled card still says %q:\n%s", not, txt)
		}
	}
	open := fileRequest("revoke", "mfatest2", "Session hijack suspected on a kiosk")

	// 16.3: Sam denies; Hana's inbox says by whom and why; the card says nothing ran.
	b.as("sam")
	b.do("Sam denies", chromedp.Click(cardSel(denied)+` [data-testid="deny"]`))
	b.do("Sam gives the reason", chromedp.SendKeys(cardSel(denied)+` [data-testid="deny-justification"]`, "No sign-ins from a new device; call the user first"),
		chromedp.Click(cardSel(denied)+` [data-testid="deny-confirm"]`))
	b.waitJS("the card denied", card(denied)+`.dataset.state === "denied"`)
	if txt := b.text("the denied card", card(denied)+`.textContent`); strings.Contains(txt, "What will run") || !strings.Contains(txt, "Nothing ran") {
		t.Errorf("the denied card:\n%s", txt)
	}
	b.as("hana")
	b.waitJS("the reason in Hana's inbox", `[...document.querySelectorAll('[data-testid="inbox-message"]')].some((e) => e.textContent.includes("is denied by Sam") && e.textContent.includes("call the user first"))`)

	// 16.1: the tables a helpdesk reads, as Alex (helpdesk and approver).
	b.as("alex")
	for _, cmd := range []string{"methods mfatest2@" + demoDomain, "signins fiona.failures@" + demoDomain, "pending", "show " + open} {
		b.send(cmd)
	}
	b.waitJS("four wide tables", wideTables+` >= "4"`)

	for _, vp := range []struct {
		name          string
		width, height int64
		maxHeader     int
	}{
		{"1024x768", 1024, 768, 130},
		{"390x844", 390, 844, 130},
	} {
		outer := t
		t.Run(vp.name, func(t *testing.T) {
			b.t = t
			defer func() { b.t = outer }()
			b.do("reload at "+vp.name, chromedp.EmulateViewport(vp.width, vp.height), chromedp.Navigate(d.url))
			b.waitJS("Alex's conversation", `document.querySelectorAll('table.grid-t').length >= 4 && document.querySelectorAll('[data-testid="approval-card"]').length === 3`)
			// 16.10: the page opens on the conversation, not on the approvals pane.
			if away := b.text("initial scroll", scrolledAway); away != "" {
				t.Errorf("the page opened scrolled away from the conversation: %s", away)
			}
			if bad := b.text("broken words", brokenWords); bad != "" {
				t.Errorf("table cells break words or overflow: %s", bad)
			}
			h, _ := strconv.ParseFloat(b.text("header height", `String(document.querySelector('[data-testid="header"]').getBoundingClientRect().height)`), 64)
			if h > float64(vp.maxHeader) {
				t.Errorf("header is %.0f px high, want at most %d", h, vp.maxHeader)
			}
			overflow := b.text("chips overflow", `(() => { const c = document.querySelector('[data-testid="chips"]'); return String(c.scrollWidth > c.clientWidth + 1); })()`)
			more := b.text("more chips", `String(!document.querySelector('[data-testid="chips-more"]').hidden)`)
			if overflow != more {
				t.Errorf("chips overflow %s, but the more button shown %s", overflow, more)
			}
			shot("layout-" + vp.name + ".png")
			if overflow == "true" {
				b.do("show more chips", chromedp.Click(tid("chips-more")))
				b.waitJS("the chips scrolled", `document.querySelector('[data-testid="chips"]').scrollLeft > 0`)
			}
			// Scroll through the grid to photograph the rest for a human reader.
			b.do("scroll to the cards", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="approvals-channel"]').scrollIntoView()`))
			shot("layout-" + vp.name + "-cards.png")

			// Hana's view at this width: evidence lines, the denial's reason, the
			// cancelled card, and the page again opening on the conversation.
			b.as("hana")
			b.waitJS("Hana's inbox", `document.querySelectorAll('[data-testid="inbox-message"]').length > 0`)
			b.waitJS("evidence lines", `[...document.querySelectorAll('[data-testid="evidence"]')].some((e) => e.innerText.trim().split("\n").length >= 3)`)
			b.waitJS("the denial's reason", `[...document.querySelectorAll('[data-testid="inbox-message"]')].some((e) => e.textContent.includes("is denied by Sam") && e.textContent.includes("call the user first"))`)
			b.waitJS("the cancelled card", card(cancelled)+`.textContent.includes("Cancelled") && !`+card(cancelled)+`.textContent.includes("What will run")`)
			b.do("reload as Hana", chromedp.Reload())
			b.waitJS("Hana's cards", `document.querySelectorAll('[data-testid="approval-card"]').length === 3 && document.querySelectorAll('[data-testid="bot-message"]').length > 3`)
			if away := b.text("initial scroll", scrolledAway); away != "" {
				t.Errorf("as Hana, the page opened scrolled away from the conversation: %s", away)
			}
			if bad := b.text("broken words", brokenWords); bad != "" {
				t.Errorf("as Hana, table cells break words or overflow: %s", bad)
			}
			shot("hana-" + vp.name + ".png")
			b.as("alex")
		})
	}
	d.stop()

	// 16.4: an expired card, on a phone, says when it expired and that nothing ran.
	e := startDemo(t, "--db", filepath.Join(t.TempDir(), "expiry.db"), "--expiry", "400ms")
	expired := e.file("hana", "reregister mfatest1@"+demoDomain)
	b.do("open the second demo", chromedp.Navigate(e.url))
	b.waitJS("the card expired", card(expired)+` && `+card(expired)+`.dataset.state === "expired"`)
	txt = b.text("the expired card", card(expired)+`.textContent`)
	for _, want := range []string{"Expired", "before an approver decided; nothing ran", "Nothing ran: the request expired"} {
		if !strings.Contains(txt, want) {
			t.Errorf("the expired card lacks %q:\n%s", want, txt)
		}
	}
	for _, not := range []string{"What will run", "On approval", "deleted"} {
		if strings.Contains(txt, not) {
			t.Errorf("the expired card still says %q:\n%s", not, txt)
		}
	}
	b.do("scroll to the expired card", chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="approvals-channel"]').scrollIntoView()`))
	shot("expired-390x844.png")
	e.stop()

	b.mu.Lock()
	if len(b.exceptions) > 0 {
		t.Errorf("the page threw: %s", strings.Join(b.exceptions, "; "))
	}
	b.mu.Unlock()
}

// markupHandler answers every command with the caller's display name in each place
// a message can carry text.
type markupHandler struct{}

func (markupHandler) Handle(_ context.Context, ev bot.Event) bot.Message {
	n := ev.Caller.Name
	return bot.Message{Private: true, Title: "User " + n, Text: n, Sections: []bot.Section{{
		Heading: n, Text: n + " https://aka.ms/mysecurityinfo", Facts: []bot.Fact{{Label: n, Value: n}},
		Table:    &bot.Table{Columns: []string{n, "b", "c", "d"}, Rows: [][]string{{n, n, n, n}}},
		Findings: []bot.Finding{{Severity: bot.SeverityProblem, Title: n, Detail: n, Evidence: n + "\n" + n}},
		Note:     n,
	}}}
}

func (markupHandler) Submit(context.Context, bot.Caller, bot.FormSubmission) bot.Message {
	return bot.Refuse("no")
}

func (markupHandler) Decide(context.Context, bot.Caller, bot.Decision) bot.Message {
	return bot.Refuse("no")
}

// TestWebChatNameIsNotMarkup: a directory display name holding <script> or an
// <img onerror> is shown as text in the persona switcher, the conversation, a card
// and the inbox; nothing of it runs, and no element comes from it.
func TestWebChatNameIsNotMarkup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const name = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">Eve`
	srv, err := web.New([]web.Persona{{ID: "eve", Name: name, Role: "<u>role</u>", UPN: "eve@mfademo.example"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler(markupHandler{}))
	defer hs.Close()
	card := markupHandler{}.Handle(ctx, bot.Event{Caller: bot.Caller{Name: name}})
	card.RequestID = "R-7KQ2M4XDAAAAAAAAAAAAAAAAAA"
	if _, err := srv.PostApproval(ctx, card); err != nil {
		t.Fatal(err)
	}
	if err := srv.Tell(ctx, bot.Caller{Platform: "web", ChatID: "eve"}, card); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, ctx)
	b.do("open the chat", chromedp.Navigate(hs.URL))
	b.waitJS("the persona", `document.querySelectorAll('button.persona').length === 1`)
	b.send("user eve")
	b.waitJS("the card and the inbox", `!!document.querySelector('[data-testid="approval-card"]') && !!document.querySelector('[data-testid="inbox-message"]')`)
	got := b.text("markup from the name", `JSON.stringify({
		pwned: String(window.__pwned),
		elements: document.querySelectorAll('script:not([src]), img, u').length,
		shown: [...document.querySelectorAll('[data-testid="bot-message"], [data-testid="approval-card"], [data-testid="inbox-message"], button.persona')]
			.map((e) => e.textContent.includes('<script>window.__pwned=1</script>')).join(),
		links: [...document.querySelectorAll('a')].map((a) => a.href).join(" "),
	})`)
	want := `{"pwned":"undefined","elements":0,"shown":"true,true,true,true","links":"https://aka.ms/mysecurityinfo https://aka.ms/mysecurityinfo"}`
	if got != want {
		t.Errorf("a display name with markup:\n got %s\nwant %s", got, want)
	}
}
