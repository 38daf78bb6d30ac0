function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** A GET must not spend the token: mail scanners prefetch links (OWASP Forgot Password cheat sheet). */
export function confirmEmailChangeForm(token: string): string {
  return `<p>Use this email address for your account from now on.</p>
<form method="post" action="/auth/email/change/confirm"><input type="hidden" name="token" value="${escapeHtml(token)}">
<button type="submit">Use this email address</button></form>`;
}
