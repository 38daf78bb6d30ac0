import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

// The one written schema: src/storage/d1/schema.ts derives the D1 tables from these, and the shared
// repositories (src/storage/sql/) are typed with them. A change here needs a migration for both dialects
// (`npm run db:generate` and `npm run db:generate:pg`). Millisecond precision (3) keeps keyset cursors
// (epoch ms) exact: a microsecond-precise row would never compare equal to the cursor position it produced.
const ts = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    email: text("email").notNull(),
    emailLower: text("email_lower").notNull(),
    fullName: text("full_name"),
    // Kept from the FastAPI service (or chosen at registration); null for everyone else. Unique
    // case-insensitively through username_lower, like email.
    username: text("username"),
    usernameLower: text("username_lower"),
    passwordHash: text("password_hash"),
    role: text("role", { enum: ["user", "admin"] })
      .notNull()
      .default("user"),
    isActive: boolean("is_active").notNull().default(true),
    isVerified: boolean("is_verified").notNull().default(false),
    totpSecretEnc: text("totp_secret_enc"),
    totpPendingEnc: text("totp_pending_enc"),
    // TOTP steps are ~5.9e7 today; integer lasts until the year 4010.
    totpLastStep: integer("totp_last_step"),
    // When every session was last revoked (sign-out everywhere, password change or reset): legacy
    // FastAPI access tokens issued before it are refused, as they have no session of ours to revoke.
    sessionsRevokedAt: ts("sessions_revoked_at"),
    createdAt: ts("created_at").notNull(),
    updatedAt: ts("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("users_email_lower_uq").on(t.emailLower),
    uniqueIndex("users_username_lower_uq").on(t.usernameLower),
    index("users_created_id_idx").on(t.createdAt, t.id),
    // Prefix search (LIKE 'abc%') can use a text_pattern_ops index whatever the database collation.
    index("users_email_lower_pattern_idx").using("btree", t.emailLower.op("text_pattern_ops")),
  ],
);

export const sessions = pgTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    currentHash: text("current_hash").notNull(),
    previousHash: text("previous_hash"),
    rotatedAt: ts("rotated_at"),
    createdAt: ts("created_at").notNull(),
    lastUsedAt: ts("last_used_at").notNull(),
    expiresAt: ts("expires_at").notNull(),
    revokedAt: ts("revoked_at"),
    /** The session's last proof of a credential (sign-in or reauthentication); null on rows from before. */
    authenticatedAt: ts("authenticated_at"),
    ip: text("ip"),
    userAgent: text("user_agent"),
  },
  (t) => [
    index("sessions_user_idx").on(t.userId, t.createdAt),
    index("sessions_expires_idx").on(t.expiresAt),
    // Retention finds revoked sessions by this (an OR with expires_at: each side needs its own index).
    index("sessions_revoked_idx").on(t.revokedAt),
  ],
);

/** Every refresh-token hash ever issued for a session, so an old token can be recognised as reuse. */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [index("refresh_tokens_session_idx").on(t.sessionId)],
);

export const oneTimeTokens = pgTable(
  "one_time_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    purpose: text("purpose").notNull(),
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
    data: jsonb("data").$type<Record<string, unknown>>(),
    createdAt: ts("created_at").notNull(),
    expiresAt: ts("expires_at").notNull(),
    consumedAt: ts("consumed_at"),
    // The lower-cased address a token was sent to (email sign-in: the account may not exist yet, so
    // userId can be null). Lets "every pending token of this address" be found and killed in one statement.
    emailLower: text("email_lower"),
    // Wrong guesses of a short code bound to the token (email sign-in): counted before each check.
    attempts: integer("attempts").notNull().default(0),
  },
  (t) => [
    index("one_time_tokens_user_idx").on(t.userId, t.purpose),
    index("one_time_tokens_expires_idx").on(t.expiresAt),
    index("one_time_tokens_email_idx").on(t.emailLower, t.purpose),
  ],
);

export const auditLog = pgTable(
  "audit_log",
  {
    id: text("id").primaryKey(),
    userId: text("user_id"),
    action: text("action").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: ts("created_at").notNull(),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    // The hash chain (src/audit/chain.ts): `chain` is the user id, or "" for entries with no user; `seq`
    // numbers the chain from 1; `hash` = SHA-256(prev_hash ‖ canonical JSON of the entry). Nullable only
    // for rows written before chaining existed; every write since sets all four.
    chain: text("chain"),
    seq: integer("seq"),
    prevHash: text("prev_hash"),
    hash: text("hash"),
    // The IP and user agent are hashed through SHA-256(personal_salt ‖ their JSON) = personal_digest
    // (src/audit/chain.ts): erasing an account clears ip, user_agent and the salt, and the chain still
    // verifies. Null on entries with neither field and on entries written before this existed.
    personalSalt: text("personal_salt"),
    personalDigest: text("personal_digest"),
  },
  (t) => [
    // Two writers that read the same chain tail both try seq + 1: one insert wins, the other fails on
    // this index and retries from the new tail, so a chain never forks.
    uniqueIndex("audit_chain_seq_uq").on(t.chain, t.seq),
    index("audit_created_idx").on(t.createdAt, t.id),
    index("audit_user_created_idx").on(t.userId, t.createdAt, t.id),
    index("audit_action_created_idx").on(t.action, t.createdAt, t.id),
  ],
);

