import { mkdirSync, readFileSync } from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest";
import { decodeTotpSecret, totpForStep, totpStep } from "../../src/twofactor/totp";
import { addVirtualAuthenticator, axeViolations, launchChromium } from "./support/browser";
import { type AppServer, type AuthServer, linkIn, startAppServer, startAuthServer } from "./support/server";

// One browser, one Worker, one story told in order: each step starts where the previous one left the
// user, as a person would go through it. Steps share the page, so a failure stops the ones after it.
let auth: AuthServer;
let app: AppServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;

const email = `ada.${Date.now().toString(36)}@example.com`;
const password = "correct horse battery staple 42";
let totpSecret = "";
const REAUTH_WINDOW_SECONDS = 40;
const cspViolations: string[] = [];

beforeAll(async () => {
  app = await startAppServer(() => auth.origin);
  auth = await startAuthServer((origin) => ({
    APP_NAME: "Acme Accounts",
    OAUTH_REDIRECT_ALLOWLIST: app.signedInUrl,
    CORS_ORIGINS: app.origin,
    // Configured (never called in this journey) so /login shows the provider buttons.
    GOOGLE_CLIENT_ID: "browser-test.apps.googleusercontent.com",
    GOOGLE_CLIENT_SECRET: "browser-test-secret",
    WEBAUTHN_ORIGINS: origin,
    // Short (the minimum is 30 s), so one step can wait it out and meet the in-place reauthentication.
    REAUTH_WINDOW_SECONDS: String(REAUTH_WINDOW_SECONDS),
  }));
  browser = await launchChromium();
  context = await browser.newContext();
  // Generous: two cores are shared with other test runs, and every password costs a real scrypt.
  context.setDefaultTimeout(20_000);
  page = await context.newPage();
  // A CSP refusal is a console error in Chromium: any of them fails the journey at the end.
  page.on("console", (msg) => {
    if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) cspViolations.push(msg.text());
  });
  await addVirtualAuthenticator(context, page);
}, 180_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await auth?.close();
  await app?.close();
});

/** On failure, a screenshot of where the page was, under test-results/ (kept by CI as an artifact). */
function screenshotOnFailure(name: string): void {
  onTestFailed(async () => {
    mkdirSync("test-results", { recursive: true });
    await page?.screenshot({ path: `test-results/browser-${name}.png`, fullPage: true }).catch(() => {});
  });
}

async function expectAccessible(): Promise<void> {
  expect(await axeViolations(page)).toEqual([]);
}

let lastTotpStep = -1;

/**
 * A TOTP code the service will take: each step is accepted once and only after the last accepted one,
 * within one step of now. So: the current step, or the one after the last used; wait if that is too far.
 */
async function freshTotp(): Promise<string> {
  for (;;) {
    const now = totpStep(Date.now());
    const step = Math.max(now, lastTotpStep + 1);
    if (step <= now + 1) {
      lastTotpStep = step;
      return totpForStep(decodeTotpSecret(totpSecret), step);
    }
    await page.waitForTimeout(1_000);
  }
}

/** Presses Tab until the element with `id` has the focus (fails after 15 presses). */
async function tabTo(id: string): Promise<void> {
  for (let i = 0; i < 15; i++) {
    await page.keyboard.press("Tab");
    if ((await page.evaluate<string | undefined>("document.activeElement?.id")) === id) return;
  }
  throw new Error(`#${id} cannot be reached with Tab`);
}

/**
 * Presses "Sign in with a passkey". The page has also started a conditional-mediation (autofill)
 * ceremony on load, and Chromium's virtual authenticator, which needs no user gesture, may answer that
 * one first and navigate away: then the button is gone, which is not a failure (the passkey signed in).
 */
async function passkeyButton(): Promise<void> {
  await page
    .getByRole("button", { name: "Sign in with a passkey" })
    .click({ timeout: 5_000 })
    .catch((err: Error) => {
      if (new URL(page.url()).pathname === "/login") throw err;
    });
}

async function signOut(): Promise<void> {
  await page.goto(`${auth.origin}/account`);
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect.poll(() => page.locator("#signed-out").isVisible()).toBe(true);
  expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
}

async function expectOnAccountPage(): Promise<void> {
  // Polled, not waitForURL: a navigation that replaces another aborts the first, which is not a failure.
  await expect.poll(() => page.url()).toBe(`${auth.origin}/account`);
  await expect.poll(() => page.locator("#profile-email").textContent()).toBe(email);
}

