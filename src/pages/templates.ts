import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>;

/** One place for the live region every page reports errors and progress in (read by screen readers). */
const status = html`<p id="status" role="status" aria-live="polite"></p>
<p id="error" class="error" role="alert"></p>`;

/** The second-factor step, shown by login.js when a sign-in answers `mfa_required`. */
const mfaStep = html`<section id="mfa-step" hidden aria-labelledby="mfa-heading">
<h2 id="mfa-heading" tabindex="-1">Second factor</h2>
<form id="mfa-form" method="post" novalidate>
<label for="mfa-code">Code from your authenticator app, or a recovery code</label>
<input id="mfa-code" name="code" autocomplete="one-time-code" required maxlength="64" autocapitalize="none" spellcheck="false">
<button type="submit">Verify</button>
</form>
</section>`;

export interface LoginView {
  /** An allow-listed app URL the browser returns to with a one-time code; null for none. */
  redirectTo: string | null;
  /** Set when the redirect_to given was refused: the page says so instead of signing in for it. */
  redirectRefused: boolean;
  google: boolean;
  facebook: boolean;
  /** EMAIL_LOGIN: the link-or-code section is shown only when email sign-in is on. */
  emailLogin: boolean;
  minPasswordLength: number;
}

const withRedirect = (path: string, redirectTo: string | null): string =>
  redirectTo ? `${path}?redirect_to=${encodeURIComponent(redirectTo)}` : path;

export function loginBody(view: LoginView): Fragment {
  if (view.redirectRefused) {
    return html`<p class="error" role="alert">This sign-in link names an address that is not allowed to receive
a sign-in. Open the application again and start over.</p>
<p><a href="/login">Sign in to your account here instead</a></p>`;
  }
  const providers = [
    view.google ? { id: "google", label: "Continue with Google" } : null,
    view.facebook ? { id: "facebook", label: "Continue with Facebook" } : null,
  ].filter((p): p is { id: string; label: string } => p !== null);
  return html`<div id="login" data-redirect-to="${view.redirectTo ?? ""}">
${status}
<section id="password-step" aria-labelledby="password-heading">
<h2 id="password-heading">With your password</h2>
<form id="password-form" method="post" action="/auth/login" novalidate>
<label for="login-email">Email or username</label>
<input id="login-email" name="username" autocomplete="username webauthn" required maxlength="254" autocapitalize="none" spellcheck="false">
<label for="login-password">Password</label>
<input id="login-password" name="password" type="password" autocomplete="current-password" required maxlength="128">
<button type="submit">Sign in</button>
</form>
<p><a href="/auth/password/forgot">Forgot your password?</a></p>
</section>
<section aria-labelledby="passkey-heading">
<h2 id="passkey-heading">With a passkey</h2>
<button id="passkey-button" type="button">Sign in with a passkey</button>
</section>
${
  view.emailLogin
    ? html`<section aria-labelledby="email-heading">
<h2 id="email-heading">With a link or code by email</h2>
<form id="email-form" method="post" novalidate>
<label for="email-address">Email address</label>
<input id="email-address" name="email" type="email" autocomplete="email" required maxlength="254">
<button type="submit" class="secondary">Email me a sign-in link and code</button>
</form>
<form id="email-code-form" method="post" hidden novalidate>
<label for="email-code">The 6-digit code from the email</label>
<input id="email-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required>
<button type="submit">Sign in with the code</button>
</form>
</section>`
    : ""
}
${
  providers.length > 0
    ? html`<section aria-labelledby="providers-heading">
<h2 id="providers-heading">With another account</h2>
<ul class="plain">${providers.map(
        (p) =>
          html`<li><a class="provider" data-provider="${p.id}" href="/auth/${p.id}/authorize">${p.label}</a></li>`,
      )}</ul>
</section>`
    : ""
}
${mfaStep}
<p>New here? <a href="${withRedirect("/signup", view.redirectTo)}">Create an account</a></p>
</div>`;
}

/**
 * The page an emailed sign-in link opens (GET /auth/email-login?token=). The GET spends nothing (mail
 * scanners open links); the button does. With the script it posts the token as JSON and carries on
 * like /login (second factor, then the account page); without, the form posts it.
 */
export function emailLinkBody(token: string): Fragment {
  return html`<div id="login" data-redirect-to="">
${status}
<section id="email-link-step" aria-labelledby="email-link-heading">
<h2 id="email-link-heading">Sign in with the emailed link</h2>
<p>The link works once and for 10 minutes. On another device, enter the 6-digit code from the same
email on its sign-in page instead.</p>
<form id="email-link-form" method="post" action="/auth/email-login/verify">
<input type="hidden" name="token" value="${token}">
<button type="submit">Sign in</button>
</form>
</section>
${mfaStep}
</div>`;
}

export function signupBody(minPasswordLength: number, redirectTo: string | null): Fragment {
  return html`<div id="signup">
${status}
<form id="signup-form" method="post" novalidate>
<label for="signup-name">Full name <span class="hint">(optional)</span></label>
<input id="signup-name" name="full_name" autocomplete="name" maxlength="128" aria-describedby="full_name-error">
<p id="full_name-error" class="error hint"></p>
<label for="signup-email">Email address</label>
<input id="signup-email" name="email" type="email" autocomplete="email" required maxlength="254" aria-describedby="email-error">
<p id="email-error" class="error hint"></p>
<label for="signup-username">Username <span class="hint">(optional)</span></label>
<input id="signup-username" name="username" autocomplete="username" maxlength="32" autocapitalize="none" spellcheck="false" aria-describedby="username-hint username-error">
<p id="username-hint" class="hint">3 to 32 letters, digits, dots, dashes or underscores.</p>
<p id="username-error" class="error hint"></p>
<label for="signup-password">Password</label>
<input id="signup-password" name="password" type="password" autocomplete="new-password" required maxlength="128" aria-describedby="password-hint password-error">
<p id="password-hint" class="hint">At least ${minPasswordLength} characters. Long phrases are good; common passwords are refused.</p>
<p id="password-error" class="error hint"></p>
<button type="submit">Create account</button>
</form>
<p>Already have an account? <a href="${withRedirect("/login", redirectTo)}">Sign in</a></p>
</div>`;
}

