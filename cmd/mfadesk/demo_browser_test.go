package main

import (
	"bytes"
	"cmp"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mfadesk/mfadesk/approvals"
)

var updateDemoScreenshot = flag.Bool("update-screenshot", false, "write docs/demo.png from TestDemoInBrowser")

// maxScreenshot keeps docs/demo.png small enough for the repository and the README.
const maxScreenshot = 300 << 10

// chromiumPath finds the browser. CI installs Debian's chromium; a missing browser
// fails the test rather than skipping it, so a broken CI image cannot pass quietly.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MFADESK_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium found: TestDemoInBrowser needs a headless Chromium. Install it (Debian: apt-get install chromium) or set MFADESK_CHROMIUM=/path/to/chrome.")
	return ""
}

// browser is one headless Chromium tab with bounded steps.
type browser struct {
	t   *testing.T
	ctx context.Context

	mu         sync.Mutex
	exceptions []string
}

func newBrowser(t *testing.T, ctx context.Context) *browser {
	t.Helper()
	var out lockedBuffer
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
		chromedp.CombinedOutput(&out),
	)
	t.Cleanup(cancelAlloc) // runs before TempDir's cleanup: the browser has exited
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	b := &browser{t: t, ctx: tab}
	// Start the browser now, so a browser that cannot start says so first.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1440, 900)); err != nil {
		t.Fatalf("start chromium: %v\n%s", err, out.String())
	}
	go func() {
		for ev, err := range chromedp.Events(tab, runtime.ExceptionThrown) {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.exceptions = append(b.exceptions, fmt.Sprintf("%s %s:%d", ev.ExceptionDetails.Text, ev.ExceptionDetails.URL, ev.ExceptionDetails.LineNumber))
			b.mu.Unlock()
		}
	}()
	return b
}

// stepTimeout bounds each wait; the whole test is bounded by its context.
const stepTimeout = 20 * time.Second

func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// waitJS polls a JavaScript condition until it holds or the step deadline passes.
func (b *browser) waitJS(what, expr string) {
	b.t.Helper()
	deadline := time.NewTimer(stepTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		lastErr = err
		select {
		case <-deadline.C:
			b.t.Fatalf("waiting for %s: not true within %s (last error %v): %s", what, stepTimeout, lastErr, expr)
		case <-b.ctx.Done():
			b.t.Fatalf("waiting for %s: %v", what, b.ctx.Err())
		case <-tick.C:
		}
	}
}

func (b *browser) text(what, expr string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return s
}

func tid(id string) chromedp.CSS { return chromedp.CSS(`[data-testid="` + id + `"]`) }

func (b *browser) as(persona string) {
	b.t.Helper()
	b.do("switch to "+persona, chromedp.Click(tid("persona-"+persona)))
	b.waitJS(persona+" chosen", `document.querySelector('[data-testid="persona-`+persona+`"]').getAttribute("aria-pressed") === "true"`)
}

// send types a command as the current persona and waits for mfadesk's answer.
func (b *browser) send(text string) {
	b.t.Helper()
	n := b.text("count answers", `String(document.querySelectorAll('[data-testid="bot-message"]').length)`)
	b.do("type "+text,
		chromedp.SendKeys(tid("command-input"), text),
		chromedp.Click(tid("command-send")),
	)
	b.waitJS("the answer to "+text, `document.querySelectorAll('[data-testid="bot-message"]').length > `+n)
}

// lastAnswer is the text of mfadesk's last answer in the conversation.
const lastAnswer = `[...document.querySelectorAll('[data-testid="bot-message"]')].pop().textContent`

// cardNote is the clicker's private note under the (only) approval card.
const cardNote = `((document.querySelector('[data-testid="approval-card"] [data-testid="card-note-text"]') || {}).textContent || "")`

