import type { Context } from "hono";
import type { AppEnv } from "../context";

// Pages carry no script and load nothing external; forms may only post back to us.
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function layout(appName: string, title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)} · ${escapeHtml(appName)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
input,button{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.25rem 0}button{cursor:pointer}</style>
</head><body><main><p>${escapeHtml(appName)}</p><h1>${escapeHtml(title)}</h1>${body}
<p><a href="/login">Back to sign in</a></p></main></body></html>`;
}

/**
 * Typed `never` because @hono/zod-openapi types a route's answers from its JSON schemas; the HTML answer of a
 * form post sits outside that model, and this keeps the cast in one place.
 */
export function htmlPage(
  c: Context<AppEnv>,
  title: string,
  body: string,
  status: 200 | 202 | 400 | 422 | 429 = 200,
): never {
  c.header("Content-Security-Policy", PAGE_CSP);
  c.header("Cache-Control", "no-store");
  return c.html(layout(c.var.deps.config.APP_NAME, title, body), status) as never;
}

/** A GET must not consume the token: mail scanners prefetch links (OWASP Forgot Password cheat sheet). */
export function verifyForm(token: string): string {
  return `<p>Confirm your email address to finish setting up your account.</p>
<form method="post" action="/auth/verify"><input type="hidden" name="token" value="${escapeHtml(token)}">
<button type="submit">Verify my email</button></form>`;
}

export function resetForm(token: string): string {
  return `<form method="post" action="/auth/password/reset"><input type="hidden" name="token" value="${escapeHtml(token)}">
<label for="p">New password</label><input id="p" type="password" name="new_password" autocomplete="new-password" minlength="8" maxlength="128" required>
<button type="submit">Set new password</button></form>`;
}

export function forgotForm(): string {
  return `<form method="post" action="/auth/password/forgot">
<label for="e">Email address</label><input id="e" type="email" name="email" autocomplete="email" maxlength="254" required>
<button type="submit">Email me a reset link</button></form>`;
}

export function message(text: string): string {
  return `<p>${escapeHtml(text)}</p>`;
}
