// Shared by the hosted pages (src/pages). Plain ES module, no build step. Tokens live only in this tab's
// sessionStorage of the auth origin: never in a cookie, a URL or localStorage (which other tabs and
// long-lived storage would share).

const KEY = "edge-auth.tokens";

/** @returns {{access_token: string, refresh_token: string} | null} */
export function loadTokens() {
  try {
    const raw = sessionStorage.getItem(KEY);
    const parsed = raw ? JSON.parse(raw) : null;
    return parsed && typeof parsed.access_token === "string" ? parsed : null;
  } catch {
    return null;
  }
}

export function saveTokens(tokens) {
  sessionStorage.setItem(
    KEY,
    JSON.stringify({ access_token: tokens.access_token, refresh_token: tokens.refresh_token }),
  );
}

export function clearTokens() {
  sessionStorage.removeItem(KEY);
}

/** An answer of the API that is not 2xx, with the problem's stable `code`. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `Request failed (${status})`);
    this.status = status;
    this.code = problem?.code || "error";
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
  }
}

let refreshing = null;

/**
 * One refresh at a time for the whole page: two calls that both meet an expired access token must not
 * both spend the refresh token (the second would look like reuse and revoke the session).
 */
function refreshOnce() {
  refreshing ??= (async () => {
    const tokens = loadTokens();
    if (!tokens?.refresh_token) return false;
    const res = await fetch("/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: tokens.refresh_token }),
    });
    if (!res.ok) {
      clearTokens();
      return false;
    }
    saveTokens(await res.json());
    return true;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/**
 * Calls the JSON API. `auth` sends the tab's access token and refreshes once on a 401. Resolves with the
 * parsed JSON (null for 204), rejects with ApiError.
 */
export async function api(path, { method = "GET", body, auth = false, raw = false } = {}) {
  const send = () => {
    const headers = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const tokens = auth ? loadTokens() : null;
    if (tokens) headers.Authorization = `Bearer ${tokens.access_token}`;
    return fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
    });
  };
  let res = await send();
  if (auth && res.status === 401 && (await refreshOnce())) res = await send();
  if (!res.ok) {
    let problem = null;
    try {
      problem = await res.json();
    } catch {
      // Not JSON (a proxy's page): the status is all we know.
    }
    throw new ApiError(res.status, problem);
  }
  if (raw) return res;
  if (res.status === 204) return null;
  return res.json();
}

const $ = (id) => document.getElementById(id);

export { $ };

/** Announces progress in the page's polite live region and clears any error. */
export function say(text) {
  $("status").textContent = text;
  $("error").textContent = "";
}

/** Shows an error in the page's alert region (read out at once by screen readers). */
export function fail(err) {
  $("status").textContent = "";
  $("error").textContent = err instanceof Error ? err.message : String(err);
}

/** Disables a form's controls while its request runs, so a double submit does not send twice. */
export async function busy(form, fn) {
  const controls = [...form.querySelectorAll("button, input")];
  for (const c of controls) c.disabled = true;
  try {
    return await fn();
  } finally {
    for (const c of controls) c.disabled = false;
  }
}

/** The browser's WebAuthn helper, served from our own assets (vendor/simplewebauthn). */
export function webauthn() {
  const lib = globalThis.SimpleWebAuthnBrowser;
  if (!lib) throw new Error("Passkeys are not available in this browser.");
  return lib;
}

export function passkeysSupported() {
  return Boolean(globalThis.SimpleWebAuthnBrowser?.browserSupportsWebAuthn());
}