// shrinkPNG re-encodes a screenshot with a palette of its 256 most frequent colours.
// A flat UI has few colours beyond the anti-aliasing of text, so the picture looks
// the same at about a third of Chromium's PNG size.
func shrinkPNG(b []byte) ([]byte, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode screenshot: %w", err)
	}
	r := img.Bounds()
	rgb := func(x, y int) color.RGBA {
		cr, cg, cb, _ := img.At(x, y).RGBA()
		return color.RGBA{uint8(cr >> 8), uint8(cg >> 8), uint8(cb >> 8), 0xff}
	}
	counts := map[color.RGBA]int{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			counts[rgb(x, y)]++
		}
	}
	colours := slices.Collect(maps.Keys(counts))
	slices.SortFunc(colours, func(a, b color.RGBA) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(uint32(a.R)<<16|uint32(a.G)<<8|uint32(a.B), uint32(b.R)<<16|uint32(b.G)<<8|uint32(b.B))
	})
	pal := color.Palette{}
	for _, c := range colours[:min(len(colours), 256)] {
		pal = append(pal, c)
	}
	out := image.NewPaletted(r, pal)
	index := map[color.RGBA]uint8{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := rgb(x, y)
			i, ok := index[c]
			if !ok {
				i = uint8(pal.Index(c))
				index[c] = i
			}
			out.SetColorIndex(x, y, i)
		}
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, out); err != nil {
		return nil, fmt.Errorf("encode screenshot: %w", err)
	}
	return buf.Bytes(), nil
}

