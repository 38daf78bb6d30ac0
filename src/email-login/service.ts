import { prepareChain, recordEvent } from "../audit/record";
import { presentTokens } from "../auth/present";
import { revokeAllSessions } from "../auth/sessions";
import { completeSignIn, type MfaChallenge, startSession, type TokenResponse } from "../auth/sign-in";
import { hashToken } from "../auth/tokens";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { emailLoginEmail } from "../email/templates";
import { AppError } from "../errors";
import { constantTimeEqual, hmacBase64url, newId, randomToken } from "../lib/crypto";
import type { CodeAttempt, ConsumedToken, User } from "../storage/types";
import { markEmailVerified } from "../users/service";

/** How long the link and the code of one request live (API.md: 10 minutes). */
export const EMAIL_LOGIN_TTL_MS = 10 * 60_000;
/** Guesses one code survives; the guess that uses up the last one spends the request (link included). */
export const MAX_CODE_ATTEMPTS = 5;
/** Sign-in emails per address per hour. Each email is a fresh code, so this also caps code guesses. */
export const EMAIL_LOGIN_EMAILS_PER_HOUR = 5;

const PURPOSE = "email_login";

/** What proves the mailbox: the link's token, or the address with the 6-digit code. */
export type EmailLoginProof = { token: string } | { email: string; code: string };

/**
 * `POST /auth/email-login`: answers at once, the same for every address; the lookup, the writes and the
 * email run after the answer (deps.defer), so neither the answer nor its timing says whether an account
 * exists.
 */
export function requestEmailLogin(deps: Deps, email: string, meta: RequestMeta): void {
  deps.defer(sendEmailLogin(deps, email, meta), "email sign-in request");
}

async function sendEmailLogin(deps: Deps, email: string, meta: RequestMeta): Promise<void> {
  const emailLower = email.toLowerCase();
  const user = await deps.db.users.findByEmail(email);
  const event = (outcome: string) =>
    recordEvent(deps, meta, {
      action: "email_login_requested",
      userId: user?.id ?? null,
      metadata: { outcome },
    });
  // Without sign-up an unknown address gets nothing: no email, no pending row.
  if (!user && !deps.config.EMAIL_LOGIN_SIGNUP) return event("no_account");
  if (!(await allowEmailLoginTo(deps, emailLower))) return event("throttled");
  const token = randomToken(32);
  const code = sixDigitCode();
  const tokenHash = await hashToken(token);
  const now = deps.now();
  await deps.db.tokens.create({
    tokenHash,
    purpose: PURPOSE,
    userId: user?.id ?? null,
    emailLower,
    // The address as typed (an account created on verify keeps it); the code only as a keyed hash.
    data: { address: user?.email ?? email, code_hash: await codeHash(deps, emailLower, code) },
    expiresAt: new Date(now.getTime() + EMAIL_LOGIN_TTL_MS),
    now,
  });
  // Written first, then all but the newest die: a crash in between leaves two live rows, never none.
  await deps.db.tokens.keepNewestForEmail(PURPOSE, emailLower, now);
  await deps.email.send(emailLoginEmail(deps.config, user?.email ?? email, token, code));
  event("sent");
}

/**
 * `POST /auth/email-login/verify`. The proof is spent by one conditional UPDATE (of parallel verifies of
 * one link or one code exactly one gets past it); then the account is found or created, and the sign-in
 * ends like any first factor: tokens, or `mfa_required` for a 2FA account.
 */
export async function verifyEmailLogin(
  deps: Deps,
  proof: EmailLoginProof,
  meta: RequestMeta,
): Promise<TokenResponse | MfaChallenge> {
  const via = "token" in proof ? "link" : "code";
  const failure = via === "link" ? "invalid_token" : "invalid_code";
  const consumed =
    "token" in proof
      ? await deps.db.tokens.consume(PURPOSE, await hashToken(proof.token), deps.now())
      : await consumeByCode(deps, proof.email, proof.code);
  if (!consumed) throw new AppError(failure);

  // A request for a known account: its chain's tail is read along with the account.
  const ahead = consumed.userId ? prepareChain(deps, consumed.userId) : undefined;
  const found = await accountFor(deps, consumed);
  if (!found) throw new AppError(failure);
  let { user } = found;
  // Taking over or verifying the account writes to its chain first: the tail read ahead would be stale.
  const prepared = !user.isVerified ? undefined : ahead;
  // Refused only now, after the mailbox was proved: before, the answer would tell a stranger the state.
  if (!user.isActive) throw new AppError("account_disabled");
  // An unverified account someone else may have set up (a password, a Facebook sign-in, a second factor).
  const takeover = !found.created && !user.isVerified;
  if (takeover) await dropUnprovenCredentials(deps, user);
  if (!user.isVerified) {
    // The single path to verified: kills the verification links, promotes ADMIN_EMAILS once.
    await markEmailVerified(deps, user, meta, "email_login");
    const fresh = await deps.db.users.findById(user.id);
    if (!fresh) throw new AppError(failure);
    user = fresh;
  }

  const metadata = { via, created: found.created, takeover };
  if (user.twoFactorEnabled) {
    recordEvent(deps, meta, {
      action: "email_login",
      userId: user.id,
      metadata: { ...metadata, mfa_required: true },
    });
    return completeSignIn(deps, user, "email_login", meta);
  }
  // A proof of the mailbox is a credential: the session's auth_time is now (recent authentication).
  return presentTokens(
    await startSession(
      deps,
      user,
      meta,
      { action: "email_login", userId: user.id, metadata },
      undefined,
      prepared,
    ),
  );
}

