import { escapeHtml } from "../auth/pages";

/**
 * A GET must not spend the link: mail scanners and link previews open it (OWASP Forgot Password cheat
 * sheet). Only the button's POST does.
 */
export function emailLoginForm(token: string): string {
  return `<p>Sign in with the link we emailed you. It works once and for 10 minutes.</p>
<form method="post" action="/auth/email-login/verify"><input type="hidden" name="token" value="${escapeHtml(token)}">
<button type="submit">Sign in</button></form>
<p>Signing in on another device? Enter the 6-digit code from the same email there instead.</p>`;
}
