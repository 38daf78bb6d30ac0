/**
 * Bench-only routes (`npm run bench`, bench/README.md). They answer only when ENVIRONMENT=bench and are
 * never in the OpenAPI document: everywhere else `/__bench/*` is the ordinary 404.
 *
 * `/__bench/users` creates verified users (a bench cannot read the verification email) and
 * `/__bench/seed-audit` bulk-loads the audit log; both would be account-takeover and disk-filling
 * primitives in any other environment, hence the gate below.
 */
import { z } from "zod";
import { DUMMY_HASH, hashPassword, verifyPassword } from "../auth/password";
import type { AppContext } from "../context";
import { AppError } from "../errors";
import { newId, randomToken } from "../lib/crypto";
import { createRouter } from "../router";
import { encodeCursor } from "../storage/cursor";
import type { AuditEntry, User } from "../storage/types";

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

const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(512).nullish(),
  user_id: z.string().max(64).nullish(),
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

async function jsonBody(c: AppContext): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new AppError("malformed_json");
  }
}

/** The wire shape of a user (API.md "Users"), so the reference serialises what /auth/me does. */
function wireUser(u: User) {
  return {
    id: u.id,
    email: u.email,
    full_name: u.fullName,
    role: u.role,
    is_active: u.isActive,
    is_verified: u.isVerified,
    two_factor_enabled: u.twoFactorEnabled,
    providers: [
      ...(u.passwordHash ? ["password"] : []),
      ...u.oauthProviders,
      ...(u.hasPasskey ? ["passkey"] : []),
    ],
    created_at: u.createdAt.toISOString(),
  };
}

function wireAudit(e: AuditEntry) {
  return {
    id: e.id,
    user_id: e.userId,
    action: e.action,
    ip: e.ip,
    user_agent: e.userAgent,
    created_at: e.createdAt.toISOString(),
    metadata: e.metadata,
  };
}

export function benchRoutes() {
  const router = createRouter();

  router.use("/__bench/*", async (c, next) => {
    if (c.var.deps.config.ENVIRONMENT !== "bench") throw new AppError("not_found");
    await next();
  });

  /** The framework floor: the whole middleware stack, no storage. */
  router.get("/__bench/bare", (c) => c.json({ ok: true }));

  /**
   * Exactly the irreducible I/O of GET /auth/me, with no token to verify: one KV bulk get of the
   * revocation keys and one D1 primary-key SELECT, concurrently (both keys are known from the token
   * before either lookup), then the same user serialisation.
   */
  router.get("/__bench/reference", async (c) => {
    const id = c.req.query("id") ?? "";
    const { db, ephemeral } = c.var.deps;
    const [revoked, user] = await Promise.all([
      ephemeral.getMany([`revoked:sid:${id}`, `revoked:jti:${id}`]),
      db.users.findById(id),
    ]);
    if (revoked.some((v) => v !== null)) throw new AppError("invalid_access_token");
    if (!user) throw new AppError("not_found");
    return c.json(wireUser(user));
  });

  /** A verified user with a password, straight into storage (no email round trip). */
  router.post("/__bench/users", async (c) => {
    const body = CreateUser.parse(await jsonBody(c));
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
    return c.json(wireUser(user), 201);
  });

  /** One password hash: the cost of scrypt alone in workerd, behind the same HTTP stack as login. */
  router.post("/__bench/hash", async (c) => {
    const { password } = HashBody.parse(await jsonBody(c));
    await hashPassword(password);
    return c.json({ ok: true });
  });

  /**
   * Exactly the irreducible work of POST /auth/login: the account and the two throttle counters read
   * in one round trip (the same adapter call), one password verification, one session write (the
   * session, its refresh-token history and the sign-in's audit entry in one batch), and a token-shaped
   * answer. No throttle key to derive, no token to sign or hash: login minus this is what our own code
   * adds.
   */
  router.post("/__bench/login-reference", async (c) => {
    const { email, password } = LoginBody.parse(await jsonBody(c));
    const { db } = c.var.deps;
    const now = c.var.deps.now();
    const { user } = await db.users.findByEmailWithCounters(
      email,
      [`bench-fail:${email}`, `bench-lock:${email}`],
      now,
    );
    const check = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !check.ok) throw new AppError("invalid_credentials");
    const refreshToken = randomToken(32);
    const sessionId = newId();
    await db.sessions.create(
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
    return c.json({
      access_token: sessionId,
      refresh_token: refreshToken,
      token_type: "bearer",
      expires_in: 900,
    });
  });

  /** Appends `n` audit entries for `user_id`, spaced `step_ms` apart and ending now. */
  router.post("/__bench/seed-audit", async (c) => {
    const q = SeedQuery.parse(c.req.query());
    const prefix = newId().slice(0, 23);
    const newest = c.var.deps.now().getTime();
    const statements: D1PreparedStatement[] = [];
    for (let from = 1; from <= q.n; from += SEED_CHUNK) {
      const to = Math.min(q.n, from + SEED_CHUNK - 1);
      statements.push(c.env.DB.prepare(SEED_SQL).bind(from, to, prefix, q.user_id, newest, q.n, q.step_ms));
    }
    await c.env.DB.batch(statements);
    return c.json({ inserted: q.n, user_id: q.user_id, statements: statements.length }, 201);
  });

  /**
   * The cursor that opens the LAST page of the newest-first listing: the position of the
   * (limit+1)-th oldest entry. Found with an ascending index walk, so it costs nothing at 1M rows.
   */
  router.get("/__bench/audit/last-cursor", async (c) => {
    const q = PageQuery.parse(c.req.query());
    const filter = q.user_id ? "WHERE user_id = ?2" : "";
    const row = await c.env.DB.prepare(
      `SELECT created_at, id FROM audit_log ${filter} ORDER BY created_at ASC, id ASC LIMIT 1 OFFSET ?1`,
    )
      .bind(q.limit, ...(q.user_id ? [q.user_id] : []))
      .first<{ created_at: number; id: string }>();
    return c.json({ cursor: row ? encodeCursor({ createdAt: row.created_at, id: row.id }) : null });
  });

  /** One page straight from deps.db.audit.list, serialised like GET /audit: the storage-side cost. */
  router.get("/__bench/audit", async (c) => {
    const q = PageQuery.parse(c.req.query());
    const page = await c.var.deps.db.audit.list({ limit: q.limit, cursor: q.cursor, userId: q.user_id });
    return c.json({ items: page.items.map(wireAudit), next_cursor: page.nextCursor });
  });

  return router;
}
