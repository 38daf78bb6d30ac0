/**
 * Bench-only routes (`npm run bench`, bench/README.md). They exist only in the bench Worker
 * (bench/worker.ts, bench/wrangler.toml): the production entry (src/index.ts) never imports this file, so
 * they are not in the deployed bundle at all (`npm run check:bundle` proves it).
 *
 * `/__bench/users` creates verified users (a bench cannot read the verification email) and
 * `/__bench/seed-audit` bulk-loads the audit log; both would be account-takeover and disk-filling
 * primitives in any deployed Worker, which is why they live here and nowhere else.
 *
 * Bodies and queries go through the app's own validation (createRoute, `hide` keeps them out of the
 * OpenAPI document) and answers through the app's presenters, so a reference measures the same work.
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { chainOf } from "../src/audit/chain";
import { presentAuditPage } from "../src/audit/present";
import { DUMMY_HASH, hashPassword, verifyPassword } from "../src/auth/password";
import { presentTokens } from "../src/auth/present";
import type { AppEnv } from "../src/context";
import { AppError } from "../src/errors";
import { newId, randomToken } from "../src/lib/crypto";
import { createRouter } from "../src/router";
import { openDatabase } from "../src/storage";
import { encodeCursor } from "../src/storage/cursor";
import { presentUser } from "../src/users/present";

const CreateUser = z.object({
  email: z.string().trim().min(3).max(320),
  password: z.string().min(1).max(1024),
  full_name: z.string().max(200).nullish(),
  role: z.enum(["user", "admin"]).default("user"),
});

const HashBody = z.object({ password: z.string().min(1).max(1024) });
const LoginBody = z.object({ email: z.string().min(3).max(320), password: z.string().min(1).max(1024) });

const SeedQuery = z.object({
  n: z.coerce.number().int().min(1).max(2_000_000),
  user_id: z.string().min(1).max(64),
  /** Milliseconds between consecutive entries, newest ending now. */
  step_ms: z.coerce.number().int().min(1).max(86_400_000).default(1000),
});

const SessionWriteQuery = z.object({
  user_id: z.string().min(1).max(64),
  /** bare: the session and its token history; chained: + the sign-in's chained audit entry (what
   * POST /auth/login writes); outbox: + that entry's webhook delivery row (login with WEBHOOK_URL set).
   * chained/outbox read the chain's tail during the overlap, as login does during the password hash;
   * the -inline ones read it after, in front of the write (what a sign-in paid before it did); on
   * Postgres they read nothing ahead: the write reads the tail and hashes in SQL, its only path before. */
  variant: z.enum(["bare", "chained", "outbox", "chained-inline", "outbox-inline"]),
  /** A stand-in for the password hash (the same wait in every variant, so paired differences cancel it). */
  overlap_ms: z.coerce.number().int().min(0).max(1000).default(0),
  /** 1: first touch the tables the write uses, so Postgres plans it with their catalog entries loaded
   * (as on a pooled, Hyperdrive backend), not loading them on first use as a fresh backend does. */
  warm: z.enum(["0", "1"]).default("0"),
});
const SeedUsersQuery = z.object({ n: z.coerce.number().int().min(1).max(2_000_000) });

const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(512).nullish(),
  user_id: z.string().max(64).nullish(),
});

const ok = { 200: { description: "OK" } } as const;
const created = { 201: { description: "Created" } } as const;
const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { "application/json": { schema } } },
});

// One statement inserts a whole chunk from a recursive CTE, so 1M rows are a handful of statements
// in one D1 batch (one transaction) instead of 10^4+ bound-parameter INSERTs (D1 caps bound
// parameters at 100 per statement).
const SEED_CHUNK = 100_000;
const SEED_SQL = `INSERT INTO audit_log (id, user_id, action, ip, user_agent, created_at, metadata)
WITH RECURSIVE seq(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?2)
SELECT printf('%s-%012x', ?3, i), ?4,
  CASE i % 4 WHEN 0 THEN 'login_succeeded' WHEN 1 THEN 'token_refreshed' WHEN 2 THEN 'login_failed' ELSE 'logout' END,
  '127.0.0.1', 'edge-auth-bench', ?5 - (?6 - i) * ?7, '{}'
FROM seq`;

