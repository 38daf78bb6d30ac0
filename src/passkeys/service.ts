import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { prepareChain, recordEvent } from "../audit/record";
import { type SessionTokens, startSession } from "../auth/sign-in";
import { hashToken } from "../auth/tokens";
import type { RequestMeta } from "../context";
import type { Deps } from "../deps";
import { sendSecurityNotice } from "../email/security-notice";
import { AppError } from "../errors";
import { randomBytes } from "../lib/crypto";
import type { Passkey, PasskeyChallengePurpose, PreparedTail, User } from "../storage/types";

/** API.md: challenges live 5 minutes; the browser's own timeout is a little shorter. */
export const CHALLENGE_TTL_MS = 5 * 60_000;
const CEREMONY_TIMEOUT_MS = 4 * 60_000;
export const DEFAULT_PASSKEY_NAME = "Passkey";

// The library and its ASN.1/X.509 stack (@peculiar/*, tsyringe, reflect-metadata: decorators and schema
// registrations at module load) were ~15% of the Worker's start-up CPU, for routes most isolates never
// serve. Dynamic imports keep them in the bundle but evaluate them on the first ceremony only (a static
// import of /helpers alone would evaluate the whole stack again).
interface WebAuthn {
  server: typeof import("@simplewebauthn/server");
  helpers: typeof import("@simplewebauthn/server/helpers");
}
let library: Promise<WebAuthn> | undefined;
function webauthn(): Promise<WebAuthn> {
  library ??= Promise.all([import("@simplewebauthn/server"), import("@simplewebauthn/server/helpers")]).then(
    ([server, helpers]) => ({ server, helpers }),
  );
  return library;
}

/** EdDSA, ES256, RS256 (API.md). Named explicitly: the library's default grows with the runtime (ML-DSA). */
function algorithms({ COSEALG }: WebAuthn["helpers"]): number[] {
  return [COSEALG.EdDSA, COSEALG.ES256, COSEALG.RS256];
}

const encoder = new TextEncoder();

/** The WebAuthn user handle: the account id's bytes. Opaque, stable, and no personal data (§14.6.1). */
function userHandle(userId: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(encoder.encode(userId));
}

/** A fresh 256-bit challenge: stored only as its hash, bound to the user for registration. */
async function newChallenge(
  deps: Deps,
  purpose: PasskeyChallengePurpose,
  userId: string | null,
): Promise<Uint8Array<ArrayBuffer>> {
  const now = deps.now();
  const challenge = randomBytes(32) as Uint8Array<ArrayBuffer>;
  const { isoBase64URL } = (await webauthn()).helpers;
  await deps.db.passkeyChallenges.create({
    challengeHash: await hashToken(isoBase64URL.fromBuffer(challenge)),
    purpose,
    userId,
    expiresAt: new Date(now.getTime() + CHALLENGE_TTL_MS),
    now,
  });
  return challenge;
}

/**
 * Spends the challenge the response answers, before anything else is checked: whatever follows, that
 * challenge never works again (a replayed or tampered response cannot be retried with it).
 */
async function spendChallenge(
  deps: Deps,
  purpose: PasskeyChallengePurpose,
  clientDataJSON: string,
  userId: string | null,
): Promise<string | null> {
  const { decodeClientDataJSON } = (await webauthn()).helpers;
  let challenge: string;
  try {
    challenge = decodeClientDataJSON(clientDataJSON).challenge;
  } catch {
    return null;
  }
  if (typeof challenge !== "string" || challenge.length === 0 || challenge.length > 512) return null;
  const spent = await deps.db.passkeyChallenges.consume(
    purpose,
    await hashToken(challenge),
    userId,
    deps.now(),
  );
  return spent ? challenge : null;
}

