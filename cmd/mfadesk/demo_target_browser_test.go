package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mfadesk/mfadesk/approvals"
)

// TestDemoTargetInBrowser tells the target's side of the story in headless Chromium:
// Hana files a re-register for MFA Test 2 and is told the number to ask for; as MFA
// Test 2 the confirmation is in the inbox with three numbers and "This is not me";
// picking Hana's number puts "Verified by mfadesk … (number match)" on the card Hana
// sees; once Alex approved it, the notice of the change arrives, with "This is not
// me". Then Hana files a revoke, and MFA Test 2 presses "This is not me": the
// request is cancelled (its card says by whom), the audit channel shows the alert with the freeze, Hana's
// inbox says why, and a new request about the user is refused as frozen.
func TestDemoTargetInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDemo(t, "--db", filepath.Join(t.TempDir(), "demo.db"))
	b := newBrowser(t, ctx)
	b.do("open the demo", chromedp.Navigate(d.url))
	b.waitJS("every persona", `document.querySelectorAll('button.persona').length === `+strconv.Itoa(len(demoPersonas)))
	b.waitJS("the target persona", `document.querySelector('[data-testid="persona-mfatest2"]').textContent.includes("MFA Test 2")`)

	card := func(id string) string {
		return `document.querySelector('[data-testid="approval-card"][data-request="` + id + `"]')`
	}
	// file files a request about MFA Test 2 as Hana and returns its id and the number
	// Hana is told to ask for. Hana's conversation is shown again first: it holds the
	// acknowledgement of the request filed before, if any.
	file := func(verb, ticket, before string) (string, string) {
		t.Helper()
		b.as("hana")
		if before != "" {
			b.waitJS("Hana's conversation", `[...document.querySelectorAll('[data-testid="bot-message"]')].some((e) => e.textContent.includes("`+before+`"))`)
		}
		n := b.text("count cards", `String(document.querySelectorAll('[data-testid="approval-card"]').length)`)
		b.send(verb + " mfatest2@" + demoDomain)
		b.waitJS("the "+verb+" form", `!!document.querySelector('[data-testid="request-form"]')`)
		b.do("fill in the "+verb+" form",
			chromedp.SendKeys(tid("form-reason"), "Caller says the phone was lost"),
			chromedp.SetValue(tid("form-verification"), string(approvals.VerifyVideoWithID)),
			chromedp.SendKeys(tid("form-verification-detail"), "Teams video call, staff badge shown"),
			chromedp.SendKeys(tid("form-ticket"), ticket),
			chromedp.Click(tid("form-submit")),
		)
		b.waitJS("a new card", `document.querySelectorAll('[data-testid="approval-card"]').length > `+n)
		id := b.text("the new card's request id", `[...document.querySelectorAll('[data-testid="approval-card"]')].pop().dataset.request`)
		b.waitJS("the number to ask for", `[...document.querySelectorAll('[data-testid="bot-message"]')].some((e) => e.textContent.includes("`+id+`") && /pick \d\d/.test(e.textContent))`)
		said := b.text("Hana's acknowledgement", `[...document.querySelectorAll('[data-testid="bot-message"]')].filter((e) => e.textContent.includes("`+id+`") && /pick \d\d/.test(e.textContent)).pop().textContent`)
		m := regexp.MustCompile(`MFA Test 2 was asked in the demo to confirm: ask them to pick (\d\d)`).FindStringSubmatch(said)
		if m == nil {
			t.Fatalf("Hana's acknowledgement names no number for MFA Test 2: %s", said)
		}
		return id, m[1]
	}
	// confirmation is the target's inbox message about request id.
	confirmation := func(id string) string {
		return `[...document.querySelectorAll('[data-testid="inbox-message"]')].find((e) => e.textContent.includes("` + id + `") && e.querySelector('[data-testid="target-actions"]'))`
	}

	// 1. The user confirms by picking the agent's number.
	reregister, number := file("reregister", "INC-3001", "")
	b.as("mfatest2")
	b.waitJS("the confirmation in the inbox", `!!`+confirmation(reregister))
	picks := b.text("the numbers offered", `[...`+confirmation(reregister)+`.querySelectorAll('[data-testid="pick"]')].map((e) => e.textContent).join(" ")`)
	if n := len(strings.Fields(picks)); n != 3 || !strings.Contains(picks, number) {
		t.Fatalf("the confirmation offers %q, want three numbers with %s", picks, number)
	}
	if got := b.text("not me", `String(`+confirmation(reregister)+`.querySelectorAll('[data-testid="not_me"]').length)`); got != "1" {
		t.Fatalf("%s \"This is not me\" buttons", got)
	}
	b.shot("target-confirmation.png")
	b.do("pick Hana's number", chromedp.Evaluate[chromedp.Void](`[...`+confirmation(reregister)+`.querySelectorAll('[data-testid="pick"]')].find((e) => e.textContent === "`+number+`").click()`))
	b.waitJS("the thanks in the inbox", `[...document.querySelectorAll('[data-testid="inbox-message"]')].some((e) => e.textContent.includes("you confirmed request `+reregister+`"))`)
	b.as("hana")
	b.waitJS("the card verified by mfadesk", card(reregister)+` && /Verified by mfadesk: the user confirmed in the demo at \d\d:\d\d UTC \(number match\)/.test(`+card(reregister)+`.textContent)`)

	// Alex approves the verified request; it runs, and the user gets the notice.
	b.as("alex")
	b.do("Alex approves", chromedp.Click(`[data-testid="approval-card"][data-request="`+reregister+`"] [data-testid="approve"]`))
	b.waitJS("the request carried out", card(reregister)+`.dataset.state === "done"`)
	b.as("mfatest2")
	b.waitJS("the notice after the change", `[...document.querySelectorAll('[data-testid="inbox-message"]')].some((e) => e.textContent.includes("Your sign-in security was changed") && e.textContent.includes("`+reregister+`") && e.querySelector('[data-testid="not_me"]'))`)

	// 2. The user did not ask: "This is not me" cancels, freezes, alerts, tells Hana.
	revoke, _ := file("revoke", "INC-3002", reregister)
	b.as("mfatest2")
	b.waitJS("the second confirmation", `!!`+confirmation(revoke))
	b.do("press This is not me", chromedp.Evaluate[chromedp.Void](confirmation(revoke)+`.querySelector('[data-testid="not_me"]').click()`))
	b.waitJS("the user told", `[...document.querySelectorAll('[data-testid="inbox-message"]')].some((e) => e.textContent.includes("Nothing will be changed on your account: 1 request(s) were cancelled"))`)
	b.waitJS("the card cancelled", card(revoke)+`.dataset.state === "cancelled"`)
	if txt := b.text("the cancelled card", card(revoke)+`.textContent`); !strings.Contains(txt, "said they did not ask for it") || strings.Contains(txt, "requester cancelled") {
		t.Errorf("the card of the request the user denied:\n%s", txt)
	}
	b.shot("target-not-me.png")
	b.waitJS("the alert with the freeze", `[...document.querySelectorAll('[data-testid="audit-line"]')].some((e) => e.textContent.includes("ALERT") && e.textContent.includes("This is not me") && e.textContent.includes("frozen until"))`)
	b.waitJS("the freeze in the audit chain", `[...document.querySelectorAll('[data-testid="audit-line"]')].some((e) => e.textContent.includes("target_frozen"))`)
	b.as("hana")
	b.waitJS("Hana told why", `[...document.querySelectorAll('[data-testid="inbox-message"]')].some((e) => e.textContent.includes("`+revoke+`") && e.textContent.includes("was cancelled because") && e.textContent.includes("not them") && e.textContent.includes("frozen until"))`)
	b.send("revoke mfatest2@" + demoDomain)
	if got := b.text("Hana's new request", lastAnswer); !strings.Contains(got, "frozen") {
		t.Errorf("a request about the frozen user answered %q", got)
	}

	// On a phone the personas are one row that scrolls sideways: the page opens with
	// the chosen persona (the last, here) scrolled into view, under a compact header.
	b.as("mfatest2")
	b.do("reopen on a phone", chromedp.EmulateViewport(390, 844), chromedp.Navigate(d.url))
	b.waitJS("MFA Test 2 chosen", `document.querySelector('[data-testid="persona-mfatest2"]').getAttribute("aria-pressed") === "true"`)
	if got := b.text("the chosen persona in view", `(() => {
		const r = document.querySelector('[data-testid="persona-switcher"]').getBoundingClientRect();
		const q = document.querySelector('[data-testid="persona-mfatest2"]').getBoundingClientRect();
		const h = document.querySelector('[data-testid="header"]').getBoundingClientRect().height;
		return (q.left >= r.left - 1 && q.right <= r.right + 1 ? "in view" : "out of view " + q.left + ".." + q.right + " of " + r.left + ".." + r.right) + ", header " + (h <= 130 ? "compact" : h + " px");
	})()`); got != "in view, header compact" {
		t.Errorf("on a phone: %s", got)
	}
	b.shot("target-phone.png")

	b.mu.Lock()
	if len(b.exceptions) > 0 {
		t.Errorf("the page threw: %s", strings.Join(b.exceptions, "; "))
	}
	b.mu.Unlock()
	d.stop()
	verifyDemoAudit(t, d.db)
}

// shot saves a screenshot among the test's artifacts, for a human reader.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.t.ArtifactDir(), name), png, 0o644); err != nil {
		b.t.Errorf("save screenshot: %v", err)
	}
}