/** Everything on /account is filled in by account.js from the JSON API with the tab's tokens. */
export function accountBody(): Fragment {
  return html`<div id="account">
${status}
<p id="signed-out" hidden>You are not signed in. <a href="/login">Sign in</a></p>
<div id="signed-in" hidden>
<section id="reauth" hidden aria-labelledby="reauth-heading">
<h2 id="reauth-heading" tabindex="-1">Confirm it is you</h2>
<p>This step needs a recent sign-in. Confirm with your password, a passkey or a code.</p>
<form id="reauth-password-form" method="post" novalidate>
<label for="reauth-password">Password</label>
<input id="reauth-password" type="password" autocomplete="current-password" maxlength="128">
<button type="submit">Confirm with password</button>
</form>
<button id="reauth-passkey" type="button" class="secondary">Confirm with a passkey</button>
<form id="reauth-code-form" method="post" novalidate>
<label for="reauth-code">Authenticator or recovery code</label>
<input id="reauth-code" autocomplete="one-time-code" maxlength="64">
<button type="submit" class="secondary">Confirm with code</button>
</form>
<button id="reauth-cancel" type="button" class="secondary">Cancel</button>
</section>

<section aria-labelledby="profile-heading">
<h2 id="profile-heading">Profile</h2>
<p>Signed in as <strong id="profile-email"></strong> <span id="profile-verified"></span></p>
<form id="profile-form" method="post" novalidate>
<label for="profile-name">Full name</label>
<input id="profile-name" name="full_name" autocomplete="name" maxlength="128">
<label for="profile-username">Username</label>
<input id="profile-username" name="username" autocomplete="username" maxlength="32" autocapitalize="none" spellcheck="false">
<button type="submit">Save profile</button>
</form>
</section>

<section aria-labelledby="sessions-heading">
<h2 id="sessions-heading">Sessions</h2>
<ul id="sessions-list" class="plain"></ul>
<button id="sign-out" type="button" class="secondary">Sign out</button>
<button id="sign-out-all" type="button" class="secondary">Sign out everywhere</button>
</section>

<section aria-labelledby="twofactor-heading">
<h2 id="twofactor-heading">Two-factor authentication</h2>
<p id="twofactor-state"></p>
<button id="twofactor-setup" type="button" hidden>Set up an authenticator app</button>
<div id="twofactor-enroll" hidden>
<p>Scan this code with your authenticator app, or enter the key by hand.</p>
<img id="twofactor-qr" class="qr" alt="QR code of the authenticator key">
<p>Key: <code id="twofactor-secret"></code></p>
<form id="twofactor-enable-form" method="post" novalidate>
<label for="twofactor-enable-code">6-digit code from the app</label>
<input id="twofactor-enable-code" inputmode="numeric" autocomplete="one-time-code" maxlength="6" required>
<button type="submit">Turn on two-factor authentication</button>
</form>
</div>
<div id="recovery-codes" hidden>
<h3 id="recovery-heading" tabindex="-1">Your recovery codes</h3>
<p>Each code works once if you lose your authenticator. They are shown only now: store them safely.</p>
<ul id="recovery-list" class="codes plain" aria-labelledby="recovery-heading"></ul>
</div>
<form id="twofactor-manage-form" method="post" hidden novalidate>
<label for="twofactor-manage-code">Current authenticator or recovery code</label>
<input id="twofactor-manage-code" autocomplete="one-time-code" maxlength="64" required>
<button type="submit" name="action" value="regenerate" class="secondary">New recovery codes</button>
<button type="submit" name="action" value="disable" class="secondary">Turn off two-factor authentication</button>
</form>
</section>

<section aria-labelledby="passkeys-heading">
<h2 id="passkeys-heading">Passkeys</h2>
<ul id="passkeys-list" class="plain"></ul>
<form id="passkey-add-form" method="post" novalidate>
<label for="passkey-name">Name for a new passkey</label>
<input id="passkey-name" maxlength="64" placeholder="My laptop">
<button type="submit">Add a passkey</button>
</form>
</section>

<section id="providers" hidden aria-labelledby="providers-heading">
<h2 id="providers-heading">Linked accounts</h2>
<ul id="providers-list" class="plain"></ul>
</section>

<section aria-labelledby="email-change-heading">
<h2 id="email-change-heading">Email address</h2>
<form id="email-change-form" method="post" novalidate>
<label for="new-email">New email address</label>
<input id="new-email" type="email" autocomplete="email" maxlength="254" required>
<button type="submit" class="secondary">Send a confirmation link</button>
</form>
</section>

<section aria-labelledby="data-heading">
<h2 id="data-heading">Your data</h2>
<button id="export" type="button" class="secondary">Download my data</button>
<form id="delete-form" method="post" novalidate>
<label><input id="delete-confirm" type="checkbox" required> I understand that deleting my account cannot be undone</label>
<button type="submit" class="secondary">Delete my account</button>
</form>
</section>
</div>
</div>`;
}
