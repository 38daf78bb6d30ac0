import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { AppContext } from "../context";

/** Where the hosted pages' own scripts and the vendored WebAuthn helper are served from (public/). */
export const PAGE_SCRIPTS = {
  common: "/pages/common.js",
  login: "/pages/login.js",
  signup: "/pages/signup.js",
  account: "/pages/account.js",
  webauthn: "/vendor/simplewebauthn/browser.umd.min.js",
} as const;

type Fragment = HtmlEscapedString | Promise<HtmlEscapedString>;

/**
 * A nonce per response (128 random bits), so only the scripts and the style block this response names
 * can run: an injected `<script>` or inline handler cannot guess it. 'strict-dynamic' lets those scripts
 * load nothing else on their own authority but what they import; no host allow-list to bypass.
 */
export function pageCsp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}' 'strict-dynamic'`,
    `style-src 'nonce-${nonce}'`,
    // The 2FA QR code is shown as an <img> of the API's SVG (a data: URL), never inserted as markup.
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    // DOM XSS: the scripts build the page with textContent and createElement only; a string reaching
    // innerHTML or another script sink is refused by the browser (Trusted Types).
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join("; ");
}

export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

const STYLE = `
:root{color-scheme:light dark;--accent:#2456c7}
body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;line-height:1.45}
header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;flex-wrap:wrap}
header a{font-weight:600;text-decoration:none}
section{border-top:1px solid #8884;padding:.75rem 0}
label{display:block;margin-top:.6rem;font-weight:600}
input,button{font:inherit;padding:.5rem;box-sizing:border-box;margin:.25rem 0}
input:not([type=checkbox]){width:100%}
button{cursor:pointer;border:1px solid var(--accent);border-radius:.3rem;background:var(--accent);color:#fff}
button.secondary{background:transparent;color:inherit}
:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
.hint{font-size:.9em;margin:.1rem 0}
.error{color:#b00020;font-weight:600}
@media (prefers-color-scheme:dark){.error{color:#ff8a80}}
ul.plain{list-style:none;padding:0}ul.plain li{margin:.4rem 0}
.codes{font-family:ui-monospace,monospace;columns:2}
img.qr{width:12rem;height:12rem;background:#fff;padding:.5rem}
[hidden]{display:none!important}
`;

export interface PageOptions {
  title: string;
  body: Fragment;
  /** Scripts of this page, in order, each with the response's nonce. */
  scripts?: readonly string[];
  status?: 200 | 400;
}

/**
 * Renders a hosted page under the strict CSP. Typed `never` for the same reason as auth/pages.ts: the
 * route's declared answers are JSON schemas, the HTML answer sits outside that model.
 */
export function renderPage(c: AppContext, options: PageOptions): never {
  const nonce = newNonce();
  const appName = c.var.deps.config.APP_NAME;
  const scripts = (options.scripts ?? []).map(
    (src) =>
      html`<script nonce="${nonce}" src="${src}" ${src.endsWith(".umd.min.js") ? "" : html`type="module"`}></script>`,
  );
  c.header("Content-Security-Policy", pageCsp(nonce));
  c.header("Cache-Control", "no-store");
  return c.html(
    html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${options.title} · ${appName}</title>
<style nonce="${nonce}">${raw(STYLE)}</style>
</head>
<body>
<header><a href="/">${appName}</a><nav aria-label="Account"><a href="/account">Account</a></nav></header>
<main id="main" data-app-name="${appName}">
<h1>${options.title}</h1>
${options.body}
</main>
${scripts}
</body>
</html>`,
    options.status ?? 200,
  ) as never;
}
