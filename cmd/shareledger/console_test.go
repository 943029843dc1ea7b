package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts a headless Chromium (Debian's package; .ci/run installs
// it) and returns a context to drive it. Without one the console's tests
// skip, and fail in CI (SHARELEDGER_REQUIRE_BROWSER).
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		msg := "no browser: install Debian's chromium (apt-get install chromium) to run the console's tests, as bash .ci/run does"
		if os.Getenv("SHARELEDGER_REQUIRE_BROWSER") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	alloc, stopAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, stopBrowser := chromedp.NewContext(alloc)
	ctx, stopTime := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { stopTime(); stopBrowser(); stopAlloc() })
	return ctx
}

// shot saves a screenshot of the page to the folder SHARELEDGER_SCREENSHOTS
// names (docs/console when they are taken again), if it names one.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("SHARELEDGER_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// until waits until a JavaScript expression is true on the page, across
// a navigation under way (a form's answer, a redirect).
func until(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		deadline := time.Now().Add(timeout)
		for {
			_, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(time.Until(deadline)))(ctx, t)
			if err == nil || time.Now().After(deadline) || !navigating(err) {
				return chromedp.Void{}, err
			}
		}
	}
}

// navigating says whether an error is the page going away under a script.
func navigating(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "navigated") || strings.Contains(msg, "Cannot find context") || strings.Contains(msg, "Execution context was destroyed")
}

func signIn(t *testing.T, ctx context.Context, base, token string) {
	t.Helper()
	err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/console/signin"),
		chromedp.WaitVisible(chromedp.CSS(`#token`)),
		chromedp.SetValue(chromedp.CSS(`#token`), token),
		chromedp.Submit(chromedp.CSS(`#token`)),
		chromedp.WaitVisible(chromedp.CSS(`header .who`)),
	)
	if err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return out
}

