/**
 * Storage contracts. Shaped by what the service stores, not generic CRUD.
 *
 * Consistency rule: everything that must be single-use or compare-and-swap (refresh rotation, consuming
 * an email token, a TOTP step, a recovery code, counters) lives in the relational store and is decided by
 * one conditional statement whose affected-row count (or RETURNING row) decides. The ephemeral store (KV
 * or Redis) is eventually consistent on Cloudflare and only holds what tolerates that.
 *
 * Only adapters (src/storage/<driver>/) import driver types.
 */

export type Role = "user" | "admin";

export interface User {
  id: string;
  /** As the user typed it (trimmed, NFC). */
  email: string;
  fullName: string | null;
  /** As chosen (kept from the FastAPI service); unique case-insensitively. */
  username: string | null;
  passwordHash: string | null;
  role: Role;
  isActive: boolean;
  isVerified: boolean;
  twoFactorEnabled: boolean;
  /** When every session was last revoked at once; null if never. */
  sessionsRevokedAt: Date | null;
  /** OAuth providers linked to the account ("google", "facebook"), sorted. */
  oauthProviders: string[];
  /** At least one passkey is registered. */
  hasPasskey: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewUser {
  id: string;
  email: string;
  fullName: string | null;
  username?: string | null;
  passwordHash: string | null;
  role: Role;
  isVerified: boolean;
  now: Date;
}

export interface UserPatch {
  fullName?: string | null;
  passwordHash?: string | null;
  role?: Role;
  isActive?: boolean;
  isVerified?: boolean;
  sessionsRevokedAt?: Date;
}

export interface Page<T> {
  items: T[];
  /** Opaque; null on the last page. */
  nextCursor: string | null;
}

export interface UserListQuery {
  limit: number;
  cursor?: string | null;
  /** Lower-cased email prefix. */
  emailPrefix?: string | null;
}

export interface UserRepository {
  /** Returns null when the (case-insensitive) email is taken. */
  create(user: NewUser): Promise<User | null>;
  findById(id: string): Promise<User | null>;
  findByEmail(email: string): Promise<User | null>;
  /** Case-insensitive. */
  findByUsername(username: string): Promise<User | null>;
  /**
   * The session `sessionId` and its account, read in one statement (a join): what every authenticated
   * request needs to decide, in the relational store, that the session is live and the account active.
   * Null when either row is missing; the caller judges revocation and expiry. Only the session fields
   * that decide are read (not its hashes, address or user agent): this runs on every request.
   */
  findBySession(sessionId: string): Promise<{ user: User; session: SessionLiveness } | null>;
  update(id: string, patch: UserPatch, now: Date): Promise<User | null>;
  /**
   * Marks the address verified (and makes the account admin when `promote`) only if it is not verified
   * yet: one conditional UPDATE, so of any number of concurrent calls exactly one gets the user back and
   * the others null. This is what makes "promotion happens once, on first verification" hold.
   */
  markVerified(id: string, promote: boolean, now: Date): Promise<User | null>;
  /** Newest first, keyset-paginated on (created_at, id). */
  list(query: UserListQuery): Promise<Page<User>>;
}

export interface Session {
  id: string;
  userId: string;
  currentHash: string;
  previousHash: string | null;
  rotatedAt: Date | null;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  /**
   * The session's last proof of a credential: its sign-in, or a reauthentication. A refresh never moves
   * it. Null only on sessions created before it was recorded (read as "not recent").
   */
  authenticatedAt: Date | null;
  ip: string | null;
  userAgent: string | null;
}

/** What authentication needs of a session: whose it is, whether it is live, when it last proved a credential. */
export type SessionLiveness = Pick<Session, "id" | "userId" | "expiresAt" | "revokedAt" | "authenticatedAt">;

export interface NewSession {
  id: string;
  userId: string;
  refreshHash: string;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
  now: Date;
  /**
   * When the credential behind the session was proved, if before `now` (a sign-in code exchanged after
   * the provider's callback); `now` when omitted; null when the session proves no credential (a FastAPI
   * refresh token exchanged during the cut-over), so it is never recently authenticated.
   */
  authenticatedAt?: Date | null;
}

export type RotateResult =
  | { kind: "rotated"; session: Session }
  /** The just-rotated token again, inside the grace window: same session, same next token. */
  | { kind: "grace"; session: Session }
  /** An older token of a live session: the caller revokes the session. */
  | { kind: "reused"; session: Session }
  /** Unknown, expired or revoked. */
  | { kind: "invalid" };

/** The audit entry of a rotation; its user is the session's, known only once the token is matched. */
export type RotationAudit = Omit<NewAuditEntry, "userId">;

export interface SessionRepository {
  /**
   * Creates the session and its first refresh-token history row and, when `audit` is given, appends that
   * entry (the sign-in) in the same transaction and round trip: a session never exists without it.
   * `prepared` (AuditRepository.prepare) is the entry's chain tail read ahead, in place of the first read.
   */
  create(session: NewSession, audit?: NewAuditEntry, prepared?: PreparedTail): Promise<Session>;
  findById(id: string): Promise<Session | null>;
  /** The session that issued the refresh token with this hash (current or older), whatever its state. */
  findByRefreshHash(tokenHash: string): Promise<Session | null>;
  /**
   * Rotates the refresh token if `presentedHash` is still current. Atomic: of any number of concurrent
   * calls with the same hash, exactly one returns "rotated", and only that one writes `audit` (in the
   * rotation's transaction; the entry's user is the session's).
   */
  rotate(
    presentedHash: string,
    nextHash: string,
    now: Date,
    graceMs: number,
    audit?: RotationAudit,
  ): Promise<RotateResult>;
  /** Live (not revoked, not expired) sessions of a user, newest first. */
  listActive(userId: string, now: Date): Promise<Session[]>;
  /** Returns false when the session was already revoked or does not exist. */
  revoke(id: string, now: Date): Promise<boolean>;
  /**
   * Records a fresh proof of a credential on a live session (reauthentication); one conditional UPDATE,
   * false when the session is revoked, expired or missing.
   */
  markAuthenticated(id: string, now: Date): Promise<boolean>;
  /** Revokes every live session of the user except `exceptId`; returns the revoked ids. */
  revokeAllForUser(userId: string, now: Date, exceptId?: string): Promise<string[]>;
  /**
   * Retention: drops at most `limit` sessions (with their token history) that ended before `cutoff`, in
   * one bounded batch; returns how many went (`limit` means more may remain).
   */
  deleteEndedBefore(cutoff: Date, limit: number): Promise<number>;
}

export type TokenPurpose =
  | "email_verification"
  | "password_reset"
  | "mfa"
  | "oauth_state"
  /** The one-time code a browser brings back from a redirect_to hand-over (OAuth, hosted login). */
  | "sign_in_code"
  /** A pending email sign-in: the link token is the row's hash, the 6-digit code's hash is in its data. */
  | "email_login"
  /** The link sent to a new address; `data.email` is that address. */
  | "email_change";

export interface NewOneTimeToken {
  tokenHash: string;
  purpose: TokenPurpose;
  userId: string | null;
  /** Non-secret context bound to the token (JSON-serialisable). */
  data?: Record<string, unknown> | null;
  /** The lower-cased address the token was mailed to, when it was mailed (email sign-in). */
  emailLower?: string | null;
  expiresAt: Date;
  now: Date;
}

/** A live token whose code guess was just counted (see TokenRepository.admitCodeAttempt). */
export interface CodeAttempt {
  tokenHash: string;
  userId: string | null;
  data: Record<string, unknown> | null;
  /** Guesses counted so far, this one included. */
  attempts: number;
}

export interface ConsumedToken {
  userId: string | null;
  data: Record<string, unknown> | null;
}

export interface TokenRepository {
  create(token: NewOneTimeToken): Promise<void>;
  /** One conditional UPDATE: returns the token only to the single caller that consumed it. */
  consume(purpose: TokenPurpose, tokenHash: string, now: Date): Promise<ConsumedToken | null>;
  /** Reads an unconsumed, unexpired token without consuming it (to validate input before consuming). */
  peek(purpose: TokenPurpose, tokenHash: string, now: Date): Promise<ConsumedToken | null>;
  /** Consumes every outstanding token of that purpose for the user (e.g. after a password reset). */
  invalidateForUser(userId: string, purpose: TokenPurpose, now: Date): Promise<void>;
  /**
   * Consumes every outstanding token of that purpose mailed to `emailLower` except the newest one (by
   * creation time, then hash), in one statement. Each request runs it after its own insert, so whichever
   * runs last sees every row and exactly one stays live, whatever order racing requests interleave in.
   */
  keepNewestForEmail(purpose: TokenPurpose, emailLower: string, now: Date): Promise<void>;
  /**
   * Counts one code guess against every live token of that purpose mailed to `emailLower` that has had
   * fewer than `maxAttempts` guesses, in one conditional UPDATE, and returns those tokens: the guess is
   * counted BEFORE it is checked, so parallel guesses cannot exceed the limit.
   */
  admitCodeAttempt(
    purpose: TokenPurpose,
    emailLower: string,
    maxAttempts: number,
    now: Date,
  ): Promise<CodeAttempt[]>;
  /** Retention: at most `limit` tokens expired before `cutoff`, one bounded batch; returns how many went. */
  deleteExpiredBefore(cutoff: Date, limit: number): Promise<number>;
  /**
   * Records a FastAPI refresh token's jti as exchanged: one conditional INSERT, true only for the single
   * caller whose insert landed (the first use), false for every other one.
   */
  spendLegacy(jti: string, userId: string, now: Date): Promise<boolean>;
  /** Whether a FastAPI token's jti was spent: an exchanged refresh token, or an access token signed out. */
  legacySpent(jti: string): Promise<boolean>;
}

export interface NewAuditEntry {
  id: string;
  userId: string | null;
  action: string;
  ip: string | null;
  userAgent: string | null;
  createdAt: Date;
  metadata: Record<string, unknown>;
}

/** A stored entry: its place in its hash chain (src/audit/chain.ts); null only on pre-chain rows. */
export interface AuditEntry extends NewAuditEntry {
  chain: string | null;
  seq: number | null;
  prevHash: string | null;
  hash: string | null;
  /** See src/audit/chain.ts personalDigest: the salt is erased with the account, the digest stays. */
  personalSalt: string | null;
  personalDigest: string | null;
}

/**
 * A chain's tail read ahead of the write that links to it (AuditRepository.prepare), so the read can
 * overlap other work (a sign-in's password hash). Only a hint: the (chain, seq) unique index still
 * decides, and a tail gone stale meanwhile costs one retry from a fresh read, never a fork. `tail` never
 * rejects; null means "read it at write time".
 */
export interface PreparedTail {
  chain: string;
  tail: Promise<ChainEnd | null>;
}

/** Where a chain ends (src/audit/chain.ts ChainTail): the seq and hash its next entry links to. */
export interface ChainEnd {
  seq: number;
  hash: string;
}

/** A chain's start after retention: the seq and hash of the last entry it deleted. */
export interface AuditAnchor {
  seq: number;
  hash: string;
}

export interface AuditQuery {
  limit: number;
  cursor?: string | null;
  userId?: string | null;
  actions?: string[] | null;
  since?: Date | null;
  until?: Date | null;
}

export interface AuditRepository {
  /**
   * Appends the entry to its user's hash chain: reads the chain's tail and inserts seq + 1 with the
   * hash; a concurrent writer that took the same seq makes the insert fail and it retries from the new
   * tail, so parallel writers never fork a chain. `prepared` (see prepare) replaces the first read.
   */
  append(entry: NewAuditEntry, prepared?: PreparedTail): Promise<void>;
  /**
   * Reads the tail of `userId`'s chain now, for a write that follows (append, sessions.create), on both
   * backends; audit/record.ts prepareChain turns a failed read into null. Postgres' append reads the
   * tail inside its one statement and ignores a prepared one; its sessions.create uses it.
   */
  prepare(userId: string | null): Promise<ChainEnd | null>;
  /** Newest first, keyset-paginated on (created_at, id). */
  list(query: AuditQuery): Promise<Page<AuditEntry>>;
  /**
   * Retention only; no route deletes entries. Per chain, deletes the prefix up to the newest entry older
   * than `cutoff` and records that entry's seq and hash as the chain's anchor (before deleting).
   */
  deleteOlderThan(cutoff: Date): Promise<number>;
  /** Chain keys in ascending order after `after` (verification walks them in pages). */
  chains(after: string | null, limit: number): Promise<string[]>;
  /** Entries of `chain` with seq > `afterSeq`, ascending by seq. */
  chainPage(chain: string, afterSeq: number, limit: number): Promise<AuditEntry[]>;
  anchor(chain: string): Promise<AuditAnchor | null>;
  /**
   * The id of an entry with no hash written at or after the oldest chained entry (of `chain`, or of any
   * chain): a row inserted behind the service's back. Rows older than chaining are legacy, not tampering.
   */
  findUnchained(chain: string | null): Promise<string | null>;
}

export type WebhookStatus = "pending" | "delivered" | "failed";

/** One audit entry's webhook delivery (its id is the entry's id, the event id receivers see). */
export interface WebhookDelivery {
  id: string;
  userId: string | null;
  /** The entry's place in its user's chain: a user's deliveries go out in this order. */
  seq: number | null;
  status: WebhookStatus;
  attempts: number;
  nextAttemptAt: Date;
  giveUpAt: Date;
  lastError: string | null;
  lastStatus: number | null;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** What one attempt changed: delivered, due again later, or given up. */
export type DeliverySettlement =
  | { status: "delivered"; at: Date; httpStatus: number }
  | { status: "pending"; nextAttemptAt: Date; error: string; httpStatus: number | null }
  | { status: "failed"; error: string; httpStatus: number | null };

export interface WebhookDeliveryQuery {
  limit: number;
  cursor?: string | null;
  /** Both when absent: delivered rows are not listed. */
  status?: "pending" | "failed";
}

/** The webhook outbox (src/events): written with the audit entries, drained by the queue and the cron. */
export interface WebhookOutboxRepository {
  /**
   * Leases up to `limit` due rows in ONE conditional UPDATE: pending, due, not leased, and the earliest
   * pending row of their user (a user's later event waits until the earlier one is delivered or failed).
   * Of any number of concurrent claimers, each row goes to one; the others see its lease.
   */
  claim(leaseToken: string, now: Date, leaseMs: number, limit: number): Promise<WebhookDelivery[]>;
  /** The audit entries of these deliveries (an entry retention already removed is missing). */
  entries(ids: string[]): Promise<AuditEntry[]>;
  /** Records an attempt if `leaseToken` still holds the row's lease (one conditional UPDATE). */
  settle(id: string, leaseToken: string, outcome: DeliverySettlement): Promise<boolean>;
  /** Pending and failed rows (or one status), newest first, keyset-paginated on (created_at, id). */
  list(query: WebhookDeliveryQuery): Promise<Page<WebhookDelivery & { action: string | null }>>;
  find(id: string): Promise<WebhookDelivery | null>;
  /**
   * Makes a failed row (or a pending one no deliverer holds) due at `now` with a new window until
   * `giveUpAt`; one conditional UPDATE. Null when no such row (unknown, delivered or in flight).
   */
  retry(id: string, now: Date, giveUpAt: Date): Promise<WebhookDelivery | null>;
  /** Retention: up to `limit` delivered rows delivered before `cutoff` (failed ones: `failedCutoff`). */
  deleteSettledBefore(cutoff: Date, failedCutoff: Date, limit: number): Promise<number>;
}

export type OAuthProviderName = "google" | "facebook";

export interface OAuthAccount {
  provider: OAuthProviderName;
  providerUserId: string;
  userId: string;
  email: string | null;
  createdAt: Date;
}

export interface OAuthAccountRepository {
  find(provider: OAuthProviderName, providerUserId: string): Promise<OAuthAccount | null>;
  /** Returns false when that provider account is already linked. */
  link(account: OAuthAccount): Promise<boolean>;
  /** The user's links, oldest first. */
  listForUser(userId: string): Promise<OAuthAccount[]>;
}

export interface TwoFactorState {
  /** AES-GCM ciphertext (see src/twofactor), never the raw secret. */
  secretEnc: string | null;
  pendingSecretEnc: string | null;
  lastStep: number | null;
}

export interface TwoFactorRepository {
  get(userId: string): Promise<TwoFactorState | null>;
  setPending(userId: string, pendingSecretEnc: string, now: Date): Promise<void>;
  /**
   * Promotes the pending secret to the enabled one, records `step` as used and replaces the
   * recovery codes; conditional on the pending secret still being `pendingSecretEnc` and 2FA not
   * being enabled. Returns false otherwise.
   */
  enable(
    userId: string,
    pendingSecretEnc: string,
    step: number,
    recoveryCodeHashes: string[],
    now: Date,
  ): Promise<boolean>;
  disable(userId: string, now: Date): Promise<void>;
  /** Accepts a TOTP time step only if it is later than the last accepted one (one conditional UPDATE). */
  acceptStep(userId: string, step: number): Promise<boolean>;
  replaceRecoveryCodes(userId: string, codeHashes: string[], now: Date): Promise<void>;
  /** One conditional UPDATE: true only for the single caller that consumed the code. */
  consumeRecoveryCode(userId: string, codeHash: string, now: Date): Promise<boolean>;
  countRecoveryCodes(userId: string): Promise<number>;
}

export type PasskeyDeviceType = "singleDevice" | "multiDevice";

export interface Passkey {
  /** The credential id, base64url. */
  id: string;
  userId: string;
  /** COSE-encoded public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  deviceType: PasskeyDeviceType;
  backedUp: boolean;
  name: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export type NewPasskey = Omit<Passkey, "lastUsedAt">;

export type PasskeyDeleteResult = "deleted" | "not_found" | "last_sign_in_method";

export interface PasskeyRepository {
  /** Returns false when the credential id is already registered (to anyone). */
  create(passkey: NewPasskey): Promise<boolean>;
  findById(id: string): Promise<Passkey | null>;
  /** Oldest first. */
  listForUser(userId: string): Promise<Passkey[]>;
  rename(userId: string, id: string, name: string): Promise<Passkey | null>;
  /**
   * Records a verified assertion. One conditional UPDATE: only when `newCounter` is greater than the
   * stored counter, or both are 0 (an authenticator that does not count). False means the counter went
   * backwards or stood still (a cloned authenticator, WebAuthn L3 §6.1.1), or the passkey is gone.
   */
  recordUse(id: string, newCounter: number, backedUp: boolean, now: Date): Promise<boolean>;
  /**
   * Deletes the user's passkey unless it is the account's last way to sign in (no password, no linked
   * provider, no other passkey): one conditional DELETE.
   */
  delete(userId: string, id: string): Promise<PasskeyDeleteResult>;
}

export type PasskeyChallengePurpose = "registration" | "authentication";

export interface NewPasskeyChallenge {
  challengeHash: string;
  purpose: PasskeyChallengePurpose;
  /** The registering user; null for a discoverable sign-in, where nobody is known yet. */
  userId: string | null;
  expiresAt: Date;
  now: Date;
}

export interface PasskeyChallengeRepository {
  create(challenge: NewPasskeyChallenge): Promise<void>;
  /**
   * One conditional UPDATE: true only for the single caller that consumed a live challenge of this
   * purpose bound to exactly `userId` (null: bound to nobody).
   */
  consume(
    purpose: PasskeyChallengePurpose,
    challengeHash: string,
    userId: string | null,
    now: Date,
  ): Promise<boolean>;
  /** Retention: at most `limit` challenges expired before `cutoff`, one bounded batch. */
  deleteExpiredBefore(cutoff: Date, limit: number): Promise<number>;
}

export interface CounterValue {
  count: number;
  resetAt: Date;
}

/** Fixed-window counters in the relational store (strongly consistent). */
export interface CounterRepository {
  /** Adds one in the window that starts at the first hit; a new window starts after `resetAt`. */
  increment(key: string, windowMs: number, now: Date): Promise<CounterValue>;
  /** Deletes the given counters in one statement. */
  reset(...keys: string[]): Promise<void>;
  /** Retention: at most `limit` counters whose window ended before `cutoff`, one bounded batch. */
  deleteExpiredBefore(cutoff: Date, limit: number): Promise<number>;
}

/**
 * How the account throttle counts: attempts in a window that starts at the first one; the attempt that
 * brings the count to `threshold` (and every later admitted one) sets a lock before it is evaluated.
 */
export interface ThrottlePolicy {
  windowMs: number;
  threshold: number;
  /** Lock lengths for the attempts numbered threshold, threshold + 1, …; the last one repeats. */
  locksMs: readonly number[];
}

export type ThrottleAdmission =
  | { admitted: true; attempts: number; lockedUntil: Date | null }
  | { admitted: false; lockedUntil: Date };

/** The per-account sign-in throttle (relational store, strongly consistent). */
export interface LoginThrottleRepository {
  /**
   * Counts one attempt unless the key is locked, in one conditional upsert: of any number of concurrent
   * calls, at most `threshold` are admitted before the lock, then one per lock expiry.
   */
  admit(key: string, policy: ThrottlePolicy, now: Date): Promise<ThrottleAdmission>;
  /** Ends the episode (a right password, a password reset). */
  clear(key: string): Promise<void>;
  /** Retention: at most `limit` rows whose window and lock both ended before `cutoff`, one bounded batch. */
  deleteExpiredBefore(cutoff: Date, limit: number): Promise<number>;
}

export interface DatabaseOptions {
  /**
   * How long one statement may take before the store reports itself unavailable (Postgres; D1 has its
   * own limits). Requests keep the 10 s default; the retention cron, whose deletes can be large, allows
   * more.
   */
  queryTimeoutMs?: number;
  /** How long opening the connection may take (Postgres; config STORAGE_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /**
   * Write each audit entry's webhook delivery to the outbox, in the entry's own atomic write. openDatabase
   * sets it exactly when WEBHOOK_URL is set (no webhook, no rows); `onWrite` runs after each such write.
   */
  outbox?: OutboxOptions;
  /**
   * D1 with D1_READ_REPLICAS: the statements may be served by a read replica (a D1 session
   * "first-unconstrained") instead of starting on the primary ("first-primary"). Only read-only routes
   * ask for it (`replicaReads`); Postgres ignores it.
   */
  replicaReads?: boolean;
}

export interface OutboxOptions {
  onWrite?: () => void;
}

export interface ProfilePatch {
  fullName?: string | null;
  username?: string | null;
}

export type ProfileUpdateResult =
  | { kind: "updated"; user: User }
  | { kind: "username_taken" }
  | { kind: "not_found" };

export type EmailChangeResult =
  | { kind: "changed"; user: User; previousEmail: string }
  /** Unknown, expired or spent token (or its account is gone). */
  | { kind: "invalid" }
  /** Another account holds the address (case-insensitively); the token stays unspent. */
  | { kind: "taken" };

export type UnlinkResult = "unlinked" | "not_found" | "last_sign_in_method";

/** What erasing an account removes besides the rows keyed by its user id. */
export interface ErasureScope {
  userId: string;
  /** The account's address: one-time tokens that carry it in `data.email` die too. */
  email: string;
  /** Counter and login-throttle keys derived from the person (HMACs of the address). */
  personKeys: string[];
  /** The final entry (`account_deleted`), written in the same transaction. */
  audit: NewAuditEntry;
  now: Date;
}

/** The account lifecycle's multi-row decisions (src/account/). */
export interface AccountRepository {
  /**
   * Sets full name and/or username; the unique index on username_lower decides a race between two
   * accounts taking one username (the loser gets username_taken).
   */
  updateProfile(userId: string, patch: ProfilePatch, now: Date): Promise<ProfileUpdateResult>;
  /**
   * Spends an email-change token and moves its account to the address it carries, atomically: the token
   * is spent only if the address changed, and the unique index on email_lower decides a race between two
   * accounts confirming one address. In the same transaction every outstanding verification, reset,
   * email-change and email-login token of the account (by user id, and by the old address) is spent.
   */
  confirmEmailChange(tokenHash: string, killPurposes: string[], now: Date): Promise<EmailChangeResult>;
  /**
   * Removes the user's links to `provider` unless nothing else could sign in (a password, a passkey, a
   * link to another provider): decided atomically against concurrent unlinks and passkey deletions.
   */
  unlinkProvider(userId: string, provider: OAuthProviderName): Promise<UnlinkResult>;
  /**
   * Erases the account and everything keyed by the person in ONE transaction: the user row, sessions and
   * their refresh tokens, one-time tokens (by user id and by address), passkeys and challenges, 2FA and
   * recovery codes, provider links, counters and throttle rows; clears the IP, user agent and salt of
   * its audit entries; appends `scope.audit`. False when the account was already gone.
   */
  erase(scope: ErasureScope): Promise<boolean>;
}

/** Relational store: D1 or Postgres. */
export interface Database {
  readonly kind: "d1" | "postgres";
  users: UserRepository;
  sessions: SessionRepository;
  tokens: TokenRepository;
  audit: AuditRepository;
  oauthAccounts: OAuthAccountRepository;
  twoFactor: TwoFactorRepository;
  counters: CounterRepository;
  loginThrottle: LoginThrottleRepository;
  passkeys: PasskeyRepository;
  passkeyChallenges: PasskeyChallengeRepository;
  accounts: AccountRepository;
  webhooks: WebhookOutboxRepository;
  /** Throws when the store cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Eventually consistent key/value store with TTLs (KV or Redis): never decides revocation; short-lived
 * lookups, rate-limit hints. Nothing here may decide a single-use or compare-and-swap question.
 */
export interface EphemeralStore {
  readonly kind: "kv" | "redis";
  /** One round trip where the backend allows it. */
  getMany(keys: string[]): Promise<(string | null)[]>;
  /** `ttlSeconds` is raised to the backend's minimum where it has one (KV: 60 s). */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