/**
 * Per chain, the last entry retention deleted: the chain's new start, so verification still links the
 * first remaining entry to something (and a deletion anywhere else still breaks the chain).
 */
export const auditAnchors = pgTable("audit_anchors", {
  chain: text("chain").primaryKey(),
  seq: integer("seq").notNull(),
  hash: text("hash").notNull(),
});

/**
 * Webhook deliveries still to make (or made): one row per audit entry, written in the same atomic write as
 * the entry when WEBHOOK_URL is set (src/events/). The row's id is the entry's id, which receivers get as the
 * event id. `seq` is the entry's place in its user's chain: a user's rows are delivered in seq order.
 */
export const webhookOutbox = pgTable(
  "webhook_outbox",
  {
    id: text("id").primaryKey(),
    userId: text("user_id"),
    seq: integer("seq"),
    status: text("status", { enum: ["pending", "delivered", "failed"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ts("next_attempt_at").notNull(),
    /** After this, a failed attempt is the last one: the row becomes `failed` (24 h after it was written). */
    giveUpAt: ts("give_up_at").notNull(),
    /** A deliverer's claim: until then no other deliverer (queue, cron, another isolate) takes the row. */
    leaseUntil: ts("lease_until"),
    leaseToken: text("lease_token"),
    lastError: text("last_error"),
    lastStatus: integer("last_status"),
    createdAt: ts("created_at").notNull(),
    deliveredAt: ts("delivered_at"),
  },
  (t) => [
    // What is due; a user's earlier rows still pending (the per-user order); the admin list; retention.
    index("webhook_outbox_due_idx").on(t.status, t.nextAttemptAt),
    index("webhook_outbox_user_seq_idx").on(t.userId, t.seq),
    index("webhook_outbox_status_created_idx").on(t.status, t.createdAt, t.id),
    index("webhook_outbox_delivered_idx").on(t.deliveredAt),
  ],
);

export const oauthAccounts = pgTable(
  "oauth_accounts",
  {
    provider: text("provider").notNull(),
    providerUserId: text("provider_user_id").notNull(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    email: text("email"),
    createdAt: ts("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.provider, t.providerUserId] }),
    index("oauth_accounts_user_idx").on(t.userId),
  ],
);

export const recoveryCodes = pgTable(
  "recovery_codes",
  {
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    createdAt: ts("created_at").notNull(),
    usedAt: ts("used_at"),
  },
  (t) => [primaryKey({ columns: [t.userId, t.codeHash] })],
);

export const counters = pgTable(
  "counters",
  {
    key: text("key").primaryKey(),
    count: integer("count").notNull(),
    resetAt: ts("reset_at").notNull(),
  },
  (t) => [index("counters_reset_idx").on(t.resetAt)],
);

/**
 * Refresh tokens of the FastAPI service already exchanged for a session: the jti's primary key makes the
 * exchange single-use (one conditional INSERT; of two concurrent exchanges one inserts, one is refused).
 */
export const legacySpentTokens = pgTable("legacy_spent_tokens", {
  jti: text("jti").primaryKey(),
  userId: text("user_id").notNull(),
  spentAt: ts("spent_at").notNull(),
});

/**
 * The per-account sign-in throttle (keyed by an HMAC of the email): attempts counted in a window that
 * starts at the first one, and the lock that the counting statement itself sets once the count reaches
 * the threshold, so parallel guesses cannot all pass a check made before they are counted.
 */
export const loginThrottle = pgTable(
  "login_throttle",
  {
    key: text("key").primaryKey(),
    attempts: integer("attempts").notNull(),
    windowEndsAt: ts("window_ends_at").notNull(),
    lockedUntil: ts("locked_until"),
  },
  (t) => [index("login_throttle_window_idx").on(t.windowEndsAt)],
);

/** WebAuthn credentials (API.md "Passkeys"). The id is the credential id (base64url), unique worldwide. */
export const passkeys = pgTable(
  "passkeys",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** COSE public key, base64url. */
    publicKey: text("public_key").notNull(),
    /** The authenticator's signature counter: unsigned 32-bit, so bigint (integer would overflow at 2^31). */
    counter: bigint("counter", { mode: "number" }).notNull(),
    /** Comma-joined AuthenticatorTransport values, as the browser reported them. */
    transports: text("transports").notNull().default(""),
    deviceType: text("device_type", { enum: ["singleDevice", "multiDevice"] }).notNull(),
    backedUp: boolean("backed_up").notNull(),
    name: text("name").notNull(),
    createdAt: ts("created_at").notNull(),
    lastUsedAt: ts("last_used_at"),
  },
  (t) => [index("passkeys_user_idx").on(t.userId, t.createdAt)],
);

/**
 * Outstanding WebAuthn challenges, stored as SHA-256 hashes. Registration challenges are bound to the
 * user who asked; sign-in challenges (discoverable credentials) to nobody.
 */
export const passkeyChallenges = pgTable(
  "passkey_challenges",
  {
    challengeHash: text("challenge_hash").primaryKey(),
    purpose: text("purpose", { enum: ["registration", "authentication"] }).notNull(),
    userId: text("user_id").references(() => users.id, { onDelete: "cascade" }),
    createdAt: ts("created_at").notNull(),
    expiresAt: ts("expires_at").notNull(),
    consumedAt: ts("consumed_at"),
  },
  (t) => [index("passkey_challenges_expires_idx").on(t.expiresAt)],
);
