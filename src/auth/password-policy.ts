import { ConfigError } from "../config";
import { AppError } from "../errors";

export const PASSWORD_MAX_LENGTH = 128;

/** Where scripts/copy-assets.mjs writes the list (under public/, the Worker's static assets). */
export const PASSWORD_LIST_PATH = "/vendor/zxcvbn-ts/common-passwords.txt";
/** The list's first line, followed by its entry count; must match scripts/copy-assets.mjs. */
export const PASSWORD_LIST_HEADER = "# edge-auth common passwords v1";

/** The part of the ASSETS binding (a Fetcher) the check uses. */
export interface AssetFetcher {
  fetch(input: string): Promise<Response>;
}

const FIX =
  "run `npm install` (or `node scripts/copy-assets.mjs`) so public/ holds it, keep [assets] with binding " +
  '"ASSETS" in wrangler.toml, and deploy again';

/**
 * Reads the ~49,000 leaked passwords maintained by zxcvbn-ts from the static assets. They used to be
 * bundled (~200 KiB of the Worker's gzip); now the bundle holds none of them and the first password check
 * of an isolate fetches and parses the file (a few milliseconds, then kept). Anything but the complete
 * list (no binding, a 404, a truncated or foreign file) is a ConfigError: checking against fewer
 * passwords would quietly accept the ones the policy promises to refuse.
 */
export async function loadCommonPasswords(assets: AssetFetcher | undefined): Promise<ReadonlySet<string>> {
  if (!assets) throw new ConfigError([`no ASSETS binding to read the common-password list from: ${FIX}`]);
  // The host is never looked up: the binding serves public/ whatever the URL's origin.
  const res = await assets.fetch(`https://assets.invalid${PASSWORD_LIST_PATH}`);
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new ConfigError([`the common-password list ${PASSWORD_LIST_PATH} answered ${res.status}: ${FIX}`]);
  }
  const lines = (await res.text()).split("\n");
  const header = lines[0] ?? "";
  const count = header.startsWith(`${PASSWORD_LIST_HEADER} `)
    ? Number(header.slice(PASSWORD_LIST_HEADER.length + 1))
    : Number.NaN;
  const words = new Set(lines.slice(1).filter((line) => line !== ""));
  if (!Number.isSafeInteger(count) || count <= 0 || words.size !== count) {
    throw new ConfigError([
      `the common-password list ${PASSWORD_LIST_PATH} is not the complete list (header "${header.slice(0, 60)}", ${words.size} entries): ${FIX}`,
    ]);
  }
  return words;
}

// One load per binding and isolate, shared by concurrent first checks. Keyed by the binding, not global,
// so a Worker (or a test) with another ASSETS gets its own list. A failed load is forgotten, so the next
// check tries again: a missing file keeps failing closed, a passing glitch heals.
const lists = new WeakMap<AssetFetcher, Promise<ReadonlySet<string>>>();

function commonPasswords(assets: AssetFetcher | undefined): Promise<ReadonlySet<string>> {
  if (!assets) return loadCommonPasswords(assets);
  let list = lists.get(assets);
  if (!list) {
    const loading = loadCommonPasswords(assets);
    list = loading;
    lists.set(assets, loading);
    loading.catch(() => {
      if (lists.get(assets) === loading) lists.delete(assets);
    });
  }
  return list;
}

/**
 * NIST SP 800-63B §3.1.1.2 / ASVS 6.2: length (in code points, after NFC) and a blocklist; no composition
 * rules. Throws a 422 with the reason, or a ConfigError (500 `misconfigured`) when the blocklist is
 * unavailable.
 */
export async function assertPasswordAcceptable(
  assets: AssetFetcher | undefined,
  password: string,
  minLength: number,
  email?: string,
  field = "password",
): Promise<void> {
  const normalized = password.normalize("NFC");
  const length = [...normalized].length;
  let reason: string | null = null;
  if (length < minLength) reason = `Password must be at least ${minLength} characters long.`;
  else if (length > PASSWORD_MAX_LENGTH)
    reason = `Password must be at most ${PASSWORD_MAX_LENGTH} characters long.`;
  else if ((await commonPasswords(assets)).has(normalized.toLowerCase())) {
    reason = "This password is too common; choose a less guessable one.";
  } else if (email && normalized.toLowerCase() === email.trim().toLowerCase()) {
    reason = "Password must not be the email address.";
  }
  if (reason)
    throw new AppError("weak_password", { detail: reason, errors: [{ path: field, message: reason }] });
}