describe("hosted pages in Chromium", () => {
  it("signs up, with the password policy's reason shown next to the field", async () => {
    screenshotOnFailure("signup");
    await page.goto(`${auth.origin}/signup`);
    expect(await page.title()).toContain("Acme Accounts");
    await expectAccessible();
    await page.getByLabel("Email address").fill(email);
    await page.getByLabel("Password", { exact: true }).fill("password");
    await page.getByRole("button", { name: "Create account" }).click();
    await expect.poll(() => page.locator("#password-error").textContent()).toMatch(/common/i);
    expect(await page.getByLabel("Password", { exact: true }).getAttribute("aria-invalid")).toBe("true");
    expect(auth.emails(email)).toHaveLength(0);

    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect
      .poll(() => page.locator("#status").textContent(), { timeout: 20_000 })
      .toMatch(/Check your inbox/);
  });

  it("follows the emailed link, which leads back to /login", async () => {
    screenshotOnFailure("verify");
    await expect.poll(() => auth.emails(email).length, { timeout: 10_000 }).toBe(1);
    const link = linkIn(auth.emails(email)[0]!, `${auth.origin}/auth/verify?token=`);
    await page.goto(link);
    await expectAccessible();
    await page.getByRole("button", { name: "Verify my email" }).click();
    await page.getByRole("heading", { name: "Email verified" }).waitFor();
    await page.getByRole("link", { name: /sign in/i }).click();
    await page.waitForURL(`${auth.origin}/login`);
  });

  it("signs in with the password and lands on the account page", async () => {
    screenshotOnFailure("login");
    await expectAccessible();
    expect(await page.getByRole("link", { name: "Continue with Google" }).isVisible()).toBe(true);
    // By keyboard alone: Tab to the field, type, Tab on, Enter submits.
    await tabTo("login-email");
    await page.keyboard.type(email);
    await page.keyboard.press("Tab");
    expect(await page.evaluate<string | undefined>("document.activeElement?.id")).toBe("login-password");
    await page.keyboard.type(password);
    await page.keyboard.press("Enter");
    await expectOnAccountPage();
    await expectAccessible();
    // Tokens live in this tab's sessionStorage only: no cookie, nothing in the address.
    expect(await context.cookies()).toEqual([]);
    expect(page.url()).toBe(`${auth.origin}/account`);
    expect(await page.evaluate(() => Object.keys(sessionStorage))).toEqual(["edge-auth.tokens"]);
  });

  it("turns on 2FA with a code computed from the QR code's key, and shows recovery codes once", async () => {
    screenshotOnFailure("2fa-enable");
    await page.getByRole("button", { name: "Set up an authenticator app" }).click();
    await page.getByRole("img", { name: /QR code/ }).waitFor();
    expect(await page.getByRole("img", { name: /QR code/ }).getAttribute("src")).toMatch(
      /^data:image\/svg\+xml/,
    );
    totpSecret = (await page.locator("#twofactor-secret").textContent()) ?? "";
    expect(totpSecret).toMatch(/^[A-Z2-7]{32}$/);
    await page.getByLabel("6-digit code from the app").fill(await freshTotp());
    await page.getByRole("button", { name: "Turn on two-factor authentication" }).click();
    await expect.poll(() => page.locator("#recovery-list li").count()).toBe(10);
    expect(await page.locator("#twofactor-state").textContent()).toMatch(/is on/);
    await expectAccessible();
    // Shown once: a reload of the page does not show them again.
    await page.reload();
    await expectOnAccountPage();
    expect(await page.locator("#recovery-codes").isVisible()).toBe(false);
  });

  it("signs out, then signs in with the second factor", async () => {
    screenshotOnFailure("2fa-login");
    await signOut();
    await page.goto(`${auth.origin}/login`);
    await page.getByLabel("Email or username").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Second factor" }).waitFor();
    await expectAccessible();
    await page.getByLabel(/Code from your authenticator app/).fill(await freshTotp());
    await page.getByRole("button", { name: "Verify" }).click();
    await expectOnAccountPage();
  });

  it("adds a passkey with the virtual authenticator, and renames it", async () => {
    screenshotOnFailure("passkey-add");
    await page.getByLabel("Name for a new passkey").fill("Test laptop");
    await page.getByRole("button", { name: "Add a passkey" }).click();
    await expect.poll(() => page.locator("#passkeys-list li").count()).toBe(1);
    await page.getByLabel("New name for Test laptop").fill("Work laptop");
    await page.getByRole("button", { name: "Rename" }).click();
    await expect.poll(() => page.locator("#passkeys-list").textContent()).toContain("Work laptop");
    await expectAccessible();
  });

  it("signs out, then signs in with the passkey alone (no second-factor step)", async () => {
    screenshotOnFailure("passkey-login");
    await signOut();
    await page.goto(`${auth.origin}/login`);
    await passkeyButton();
    await expectOnAccountPage();
    await expect.poll(() => page.locator("#passkeys-list").textContent()).toMatch(/last used (?!never)/);
  });

  it("hands the sign-in over to an allow-listed app with a one-time code the app exchanges", async () => {
    screenshotOnFailure("redirect");
    // Not allow-listed: the page says so and offers no sign-in for it.
    await page.goto(`${auth.origin}/login?redirect_to=${encodeURIComponent("https://evil.example/steal")}`);
    expect(await page.getByRole("alert").first().textContent()).toMatch(/not allowed/);
    expect(await page.locator("#password-form").count()).toBe(0);

    await page.goto(`${auth.origin}/login?redirect_to=${encodeURIComponent(app.signedInUrl)}`);
    await passkeyButton();
    await page.waitForURL(`${app.signedInUrl}**`);
    await expect
      .poll(() => page.locator("#result").textContent(), { timeout: 15_000 })
      .toBe(`Signed in as ${email} with a refresh token`);
    // The code is gone from the address bar, and the auth origin's tab storage is empty.
    expect(page.url()).toBe(app.signedInUrl);
    await page.goto(`${auth.origin}/account`);
    await expect.poll(() => page.locator("#signed-out").isVisible()).toBe(true);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it("asks for the password in place when a step needs a recent sign-in, then carries on", async () => {
    screenshotOnFailure("reauth");
    await page.goto(`${auth.origin}/login`);
    await passkeyButton();
    await expectOnAccountPage();
    const signedInAt = Date.now();
    await expect.poll(() => page.locator("#passkeys-list li").count()).toBe(1);
    // Wait the recent-authentication window out (the Worker's clock is real, so this test waits too).
    await page.waitForTimeout(Math.max(0, signedInAt + (REAUTH_WINDOW_SECONDS + 1) * 1000 - Date.now()));
    await page.getByRole("button", { name: "Remove Work laptop" }).click();
    await page.getByRole("heading", { name: "Confirm it is you" }).waitFor();
    await expectAccessible();
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Confirm with password" }).click();
    await expect.poll(() => page.locator("#passkeys-list li").count()).toBe(0);
    expect(await page.locator("#reauth").isVisible()).toBe(false);
    expect(await page.locator("#status").textContent()).toBe("Passkey removed.");
  }, 120_000);

  it("signs in with the 6-digit code from the email, then the second factor", async () => {
    screenshotOnFailure("email-code");
    await signOut();
    await page.goto(`${auth.origin}/login`);
    const before = auth.emails(email).length;
    await page.getByLabel("Email address").fill(email);
    await page.getByRole("button", { name: "Email me a sign-in link and code" }).click();
    await expect.poll(() => auth.emails(email).length).toBe(before + 1);
    const code = /sign-in code is (\d{6})/.exec(auth.emails(email).at(-1)!.text)?.[1] ?? "";
    await page.getByLabel("The 6-digit code from the email").fill(code);
    await page.getByRole("button", { name: "Sign in with the code" }).click();
    await page.getByRole("heading", { name: "Second factor" }).waitFor();
    await page.getByLabel(/Code from your authenticator app/).fill(await freshTotp());
    await page.getByRole("button", { name: "Verify" }).click();
    await expectOnAccountPage();
  });

  it("signs in with the emailed link: its page spends nothing until the button, then the second factor", async () => {
    screenshotOnFailure("email-link");
    await signOut();
    await page.goto(`${auth.origin}/login`);
    const before = auth.emails(email).length;
    await page.getByLabel("Email address").fill(email);
    await page.getByRole("button", { name: "Email me a sign-in link and code" }).click();
    await expect.poll(() => auth.emails(email).length).toBe(before + 1);
    await page.goto(linkIn(auth.emails(email).at(-1)!, `${auth.origin}/auth/email-login?token=`));
    // The token leaves the address bar as soon as the page has it.
    await expect.poll(() => page.url()).toBe(`${auth.origin}/auth/email-login`);
    await expectAccessible();
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await page.getByRole("heading", { name: "Second factor" }).waitFor();
    await page.getByLabel(/Code from your authenticator app/).fill(await freshTotp());
    await page.getByRole("button", { name: "Verify" }).click();
    await expectOnAccountPage();
  });

  it("edits the profile, downloads the account's data, then deletes the account, after which nothing signs in", async () => {
    screenshotOnFailure("delete");
    await expectOnAccountPage();
    await page.getByLabel("Full name").fill("Ada Lovelace");
    await page.getByRole("button", { name: "Save profile" }).click();
    await expect.poll(() => page.locator("#status").textContent()).toBe("Profile saved.");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download my data" }).click(),
    ]);
    const exported = JSON.parse(readFileSync((await download.path())!, "utf8"));
    expect(JSON.stringify(exported)).toContain(email);
    expect(JSON.stringify(exported)).toContain("Ada Lovelace");
    expect(JSON.stringify(exported)).not.toContain(password);

    await page.getByRole("button", { name: "Delete my account" }).click();
    await expect.poll(() => page.locator("#error").textContent()).toMatch(/Tick the box/);
    await page.getByLabel(/cannot be undone/).check();
    await page.getByRole("button", { name: "Delete my account" }).click();
    await expect.poll(() => page.locator("#signed-out").isVisible()).toBe(true);
    expect(await page.locator("#status").textContent()).toBe("Your account was deleted.");
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    await page.goto(`${auth.origin}/login`);
    await page.getByLabel("Email or username").fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect.poll(() => page.locator("#error").textContent()).toMatch(/incorrect/i);
  });

  it("ran every page without a single CSP refusal", () => {
    expect(cspViolations).toEqual([]);
  });
});