export async function registrationOptions(
  deps: Deps,
  user: User,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const [existing, challenge] = await Promise.all([
    deps.db.passkeys.listForUser(user.id),
    newChallenge(deps, "registration", user.id),
  ]);
  const { server, helpers } = await webauthn();
  return server.generateRegistrationOptions({
    rpName: deps.config.APP_NAME,
    rpID: deps.config.WEBAUTHN_RP_ID,
    userName: user.email,
    userDisplayName: user.fullName ?? user.email,
    userID: userHandle(user.id),
    challenge,
    timeout: CEREMONY_TIMEOUT_MS,
    attestationType: "none",
    excludeCredentials: existing.map((p) => ({ id: p.id, transports: p.transports })),
    authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
    supportedAlgorithmIDs: algorithms(helpers),
  });
}

export async function registerPasskey(
  deps: Deps,
  user: User,
  response: RegistrationResponseJSON,
  name: string | undefined,
  meta: RequestMeta,
): Promise<Passkey> {
  const fail = (stage: string): AppError => {
    recordEvent(deps, meta, {
      action: "passkey_failed",
      userId: user.id,
      metadata: { reason: stage, stage: "register" },
    });
    return new AppError("invalid_passkey");
  };
  const challenge = await spendChallenge(deps, "registration", response.response.clientDataJSON, user.id);
  if (!challenge) throw fail("challenge");
  let info: Awaited<ReturnType<typeof verifyRegistrationResponse>>["registrationInfo"];
  try {
    const { server, helpers } = await webauthn();
    const result = await server.verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: deps.config.WEBAUTHN_ORIGINS,
      expectedRPID: deps.config.WEBAUTHN_RP_ID,
      // Preferred, not required (API.md): a security key without a PIN is still a strong first factor.
      requireUserVerification: false,
      supportedAlgorithmIDs: algorithms(helpers),
    });
    info = result.verified ? result.registrationInfo : undefined;
  } catch {
    info = undefined;
  }
  if (!info) throw fail("verification");
  const passkey: Passkey = {
    id: info.credential.id,
    userId: user.id,
    publicKey: (await webauthn()).helpers.isoBase64URL.fromBuffer(info.credential.publicKey),
    counter: info.credential.counter,
    transports: (response.response.transports ?? []).filter((t) => /^[a-z-]{1,32}$/.test(t)).slice(0, 8),
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    name: name ?? DEFAULT_PASSKEY_NAME,
    createdAt: deps.now(),
    lastUsedAt: null,
  };
  // A credential id registered before (to anyone) is refused: ids identify one key pair worldwide.
  if (!(await deps.db.passkeys.create(passkey))) throw fail("duplicate");
  recordEvent(deps, meta, {
    action: "passkey_added",
    userId: user.id,
    metadata: { passkey_id: passkey.id, device_type: passkey.deviceType, backed_up: passkey.backedUp },
  });
  sendSecurityNotice(deps, user, "passkey_added");
  return passkey;
}

export function listPasskeys(deps: Deps, userId: string): Promise<Passkey[]> {
  return deps.db.passkeys.listForUser(userId);
}

export async function renamePasskey(deps: Deps, userId: string, id: string, name: string): Promise<Passkey> {
  const passkey = await deps.db.passkeys.rename(userId, id, name);
  if (!passkey) throw new AppError("not_found");
  return passkey;
}

export async function deletePasskey(deps: Deps, user: User, id: string, meta: RequestMeta): Promise<void> {
  const result = await deps.db.passkeys.delete(user.id, id);
  if (result === "not_found") throw new AppError("not_found");
  if (result === "last_sign_in_method") throw new AppError("last_sign_in_method");
  recordEvent(deps, meta, { action: "passkey_removed", userId: user.id, metadata: { passkey_id: id } });
  sendSecurityNotice(deps, user, "passkey_removed");
}

export async function authenticationOptions(deps: Deps): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const challenge = await newChallenge(deps, "authentication", null);
  // No allowCredentials: discoverable credentials, so the server learns nothing about who is asking.
  const { server } = await webauthn();
  return server.generateAuthenticationOptions({
    rpID: deps.config.WEBAUTHN_RP_ID,
    challenge,
    timeout: CEREMONY_TIMEOUT_MS,
    userVerification: "preferred",
  });
}

/**
 * Verifies a sign-in assertion and returns its (active) account. The challenge is spent first; the
 * signature counter is checked and advanced by one conditional UPDATE. Every refusal is the same 401
 * `invalid_passkey` (the audit entry says why), except a verified passkey of a disabled account (403).
 * `expectedUserId` (re-authentication) also refuses another account's passkey.
 */