// Users for the scale phase, each with one live session (so the sessions table grows with them), in
// the same chunked recursive-CTE form. Emails are unique per run (the prefix); no password (the
// accounts only fill the tables and indexes; the bench's own users sign in).
const SEED_USERS_SQL = `INSERT INTO users (id, email, email_lower, role, is_active, is_verified, created_at, updated_at)
WITH RECURSIVE seq(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?2)
SELECT printf('%s-%012x', ?3, i), printf('seed-%s-%d@example.com', ?3, i), printf('seed-%s-%d@example.com', ?3, i),
  'user', 1, 1, ?4 - (?2 - i) * 1000, ?4
FROM seq`;
const SEED_SESSIONS_SQL = `INSERT INTO sessions (id, user_id, current_hash, created_at, last_used_at, expires_at, authenticated_at)
WITH RECURSIVE seq(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?2)
SELECT printf('%s-s%012x', ?3, i), printf('%s-%012x', ?3, i), printf('%s-h%012x', ?3, i), ?4, ?4, ?4 + 86400000, ?4
FROM seq`;

export function benchRoutes(): OpenAPIHono<AppEnv> {
  const router = createRouter();

  /** The framework floor: the whole middleware stack, no storage. */
  router.openapi(createRoute({ method: "get", path: "/__bench/bare", hide: true, responses: ok }), (c) =>
    c.json({ ok: true }, 200),
  );

  /**
   * Exactly the irreducible I/O of GET /auth/me, with no token to verify: the session (`?sid=`) and its
   * account in one statement (the same adapter call authenticate makes), the same liveness checks, then
   * the same user serialisation.
   */
  router.openapi(
    createRoute({
      method: "get",
      path: "/__bench/reference",
      hide: true,
      request: { query: z.object({ sid: z.string().max(64).default("") }) },
      responses: ok,
    }),
    async (c) => {
      const { sid } = c.req.valid("query");
      const found = await c.var.deps.db.users.findBySession(sid);
      if (!found) throw new AppError("not_found");
      const { session, user } = found;
      if (session.revokedAt !== null || session.expiresAt.getTime() <= Date.now() || !user.isActive)
        throw new AppError("invalid_access_token");
      return c.json(presentUser(user), 200);
    },
  );

  /**
   * The one-round-trip reference for GET /auth/me: exactly one primary-key read of the account
   * (`?uid=`), no session, no token, and the same user JSON. /auth/me must reach 0.95x of it: its one
   * statement (the session joined with its account) may cost no more than this one read.
   */
  router.openapi(
    createRoute({
      method: "get",
      path: "/__bench/pk-reference",
      hide: true,
      request: { query: z.object({ uid: z.string().max(64).default("") }) },
      responses: ok,
    }),
    async (c) => {
      const user = await c.var.deps.db.users.findById(c.req.valid("query").uid);
      if (!user) throw new AppError("not_found");
      return c.json(presentUser(user), 200);
    },
  );

  /** A verified user with a password, straight into storage (no email round trip). */
  router.openapi(
    createRoute({
      method: "post",
      path: "/__bench/users",
      hide: true,
      request: jsonBody(CreateUser),
      responses: created,
    }),
    async (c) => {
      const body = c.req.valid("json");
      const { db } = c.var.deps;
      const user = await db.users.create({
        id: newId(),
        email: body.email,
        fullName: body.full_name ?? null,
        passwordHash: await hashPassword(body.password),
        role: body.role,
        isVerified: true,
        now: c.var.deps.now(),
      });
      if (!user) throw new AppError("conflict", { detail: "That email is taken." });
      return c.json(presentUser(user), 201);
    },
  );

  /** One password hash: the cost of scrypt alone in workerd, behind the same HTTP stack as login. */
  router.openapi(
    createRoute({
      method: "post",
      path: "/__bench/hash",
      hide: true,
      request: jsonBody(HashBody),
      responses: ok,
    }),
    async (c) => {
      await hashPassword(c.req.valid("json").password);
      return c.json({ ok: true }, 200);
    },
  );

  /**
   * Exactly the irreducible work of POST /auth/login: the account read and the throttle's counting
   * upsert side by side (the same adapter calls), one password verification, one session write (the
   * session, its refresh-token history and the sign-in's audit entry in one batch) side by side with the
   * throttle clear, and a token-shaped answer. No throttle key to derive, no token to sign or hash:
   * login minus this is what our own code adds.
   */
  router.openapi(
    createRoute({
      method: "post",
      path: "/__bench/login-reference",
      hide: true,
      request: jsonBody(LoginBody),
      responses: ok,
    }),
    async (c) => {
      const { email, password } = c.req.valid("json");
      const { db } = c.var.deps;
      const now = c.var.deps.now();
      const throttleKey = `bench-login:${email}`;
      const [user] = await Promise.all([
        db.users.findByEmail(email),
        // A threshold the bench never reaches: the same statement, never a lock.
        db.loginThrottle.admit(
          throttleKey,
          { windowMs: 86_400_000, threshold: 1_000_000, locksMs: [60_000] },
          now,
        ),
      ]);
      const check = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
      if (!user || !check.ok) throw new AppError("invalid_credentials");
      const refreshToken = randomToken(32);
      const sessionId = newId();
      const create = db.sessions.create(
        {
          id: sessionId,
          userId: user.id,
          refreshHash: refreshToken,
          expiresAt: new Date(now.getTime() + 86_400_000),
          ip: null,
          userAgent: null,
          now,
        },
        {
          id: newId(),
          userId: user.id,
          action: "login_succeeded",
          ip: null,
          userAgent: null,
          createdAt: now,
          metadata: { method: "password" },
        },
      );
      await Promise.all([create, db.loginThrottle.clear(throttleKey)]);
      return c.json(presentTokens({ accessToken: sessionId, refreshToken, expiresIn: 900 }), 200);
    },
  );

  /**
   * The sign-in's session write, several ways, so the bench can show what the audit chain (its tail read
   * and hash) and the webhook outbox add to it. `outbox*` opens storage as the app does with WEBHOOK_URL
   * set; on whichever backend the bench Worker runs (D1, or Postgres with DATABASE_URL).
   */
  router.openapi(
    createRoute({
      method: "post",
      path: "/__bench/session-write",
      hide: true,
      request: { query: SessionWriteQuery },
      responses: ok,
    }),
    async (c) => {
      const { user_id: userId, variant, overlap_ms: overlapMs, warm } = c.req.valid("query");
      const { deps } = c.var;
      const now = deps.now();
      // With a webhook URL the app's storage also writes the outbox row (src/storage/index.ts); the URL
      // is never called here (no delivery runs in this request).
      const outbox = variant.startsWith("outbox");
      const db = outbox
        ? openDatabase({ ...deps.config, WEBHOOK_URL: "https://webhook.bench.invalid/" }, c.env)
        : deps.db;
      const session = {
        id: newId(),
        userId,
        refreshHash: randomToken(32),
        expiresAt: new Date(now.getTime() + 86_400_000),
        ip: null,
        userAgent: null,
        now,
      };
      const audit = {
        id: newId(),
        userId,
        action: "login_succeeded",
        ip: "127.0.0.1",
        userAgent: "bench",
        createdAt: now,
        metadata: { method: "password" },
      };
      // As login does (src/auth/login.ts): the account is read first, so every variant's connection (a
      // new one per request on Postgres) is open before the hash and none pays it in the write; then the
      // tail read starts before the hash and is used after it.
      await db.users.findById(userId);
      const ahead = variant === "chained" || variant === "outbox";
      const prepared = ahead
        ? { chain: chainOf(userId), tail: db.audit.prepare(userId).catch(() => null) }
        : undefined;
      try {
        if (warm === "1") {
          await Promise.all([
            db.audit.chainPage(chainOf(userId), 2 ** 31 - 1, 1),
            db.audit.anchor(chainOf(userId)),
            db.webhooks.find(newId()),
          ]);
        }
        if (overlapMs > 0) await new Promise((resolve) => setTimeout(resolve, overlapMs));
        await db.sessions.create(session, variant === "bare" ? undefined : audit, prepared);
      } finally {
        // Its own connection on Postgres: ended after the answer, as the app ends its own.
        if (outbox) deps.defer(db.close(), "bench storage close");
      }
      return c.json({ ok: true }, 200);
    },
  );

  /** Appends `n` audit entries for `user_id`, spaced `step_ms` apart and ending now. */
  router.openapi(
    createRoute({
      method: "post",
      path: "/__bench/seed-audit",
      hide: true,
      request: { query: SeedQuery },
      responses: created,
    }),
    async (c) => {
      const q = c.req.valid("query");
      const prefix = newId().slice(0, 23);
      const newest = c.var.deps.now().getTime();
      const statements: D1PreparedStatement[] = [];
      for (let from = 1; from <= q.n; from += SEED_CHUNK) {
        const to = Math.min(q.n, from + SEED_CHUNK - 1);
        statements.push(c.env.DB.prepare(SEED_SQL).bind(from, to, prefix, q.user_id, newest, q.n, q.step_ms));
      }
      await c.env.DB.batch(statements);
      return c.json({ inserted: q.n, user_id: q.user_id, statements: statements.length }, 201);
    },
  );

  /** Adds `n` users, each with a live session, in one D1 batch (the scale phase: 1k and 1M users). */
  router.openapi(
    createRoute({
      method: "post",
      path: "/__bench/seed-users",
      hide: true,
      request: { query: SeedUsersQuery },
      responses: created,
    }),
    async (c) => {
      const { n } = c.req.valid("query");
      const prefix = newId().slice(0, 23);
      const now = c.var.deps.now().getTime();
      const statements: D1PreparedStatement[] = [];
      for (let from = 1; from <= n; from += SEED_CHUNK) {
        const to = Math.min(n, from + SEED_CHUNK - 1);
        statements.push(c.env.DB.prepare(SEED_USERS_SQL).bind(from, to, prefix, now));
        statements.push(c.env.DB.prepare(SEED_SESSIONS_SQL).bind(from, to, prefix, now));
      }
      await c.env.DB.batch(statements);
      return c.json({ inserted: n, statements: statements.length }, 201);
    },
  );

  /**
   * The cursor that opens the LAST page of the newest-first listing: the position of the
   * (limit+1)-th oldest entry. Found with an ascending index walk, so it costs nothing at 1M rows.
   */
  router.openapi(
    createRoute({
      method: "get",
      path: "/__bench/audit/last-cursor",
      hide: true,
      request: { query: PageQuery },
      responses: ok,
    }),
    async (c) => {
      const q = c.req.valid("query");
      const filter = q.user_id ? "WHERE user_id = ?2" : "";
      const row = await c.env.DB.prepare(
        `SELECT created_at, id FROM audit_log ${filter} ORDER BY created_at ASC, id ASC LIMIT 1 OFFSET ?1`,
      )
        .bind(q.limit, ...(q.user_id ? [q.user_id] : []))
        .first<{ created_at: number; id: string }>();
      return c.json({ cursor: row ? encodeCursor({ createdAt: row.created_at, id: row.id }) : null }, 200);
    },
  );

  /** One page straight from deps.db.audit.list, serialised like GET /audit: the storage-side cost. */
  router.openapi(
    createRoute({
      method: "get",
      path: "/__bench/audit",
      hide: true,
      request: { query: PageQuery },
      responses: ok,
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await c.var.deps.db.audit.list({
        limit: q.limit,
        cursor: q.cursor ?? null,
        userId: q.user_id ?? null,
      });
      return c.json(presentAuditPage(page), 200);
    },
  );

  return router;
}