/**
 * Counts the guess against the address's pending request BEFORE checking it (one conditional UPDATE that
 * refuses a request with MAX_CODE_ATTEMPTS guesses), so 60 parallel guesses get 5 checks. One request is
 * pending per address, but between two racing requests' statements there can be two for a moment, so
 * every admitted one is checked.
 */
async function consumeByCode(deps: Deps, email: string, code: string): Promise<ConsumedToken | null> {
  const digits = code.replace(/[\s-]/g, "");
  // Not six digits: it matches nothing, and costs the owner no attempt.
  if (!/^[0-9]{6}$/.test(digits)) return null;
  const emailLower = email.toLowerCase();
  const now = deps.now();
  const admitted = await deps.db.tokens.admitCodeAttempt(PURPOSE, emailLower, MAX_CODE_ATTEMPTS, now);
  if (admitted.length === 0) return null;
  const presented = await codeHash(deps, emailLower, digits);
  let match: CodeAttempt | null = null;
  for (const pending of admitted) {
    const stored = pending.data?.code_hash;
    // No early exit: every admitted row is compared, in constant time.
    const equal = typeof stored === "string" && constantTimeEqual(stored, presented);
    if (equal && match === null) match = pending;
  }
  if (match) return deps.db.tokens.consume(PURPOSE, match.tokenHash, now);
  // The guess that used the last attempt spends the request: its link dies with its code.
  for (const pending of admitted)
    if (pending.attempts >= MAX_CODE_ATTEMPTS) await deps.db.tokens.consume(PURPOSE, pending.tokenHash, now);
  return null;
}

/**
 * The account the proved address belongs to. A request made for a known account signs in only to that
 * account, and only while it still has the address (an email change in between makes the proof
 * worthless). A request for an unknown address signs in to whoever holds the address now, or creates the
 * account when sign-up is allowed.
 */
async function accountFor(
  deps: Deps,
  consumed: ConsumedToken,
): Promise<{ user: User; created: boolean } | null> {
  const address = consumed.data?.address;
  if (typeof address !== "string") return null;
  if (consumed.userId) {
    const user = await deps.db.users.findById(consumed.userId);
    return user && user.email.toLowerCase() === address.toLowerCase() ? { user, created: false } : null;
  }
  const existing = await deps.db.users.findByEmail(address);
  if (existing) return { user: existing, created: false };
  if (!deps.config.EMAIL_LOGIN_SIGNUP) return null;
  const created = await deps.db.users.create({
    id: newId(),
    email: address,
    fullName: null,
    passwordHash: null,
    role: "user",
    // Verified by the caller through markEmailVerified, the one place that does it (and promotes).
    isVerified: false,
    now: deps.now(),
  });
  if (created) return { user: created, created: true };
  // A concurrent sign-up of the same address won: the proof is as good for its account.
  const winner = await deps.db.users.findByEmail(address);
  return winner ? { user: winner, created: false } : null;
}

/**
 * Pre-registration takeover defence (as for a Google sign-in): someone may have registered the victim's
 * address (with a password they know, or through Facebook, which vouches for no address) and waited for
 * the victim to prove the mailbox. The unproven password and second factor are dropped and every session
 * ends; the owner can set a password by reset.
 */
async function dropUnprovenCredentials(deps: Deps, user: User): Promise<void> {
  await deps.db.users.update(user.id, { passwordHash: null }, deps.now());
  if (user.twoFactorEnabled) await deps.db.twoFactor.disable(user.id, deps.now());
  await revokeAllSessions(deps, user.id);
}

/** The code is bound to the address and keyed, so a leaked table does not give codes away in 10^6 tries. */
function codeHash(deps: Deps, emailLower: string, code: string): Promise<string> {
  return hmacBase64url(deps.config.SECRET_KEY, "email-login-code", `${emailLower}\0${code}`);
}

/** Uniform 000000..999999: values past the last whole multiple of 10^6 are drawn again (no modulo bias). */
function sixDigitCode(): string {
  const limit = Math.floor(0x1_0000_0000 / 1_000_000) * 1_000_000;
  const buf = new Uint32Array(1);
  for (;;) {
    crypto.getRandomValues(buf);
    const n = buf[0]!;
    if (n < limit) return String(n % 1_000_000).padStart(6, "0");
  }
}

/** Per-address cap, silent (the answer stays 202), with its own budget: it must not eat the reset emails'. */
async function allowEmailLoginTo(deps: Deps, emailLower: string): Promise<boolean> {
  const key = `email-login:${await hashToken(emailLower)}`;
  const { count } = await deps.db.counters.increment(key, 3_600_000, deps.now());
  return count <= EMAIL_LOGIN_EMAILS_PER_HOUR;
}
