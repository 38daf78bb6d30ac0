import { AppError } from "../errors";

export const PASSWORD_MAX_LENGTH = 128;

// ~49,000 leaked passwords maintained by zxcvbn-ts. The module decompresses the list when evaluated, so
// it is imported (and built into a Set) on the first password check, not at isolate start-up.
let common: Promise<Set<string>> | undefined;
async function isCommon(password: string): Promise<boolean> {
  common ??= import("@zxcvbn-ts/language-common/dist/passwords.json.mjs").then(
    ({ default: list }) => new Set(list.map((p) => p.toLowerCase())),
  );
  return (await common).has(password.toLowerCase());
}

/**
 * NIST SP 800-63B §3.1.1.2 / ASVS 6.2: length (in code points, after NFC) and a blocklist; no composition
 * rules. Throws a 422 with the reason.
 */
export async function assertPasswordAcceptable(
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
  else if (await isCommon(normalized)) reason = "This password is too common; choose a less guessable one.";
  else if (email && normalized.toLowerCase() === email.trim().toLowerCase()) {
    reason = "Password must not be the email address.";
  }
  if (reason)
    throw new AppError("weak_password", { detail: reason, errors: [{ path: field, message: reason }] });
}