export async function verifyPasskeyAssertion(
  deps: Deps,
  response: AuthenticationResponseJSON,
  meta: RequestMeta,
  expectedUserId?: string,
  /** Called once the credential's user is known, before the signature check (see signInWithPasskey). */
  onUser?: (userId: string) => void,
): Promise<{ user: User; passkey: Passkey }> {
  const fail = (reason: string, userId: string | null, passkeyId?: string): AppError => {
    recordEvent(deps, meta, {
      action: "passkey_failed",
      userId,
      metadata: { reason, passkey_id: passkeyId, stage: expectedUserId ? "reauthenticate" : "login" },
    });
    return new AppError("invalid_passkey_assertion");
  };
  const challenge = await spendChallenge(deps, "authentication", response.response.clientDataJSON, null);
  if (!challenge) throw fail("challenge", expectedUserId ?? null);
  const passkey = await deps.db.passkeys.findById(response.id);
  if (!passkey || (expectedUserId !== undefined && passkey.userId !== expectedUserId)) {
    throw fail("unknown_credential", expectedUserId ?? null);
  }
  const { server, helpers } = await webauthn();
  const { isoBase64URL } = helpers;
  const handle = response.response.userHandle;
  if (handle !== undefined && handle !== isoBase64URL.fromBuffer(userHandle(passkey.userId))) {
    throw fail("user_handle", passkey.userId, passkey.id);
  }
  onUser?.(passkey.userId);
  let verification: Awaited<ReturnType<typeof verifyAuthenticationResponse>> | null;
  try {
    verification = await server.verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: deps.config.WEBAUTHN_ORIGINS,
      expectedRPID: deps.config.WEBAUTHN_RP_ID,
      // Counter 0 turns the library's own counter check off: the rule is decided below, atomically, by
      // the conditional UPDATE in recordUse (a read-then-compare here could be raced).
      credential: { id: passkey.id, publicKey: isoBase64URL.toBuffer(passkey.publicKey), counter: 0 },
      requireUserVerification: false,
    });
  } catch {
    verification = null;
  }
  if (!verification?.verified) throw fail("verification", passkey.userId, passkey.id);
  const info = verification.authenticationInfo;
  const user = await deps.db.users.findById(passkey.userId);
  if (!user) throw fail("unknown_credential", null, passkey.id);
  // A passkey stands in for the second factor only when the authenticator verified the user (PIN or
  // biometric): without UV it proves possession alone, which is one factor.
  if (user.twoFactorEnabled && !info.userVerified) throw fail("user_not_verified", user.id, passkey.id);
  if (!(await deps.db.passkeys.recordUse(passkey.id, info.newCounter, info.credentialBackedUp, deps.now()))) {
    // WebAuthn L3 §6.1.1: a counter that does not grow signals a cloned authenticator.
    throw fail("counter_regressed", user.id, passkey.id);
  }
  if (!user.isActive) {
    recordEvent(deps, meta, {
      action: "passkey_failed",
      userId: user.id,
      metadata: { reason: "account_disabled", passkey_id: passkey.id },
    });
    throw new AppError("account_disabled");
  }
  return { user, passkey: { ...passkey, counter: info.newCounter, lastUsedAt: deps.now() } };
}

/** A passkey sign-in: phishing-resistant and user-verifying, so it answers tokens, never mfa_required. */
export async function signInWithPasskey(
  deps: Deps,
  response: AuthenticationResponseJSON,
  meta: RequestMeta,
): Promise<SessionTokens> {
  let prepared: PreparedTail | undefined;
  // Once the credential names its user, that chain's tail is read while the signature is verified.
  const { user, passkey } = await verifyPasskeyAssertion(deps, response, meta, undefined, (userId) => {
    prepared = prepareChain(deps, userId);
  });
  return startSession(
    deps,
    user,
    meta,
    { action: "passkey_login", userId: user.id, metadata: { passkey_id: passkey.id } },
    undefined,
    prepared,
  );
}