// TestDemoInBrowser drives `mfadesk demo` in headless Chromium: diagnose, a request
// through its form, refusals for the requester and for Nora, approval by Alex, the
// card updated in place, the inbox and the audit channel, a denial with its
// justification; then the audit log of the stopped demo verifies. With
// -update-screenshot it writes docs/demo.png.
func TestDemoInBrowser(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d := startDemo(t, "--db", filepath.Join(t.TempDir(), "demo.db"))
	b := newBrowser(t, ctx)

	b.do("open the demo", chromedp.Navigate(d.url))
	b.waitJS("every persona", `document.querySelectorAll('button.persona').length === `+strconv.Itoa(len(demoPersonas)))
	b.waitJS("Hana chosen first", `document.querySelector('[data-testid="persona-hana"]').getAttribute("aria-pressed") === "true"`)

	// Diagnose finds the registration that was never finished.
	b.send("diagnose mfatest2@" + demoDomain)
	b.waitJS("the unverified-Authenticator finding", `[...document.querySelectorAll('[data-testid="finding-title"]')].some(e => e.textContent.includes("never verified: not usable"))`)

	// The request form: a missing field is named beside it, then the request is filed.
	b.send("reregister mfatest2@" + demoDomain)
	b.waitJS("the request form", `!!document.querySelector('[data-testid="request-form"]')`)
	b.do("fill in the form",
		chromedp.SendKeys(tid("form-reason"), "Authenticator never finished registering; user is locked out"),
		chromedp.SetValue(tid("form-verification"), string(approvals.VerifyVideoWithID)),
		chromedp.SendKeys(tid("form-verification-detail"), "Teams video call, staff badge shown"),
		chromedp.Click(tid("form-submit")),
	)
	b.waitJS("the ticket field's error", `document.querySelector('[data-testid="error-ticket"]').textContent.includes("ticket id")`)
	b.do("add the ticket and file", chromedp.SendKeys(tid("form-ticket"), "INC-1042"), chromedp.Click(tid("form-submit")))
	b.waitJS("the form filed", `!!document.querySelector('[data-testid="form-filed"]')`)
	b.waitJS("the approval card", `!!document.querySelector('[data-testid="approval-card"] [data-testid="approve"]')`)
	b.waitJS("the audit channel", `document.querySelectorAll('[data-testid="audit-line"]').length >= 1`)

	// Hana may not approve her own request.
	b.do("Hana approves her own request", chromedp.Click(tid("approve")))
	b.waitJS("the self-approval refusal", cardNote+`.includes("because you filed it")`)

	// Alex may not approve yet: a re-register wants the user's confirmation or the
	// manager's attestation, not only the agent's word.
	b.as("alex")
	b.do("Alex approves before anyone vouched", chromedp.Click(tid("approve")))
	b.waitJS("the evidence refusal", cardNote+`.includes("or their manager to attest")`)

	// Nora has no rights at all.
	b.as("nora")
	b.send("user mfatest2@" + demoDomain)
	if got := b.text("Nora's answer", lastAnswer); !strings.Contains(got, "You are not in the helpdesk or approvers group") {
		t.Errorf("Nora's command answered %q", got)
	}
	b.do("Nora approves", chromedp.Click(tid("approve")))
	b.waitJS("the non-approver refusal", cardNote+`.includes("Only members of the approvers group can decide requests.")`)

	// Nora is MFA Test 2's manager: she vouches in her inbox, and the card says so.
	const inboxForm = `[data-testid="inbox-message"] [data-testid="request-form"]`
	b.waitJS("the attestation form in Nora's inbox", `!!document.querySelector('`+inboxForm+`')`)
	b.do("Nora attests",
		chromedp.SendKeys(inboxForm+` [data-testid="form-reason"]`, "Saw her at her desk, staff badge checked"),
		chromedp.Click(inboxForm+` [data-testid="form-submit"]`))
	b.waitJS("the card verified by the manager", `document.querySelector('[data-testid="approval-card"]').textContent.includes("Verified by mfadesk: the manager, Nora Norights (nora.norights@`+demoDomain+`), attested in the demo")`)

	// Alex approves: the card is updated in place with the decision and the result.
	b.as("alex")
	b.do("Alex approves", chromedp.Click(tid("approve")))
	b.waitJS("the card carried out", `document.querySelector('[data-testid="approval-card"]').dataset.state === "done"`)
	b.waitJS("the buttons gone", `!document.querySelector('[data-testid="approval-card"] [data-testid="approve"]') && !document.querySelector('[data-testid="approval-card"] [data-testid="deny"]')`)
	b.waitJS("the result steps", `[...document.querySelectorAll('[data-testid="approval-card"] .sec-h')].some(e => e.textContent === "Result") && document.querySelector('[data-testid="approval-card"]').textContent.includes("revoke sessions")`)
	b.waitJS("Alex's acknowledgement", cardNote+`.includes("it is now done")`)
	if n := b.text("cards", `String(document.querySelectorAll('[data-testid="approval-card"]').length)`); n != "1" {
		t.Errorf("%s approval cards after the update, want 1 (updated in place)", n)
	}
	b.waitJS("the chained audit events", `(() => { const t = [...document.querySelectorAll('[data-testid="audit-line"]')].map(e => e.textContent).join("\n");
		return ["request_created", "access_refused", "request_approved", "request_executing", "request_succeeded", "chain head"].every(k => t.includes(k)); })()`)

	// Hana learns the outcome in her inbox; this is the README's screenshot.
	b.as("hana")
	b.waitJS("Hana's inbox", `[...document.querySelectorAll('[data-testid="inbox-message"]')].some(e => e.textContent.includes("is done"))`)
	b.waitJS("Hana's conversation redrawn", `!!document.querySelector('[data-testid="form-filed"]')`)
	shot, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "demo.png"), shot, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
	}
	if *updateDemoScreenshot {
		small, err := shrinkPNG(shot)
		switch {
		case err != nil:
			t.Errorf("shrink the screenshot: %v", err)
		case len(small) > maxScreenshot:
			t.Errorf("screenshot is %d KB, more than %d KB", len(small)>>10, maxScreenshot>>10)
		default:
			if err := os.WriteFile(filepath.Join("..", "..", "docs", "demo.png"), small, 0o644); err != nil {
				t.Errorf("write docs/demo.png: %v", err)
			}
		}
	}

	// Deny asks for a justification beside its input, then denies.
	b.send("revoke fiona.failures@" + demoDomain)
	b.do("file the revoke request",
		chromedp.SendKeys(tid("form-reason"), "Phone stolen; an attacker may hold a session"),
		chromedp.SetValue(tid("form-verification"), string(approvals.VerifyInPerson)),
		chromedp.SendKeys(tid("form-verification-detail"), "Badge checked at the desk"),
		chromedp.SendKeys(tid("form-ticket"), "INC-1043"),
		chromedp.Click(tid("form-submit")),
	)
	b.waitJS("the second card", `!!document.querySelector('[data-testid="deny"]')`)
	b.as("sam")
	b.do("Sam denies without a reason", chromedp.Click(tid("deny")), chromedp.Click(tid("deny-confirm")))
	b.waitJS("the justification asked for", `document.querySelector('[data-testid="deny-error"]').textContent.includes("Say why you deny")`)
	b.do("Sam gives the reason", chromedp.SendKeys(tid("deny-justification"), "No sign-ins from a new device; call the user first"), chromedp.Click(tid("deny-confirm")))
	b.waitJS("the card denied", `[...document.querySelectorAll('[data-testid="approval-card"]')].some(c => c.dataset.state === "denied" && !c.querySelector('[data-testid="deny"]'))`)

	b.mu.Lock()
	if len(b.exceptions) > 0 {
		t.Errorf("the page threw: %s", strings.Join(b.exceptions, "; "))
	}
	b.mu.Unlock()
	if !bytes.HasPrefix(shot, []byte("\x89PNG")) {
		t.Errorf("the screenshot is not a PNG")
	}

	d.stop()
	verifyDemoAudit(t, d.db)
	t.Logf("browser test took %s", time.Since(start).Round(100*time.Millisecond))
}