// TestConsoleInABrowser: an administrator signs in with a token, reads the
// account's history and a device's, follows a link to an entity, sees who
// can see a vehicle and why, now and compared with before a change; an
// operator starts a rebuild and watches it reach 100%.
func TestConsoleInABrowser(t *testing.T) {
	ctx := browser(t)
	s := start(t, testConfig(t, backends[0]))
	alice, bob := s.partnered()
	dev := bob.command("POST", "/v1/devices", map[string]any{"serial": "S1", "name": "Rover"}).ID
	bob.command("POST", "/v1/partners/ACME/devices", map[string]any{"devices": []string{dev}}, "X-Correlation-ID", "lend-rover")
	_ = alice
	// Rights: a fleet, a vehicle in it, a user with a role.
	bob.command("POST", "/v1/users", map[string]any{"email": "nina@rentco.test", "name": "Nina", "role": "user"})
	bob.command("POST", "/v1/roles", map[string]any{"name": "viewer", "rights": map[string]any{"fleet": map[string]string{"item": "view", "member": "view"}}})
	fleet := bob.command("POST", "/v1/collections", map[string]any{"kind": "fleet", "name": "North", "public": true}).ID
	bob.command("POST", "/v1/collections/"+fleet+"/members", map[string]any{"member": "truck-7", "kind": "vehicle"})
	before := bob.command("POST", "/v1/subusers/nina@rentco.test/roles", map[string]any{"role": "viewer"})
	last := bob.command("POST", "/v1/collections/"+fleet+"/private", map[string]any{"confirm": true})
	var wait feedPage
	bob.read("/v1/events?limit=1", last.Position, &wait)

	signIn(t, ctx, s.base, bob.token)
	if got := text(t, ctx, "header .who"); !strings.Contains(got, "bob@rentco.test") {
		t.Fatalf("signed in as %q", got)
	}
	err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/console/history"), chromedp.WaitVisible(chromedp.CSS(`table`)))
	if err != nil {
		t.Fatal(err)
	}
	rows := text(t, ctx, "#rows")
	for _, want := range []string{"AccountOpened", "DeviceRegistered", "DeviceSharedWithPartner", "lend-rover", "bob@rentco.test"} {
		if !strings.Contains(rows, want) {
			t.Fatalf("the account's history lacks %q:\n%s", want, rows)
		}
	}
	shot(t, ctx, "history")
	// Follow the link to the device's own history.
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`#rows a[href*="kind=device"]`), "href"))
	if err != nil || !link.Exists {
		t.Fatalf("no link to the device: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+link.Value), chromedp.WaitVisible(chromedp.CSS(`table caption`))); err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "table caption"); !strings.Contains(got, "device "+dev) {
		t.Fatalf("after the link: %q", got)
	}
	// On a phone's width the page fits: nothing but the tables scrolls
	// sideways, inside their own box.
	err = chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(s.base+"/console/history"), chromedp.WaitVisible(chromedp.CSS(`#rows`)))
	if err != nil {
		t.Fatal(err)
	}
	if wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); err != nil || wide {
		t.Fatalf("the history is wider than a phone: %v %v", wide, err)
	}
	shot(t, ctx, "history-phone")
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	// Filtered by event type.
	err = chromedp.Do(ctx, chromedp.Navigate(s.base+"/console/history?type=DeviceRegistered"), chromedp.WaitVisible(chromedp.CSS(`#rows`)))
	if err != nil {
		t.Fatal(err)
	}
	if rows := text(t, ctx, "#rows"); strings.Contains(rows, "AccountOpened") || !strings.Contains(rows, "DeviceRegistered") {
		t.Fatalf("filtered by type:\n%s", rows)
	}

	// Who could see the truck, and why; and what changed since.
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/console/rights"),
		chromedp.WaitVisible(chromedp.CSS(`#id`)),
		chromedp.SetValue(chromedp.CSS(`#id`), "truck-7"),
		chromedp.SetValue(chromedp.CSS(`#then`), before.Position),
		chromedp.Submit(chromedp.CSS(`#id`)),
		chromedp.WaitVisible(chromedp.CSS(`table tbody`)))
	if err != nil {
		t.Fatal(err)
	}
	grid := text(t, ctx, "table tbody")
	for _, want := range []string{"bob@rentco.test", "administrator", "nina@rentco.test"} {
		if !strings.Contains(grid, want) {
			t.Fatalf("who can see the truck lacks %q:\n%s", want, grid)
		}
	}
	if !strings.Contains(grid, "members view → item none, members none") {
		t.Fatalf("making the fleet private took nina's view away; the page says:\n%s", grid)
	}
	shot(t, ctx, "rights")
	// Which accounts may use the device: RentCo owns it, ACME uses it.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/console/rights?of=device&id="+dev), chromedp.WaitVisible(chromedp.CSS(`table tbody`))); err != nil {
		t.Fatal(err)
	}
	if users := text(t, ctx, "table tbody"); !strings.Contains(users, "rentco") || !strings.Contains(users, "owns it") || !strings.Contains(users, "acme") || !strings.Contains(users, "shared by RentCo") {
		t.Fatalf("who may use the device:\n%s", users)
	}

	// An operator: projections, and a rebuild watched to the end.
	signIn(t, ctx, s.base, s.operator().token)
	err = chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/console/operations"),
		chromedp.WaitVisible(chromedp.CSS(`input[value="devices"]`)),
		chromedp.Click(chromedp.CSS(`input[value="devices"]`)),
		chromedp.Submit(chromedp.CSS(`input[value="devices"]`)),
		until(`[...document.querySelectorAll("#rebuilds tbody tr")].some(r => r.textContent.includes("devices") && r.textContent.includes("100%"))`, 60*time.Second))
	if err != nil {
		t.Fatalf("the rebuild did not reach 100%%: %v", err)
	}
	if got := text(t, ctx, "table tbody"); !strings.Contains(got, "audit") || !strings.Contains(got, "live") {
		t.Fatalf("the projections table: %s", got)
	}
	// A verification of every read model against a rebuild: equal.
	err = chromedp.Do(ctx,
		chromedp.Submit(chromedp.CSS(`form[action="/console/operations/verifications"] button`)),
		until(`document.querySelector("#verify-state") && document.querySelector("#verify-state").textContent.includes("equal")`, 60*time.Second))
	if err != nil {
		t.Fatalf("the verification did not end equal: %v (%s)", err, text(t, ctx, "#verify"))
	}
	shot(t, ctx, "operations")
	// A tenant's pages are not an operator's.
	if err := chromedp.Do(ctx, chromedp.Navigate(s.base+"/console/history")); err != nil {
		t.Fatal(err)
	}
	if status := text(t, ctx, ".problem"); !strings.Contains(status, "administrators") {
		t.Fatalf("an operator on the history page: %q", status)
	}
}
