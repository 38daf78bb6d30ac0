import type { Config } from "../config";

function parse(value: string): URL | null {
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

function pathWithin(path: string, prefix: string): boolean {
  if (prefix === "" || prefix === "/") return true;
  // Segment boundary: "/app" must not admit "/application".
  const base = prefix.endsWith("/") ? prefix : `${prefix}/`;
  return path === prefix || path === base.slice(0, -1) || path.startsWith(base);
}

/**
 * Exact origin and path-prefix match against OAUTH_REDIRECT_ALLOWLIST (an open redirect here would hand
 * tokens to an attacker). Compared on the parsed URL, so `..`, case and default ports cannot slip through.
 * `ownUrls` (our own callbacks) are accepted exactly.
 */
export function isAllowedRedirect(config: Config, candidate: string, ownUrls: string[] = []): boolean {
  const url = parse(candidate);
  if (!url || (url.protocol !== "https:" && url.protocol !== "http:")) return false;
  if (url.username || url.password || url.hash) return false;
  if (ownUrls.some((own) => parse(own)?.href === url.href)) return true;
  return config.OAUTH_REDIRECT_ALLOWLIST.some((entry) => {
    const allowed = parse(entry);
    return allowed !== null && allowed.origin === url.origin && pathWithin(url.pathname, allowed.pathname);
  });
}

/** The path of the hosted login page (src/pages), which OAuth sign-ins started there return to. */
export const HOSTED_LOGIN_PATH = "/login";

/**
 * Where an OAuth flow may send its one-time code: an allow-listed app URL, or our own hosted login page
 * (any query: it carries the app's redirect_to through the provider round trip, and that page checks
 * it again before handing anything over).
 */
export function isAllowedOAuthRedirect(config: Config, candidate: string): boolean {
  const url = parse(candidate);
  const own = parse(config.APP_URL);
  if (url && own && url.origin === own.origin && url.pathname === HOSTED_LOGIN_PATH && !url.hash)
    return !url.username && !url.password;
  return isAllowedRedirect(config, candidate);
}
