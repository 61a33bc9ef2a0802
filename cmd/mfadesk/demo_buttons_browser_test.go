package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mfadesk/mfadesk/approvals"
)

// TestDemoButtonsInBrowser: in the demo page, diagnose's "File a request" opens the
// request form, and the filed confirmation's "Cancel request" cancels it (the approval
// card loses its buttons and the audit channel shows the cancel).
func TestDemoButtonsInBrowser(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d := startDemo(t, "--db", filepath.Join(t.TempDir(), "demo.db"))
	b := newBrowser(t, ctx)

	b.do("open the demo", chromedp.Navigate(d.url))
	b.waitJS("Hana chosen first", `document.querySelector('[data-testid="persona-hana"]').getAttribute("aria-pressed") === "true"`)
	b.send("diagnose mfatest2@" + demoDomain)
	b.waitJS("the File button", `!!document.querySelector('[data-testid="click-file"]')`)
	b.do("click File a request", chromedp.Click(tid("click-file")))
	b.waitJS("the request form", `!!document.querySelector('[data-testid="request-form"]')`)
	b.do("fill in and file",
		chromedp.SendKeys(tid("form-reason"), "Authenticator never finished registering; user is locked out"),
		chromedp.SetValue(tid("form-verification"), string(approvals.VerifyVideoWithID)),
		chromedp.SendKeys(tid("form-verification-detail"), "Teams video call, staff badge shown"),
		chromedp.SendKeys(tid("form-ticket"), "INC-1042"),
		chromedp.Click(tid("form-submit")),
	)
	b.waitJS("the Cancel button", `!!document.querySelector('[data-testid="click-cancel"]')`)
	if got := b.text("the confirmation", lastAnswer); !strings.Contains(got, "To read the id aloud: R-") {
		t.Errorf("confirmation %q shows no spoken id", got)
	}
	b.waitJS("the approval card", `!!document.querySelector('[data-testid="approval-card"] [data-testid="approve"]')`)
	b.do("click Cancel request", chromedp.Click(tid("click-cancel")))
	b.waitJS("the cancel answer", lastAnswer+`.includes("is cancelled")`)
	b.waitJS("the card without buttons", `document.querySelector('[data-testid="approval-card"]') && !document.querySelector('[data-testid="approval-card"] [data-testid="approve"]')`)
	b.waitJS("the cancel in the audit channel", `[...document.querySelectorAll('[data-testid="audit-line"]')].some(e => e.textContent.includes("request_cancelled"))`)

	b.mu.Lock()
	if len(b.exceptions) > 0 {
		t.Errorf("the page threw: %s", strings.Join(b.exceptions, "; "))
	}
	b.mu.Unlock()
}
