// `npm run import:fastapi -- --from <postgres-url> [--to local|remote|<postgres-url>] [--persist-to DIR] [--batch N]`
// Copies the FastAPI service's users and activity logs into this service's database (README, "Migrating
// from the FastAPI service"). Idempotent: users are inserted with ON CONFLICT DO NOTHING, activity logs under
// ids derived from the old ones are skipped when present, so a second run inserts nothing and says so.
// Imported activity logs join their user's audit hash chain, so `GET /audit/verify` still passes.
// Runs with Node's type stripping.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import pg from "pg";
import { type ChainTail, chainAfter, chainOf, laterTail } from "../src/audit/chain.ts";
import { encryptSecret } from "../src/twofactor/secret-box.ts";
import { isStrictEmail } from "./admin-sql.ts";
// @ts-expect-error plain .mjs script without declarations; typed below.
import { parseDevVars as parseDevVarsUntyped } from "./dev-vars.mjs";

const parseDevVars = parseDevVarsUntyped as (text: string) => Record<string, string>;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE =
  "usage: npm run import:fastapi -- --from <postgres-url> [--to local|remote|<postgres-url>] [--persist-to DIR] [--batch N]";

/** One clear message and exit code for everything that stops the import before it writes. */
class Stop extends Error {
  readonly code: number;
  constructor(message: string, code = 1) {
    super(message);
    this.code = code;
  }
}

interface Options {
  from: string;
  to: string;
  persistTo: string | undefined;
  batch: number;
}

export function parseArgs(argv: string[]): Options {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (!["--from", "--to", "--persist-to", "--batch"].includes(flag))
      throw new Stop(`unknown argument ${flag}\n${USAGE}`, 2);
    const value = argv[++i];
    if (value === undefined || value.startsWith("--")) throw new Stop(`${flag} needs a value\n${USAGE}`, 2);
    values.set(flag, value);
  }
  const from = values.get("--from");
  if (!from) throw new Stop(`--from is required\n${USAGE}`, 2);
  const to = values.get("--to") ?? "local";
  if (to !== "local" && to !== "remote" && !/^postgres(ql)?:\/\//.test(to))
    throw new Stop(`--to must be local, remote or a postgres:// URL\n${USAGE}`, 2);
  if (values.has("--persist-to") && to !== "local")
    throw new Stop("--persist-to only applies to --to local", 2);
  const batch = Number(values.get("--batch") ?? 1000);
  if (!Number.isInteger(batch) || batch < 1 || batch > 5000) throw new Stop("--batch must be 1..5000", 2);
  return { from, to, persistTo: values.get("--persist-to"), batch };
}

const BCRYPT = /^\$2[aby]\$(0[4-9]|1[0-4])\$[./A-Za-z0-9]{53}$/;
const ACTIONS: Record<string, string> = {
  register: "register",
  verify_email: "email_verified",
  login: "login_succeeded",
  logout: "logout",
  "2fa_setup": "2fa_setup",
  "2fa_enable": "2fa_enabled",
  "2fa_disable": "2fa_disabled",
  oauth_login: "login_succeeded",
};

interface OldUser {
  id: number;
  username: string | null;
  email: string;
  hashed_password: string;
  role: string | null;
  is_active: boolean | null;
  is_verified: boolean | null;
  two_factor_secret: string | null;
  two_factor_enabled: boolean | null;
}

interface UserRow {
  id: string;
  email: string;
  email_lower: string;
  username: string | null;
  username_lower: string | null;
  password_hash: string;
  role: "user" | "admin";
  is_active: boolean;
  is_verified: boolean;
  totp_secret_enc: string | null;
  created_at: Date;
  updated_at: Date;
}

interface AuditRow {
  id: string;
  user_id: string | null;
  action: string;
  created_at: Date;
  metadata: string;
  // The entry's link in its user's hash chain (src/audit/chain.ts), so `GET /audit/verify` passes after
  // an import as before it.
  chain: string;
  seq: number;
  prev_hash: string;
  hash: string;
}

const USER_COLUMNS = [
  "id",
  "email",
  "email_lower",
  "username",
  "username_lower",
  "password_hash",
  "role",
  "is_active",
  "is_verified",
  "totp_secret_enc",
  "created_at",
  "updated_at",
] as const;
const AUDIT_COLUMNS = [
  "id",
  "user_id",
  "action",
  "created_at",
  "metadata",
  "chain",
  "seq",
  "prev_hash",
  "hash",
] as const;

/** Where an import writes: this service's Postgres, or a D1 database (local, or any D1 binding). */
export interface Target {
  /** Inserts the users that are not there yet; returns how many rows were inserted. */
  insertUsers(rows: UserRow[]): Promise<number>;
  /**
   * Inserts audit rows (already chained, none present yet) in one transaction; a (chain, seq) taken by
   * a writer that appended meanwhile fails the whole call.
   */
  insertAudit(rows: AuditRow[]): Promise<number>;
  /** Which of these audit ids are already stored (a rerun skips them). */
  existingAuditIds(ids: string[]): Promise<Set<string>>;
  /** Where a chain ends now: its newest row or its retention anchor. */
  chainTail(chain: string): Promise<ChainTail>;
  close(): Promise<void>;
}

const TAIL_SQL = (p: (n: number) => string): [string, string] => [
  `select seq, hash from audit_log where chain = ${p(1)} and seq is not null order by seq desc limit 1`,
  `select seq, hash from audit_anchors where chain = ${p(1)}`,
];

class ChainMoved extends Error {}

const placeholders = (columns: readonly string[], rows: number, dollar: boolean): string =>
  Array.from(
    { length: rows },
    (_, r) => `(${columns.map((_, c) => (dollar ? `$${r * columns.length + c + 1}` : "?")).join(", ")})`,
  ).join(", ");

async function postgresTarget(url: string): Promise<Target> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // A dropped connection surfaces as the failing query's error; the idle event would crash the process.
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select username_lower from users limit 0");
  } catch (err) {
    throw new Stop(`target database: ${(err as Error).message} (is it migrated? npm run db:migrate:pg)`);
  }
  const insert = async (table: string, columns: readonly string[], rows: Record<string, unknown>[]) => {
    if (rows.length === 0) return 0;
    // Fixed statement text with bound values only; ON CONFLICT DO NOTHING makes a rerun a no-op.
    const res = await client.query(
      `insert into ${table} (${columns.join(", ")}) values ${placeholders(columns, rows.length, true)} on conflict do nothing`,
      rows.flatMap((row) => columns.map((c) => row[c])),
    );
    return res.rowCount ?? 0;
  };
  const [newest, anchor] = TAIL_SQL((n) => `$${n}`);
  return {
    insertUsers: (rows) => insert("users", USER_COLUMNS, rows as never),
    insertAudit: async (rows) => {
      if (rows.length === 0) return 0;
      try {
        // One statement: all of the batch or none of it.
        const res = await client.query(
          `insert into audit_log (${AUDIT_COLUMNS.join(", ")}) values ${placeholders(AUDIT_COLUMNS, rows.length, true)}`,
          rows.flatMap((row) => AUDIT_COLUMNS.map((c) => row[c])),
        );
        return res.rowCount ?? 0;
      } catch (err) {
        if ((err as { code?: string }).code === "23505") throw new ChainMoved();
        throw err;
      }
    },
    existingAuditIds: async (ids) => {
      if (ids.length === 0) return new Set();
      const res = await client.query<{ id: string }>("select id from audit_log where id = any($1)", [ids]);
      return new Set(res.rows.map((r) => r.id));
    },
    chainTail: async (chain) => {
      const [a, b] = await Promise.all([client.query(newest, [chain]), client.query(anchor, [chain])]);
      return laterTail(
        ...[a.rows[0], b.rows[0]].map((r) => (r ? { seq: Number(r.seq), hash: r.hash } : null)),
      );
    },
    close: () => client.end().catch(() => {}),
  };
}

async function localD1Target(persistTo: string | undefined): Promise<Target> {
  // wrangler's own local bindings: the same D1 state `wrangler d1 ... --local [--persist-to DIR]` uses.
  const { getPlatformProxy } = await import("wrangler");
  const proxy = await getPlatformProxy<{ DB: D1Database }>({
    configPath: join(root, "wrangler.toml"),
    // --persist-to DIR keeps its state under DIR/v3, as wrangler does.
    ...(persistTo ? { persist: { path: join(persistTo, "v3") } } : {}),
  });
  return d1Target(proxy.env.DB, () => proxy.dispose());
}

/**
 * The deployed D1 ([env.production]'s, as `npm run deploy` migrates it) through wrangler's remote
 * bindings: the same statements as locally, bound values and batches included, sent to Cloudflare's API
 * under the account `wrangler login` (or CLOUDFLARE_API_TOKEN) gives.
 */
async function remoteD1Target(): Promise<Target> {
  const { getPlatformProxy, unstable_readConfig } = await import("wrangler");
  const config = unstable_readConfig({ config: join(root, "wrangler.toml"), env: "production" });
  const databases = config.d1_databases as {
    binding: string;
    database_name?: string;
    database_id?: string;
  }[];
  const binding = databases.find((d) => d.binding === "DB");
  if (!binding?.database_id || /^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(binding.database_id)) {
    throw new Stop(
      "remote D1: set database_id of [[env.production.d1_databases]] in wrangler.toml (npx wrangler d1 create edge-auth prints it)",
    );
  }
  // A throwaway config holding only that binding, marked remote (wrangler.toml itself stays local-first).
  const dir = join(root, ".wrangler", "import-remote");
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, "wrangler.json");
  writeFileSync(
    configPath,
    JSON.stringify({
      name: config.name,
      compatibility_date: config.compatibility_date,
      d1_databases: [
        {
          binding: "DB",
          database_name: binding.database_name,
          database_id: binding.database_id,
          remote: true,
        },
      ],
    }),
  );
  const proxy = await getPlatformProxy<{ DB: D1Database }>({
    configPath,
    remoteBindings: true,
    persist: false,
  });
  return d1Target(proxy.env.DB, () => proxy.dispose(), "remote D1");
}

/** A D1 database as the import's target: the local one through wrangler, or a binding (the tests). */
export async function d1Target(
  db: D1Database,
  dispose: () => Promise<void> = async () => {},
  where = "local D1",
): Promise<Target> {
  try {
    await db.prepare("select username_lower from users limit 0").all();
  } catch (err) {
    await dispose();
    const migrate = where === "remote D1" ? "npm run db:migrate:remote" : "npm run db:migrate:local";
    throw new Stop(`${where}: ${(err as Error).message} (is it migrated? ${migrate})`);
  }
  // D1 binds at most 100 values per statement; it stores booleans as 0/1 and times as epoch ms.
  const value = (v: unknown) =>
    v instanceof Date ? v.getTime() : typeof v === "boolean" ? (v ? 1 : 0) : (v ?? null);
  const statements = (
    table: string,
    columns: readonly string[],
    rows: Record<string, unknown>[],
    onConflict: string,
  ) => {
    const perStatement = Math.floor(100 / columns.length);
    const out = [];
    for (let i = 0; i < rows.length; i += perStatement) {
      const chunk = rows.slice(i, i + perStatement);
      const sql = `insert into ${table} (${columns.join(", ")}) values ${placeholders(columns, chunk.length, false)}${onConflict}`;
      out.push(db.prepare(sql).bind(...chunk.flatMap((row) => columns.map((c) => value(row[c])))));
    }
    return out;
  };
  // All statements of a call in one batch: one transaction, one round trip.
  const run = async (batch: D1PreparedStatement[]) =>
    batch.length === 0 ? 0 : (await db.batch(batch)).reduce((n, r) => n + (r.meta.changes ?? 0), 0);
  const [newest, anchor] = TAIL_SQL(() => "?");
  return {
    insertUsers: (rows) => run(statements("users", USER_COLUMNS, rows as never, " on conflict do nothing")),
    insertAudit: async (rows) => {
      try {
        return await run(statements("audit_log", AUDIT_COLUMNS, rows as never, ""));
      } catch (err) {
        if (/UNIQUE constraint failed/i.test((err as Error).message)) throw new ChainMoved();
        throw err;
      }
    },
    existingAuditIds: async (ids) => {
      const found = new Set<string>();
      for (let i = 0; i < ids.length; i += 100) {
        const chunk = ids.slice(i, i + 100);
        const { results } = await db
          .prepare(`select id from audit_log where id in (${chunk.map(() => "?").join(", ")})`)
          .bind(...chunk)
          .all<{ id: string }>();
        for (const r of results) found.add(r.id);
      }
      return found;
    },
    chainTail: async (chain) => {
      const [a, b] = await Promise.all([
        db.prepare(newest).bind(chain).first<{ seq: number; hash: string }>(),
        db.prepare(anchor).bind(chain).first<{ seq: number; hash: string }>(),
      ]);
      return laterTail(a, b);
    },
    close: dispose,
  };
}

function encryptionKey(): string | undefined {
  const fromEnv = process.env.ENCRYPTION_KEY?.trim() || process.env.SECRET_KEY?.trim();
  if (fromEnv) return fromEnv;
  const file = join(root, ".dev.vars");
  if (!existsSync(file)) return undefined;
  const vars = parseDevVars(readFileSync(file, "utf8"));
  return vars.ENCRYPTION_KEY?.trim() || vars.SECRET_KEY?.trim() || undefined;
}

export interface Report {
  users: { read: number; inserted: number; alreadyPresent: number };
  auditEntries: { read: number; inserted: number; alreadyPresent: number };
  skipped: { id: number; reason: string }[];
  usernamesDropped: { id: number; reason: string }[];
}

export async function runImport(
  options: Options,
  log: (line: string) => void = console.log,
  // The target named by options.to, unless the caller brings one (the tests bring the Worker's D1).
  openTarget: () => Promise<Target> = () =>
    options.to === "local"
      ? localD1Target(options.persistTo)
      : options.to === "remote"
        ? remoteD1Target()
        : postgresTarget(options.to),
): Promise<Report> {
  const source = new pg.Client({ connectionString: options.from, connectionTimeoutMillis: 10_000 });
  source.on("error", () => {});
  try {
    await source.connect();
  } catch (err) {
    throw new Stop(`cannot reach the FastAPI database: ${(err as Error).message}`);
  }
  let target: Target | undefined;
  try {
    try {
      await source.query(
        "select id, username, email, hashed_password, role, is_active, is_verified, two_factor_secret, two_factor_enabled from users limit 0",
      );
      await source.query("select id, user_id, action, timestamp from activity_logs limit 0");
    } catch (err) {
      throw new Stop(
        `the source is not the FastAPI schema (users, activity_logs): ${(err as Error).message}`,
      );
    }
    const { rows: totals } = await source.query<{ users: string; twofa: string; logs: string }>(
      "select (select count(*) from users) as users, (select count(*) from users where two_factor_enabled and two_factor_secret is not null) as twofa, (select count(*) from activity_logs) as logs",
    );
    const total = Number(totals[0]!.users);
    const key = encryptionKey();
    if (Number(totals[0]!.twofa) > 0 && !key) {
      throw new Stop(
        "2FA users need ENCRYPTION_KEY (or SECRET_KEY) of the deployment, in the environment or .dev.vars",
      );
    }
    target = await openTarget();

    const report: Report = {
      users: { read: 0, inserted: 0, alreadyPresent: 0 },
      auditEntries: { read: 0, inserted: 0, alreadyPresent: 0 },
      skipped: [],
      usernamesDropped: [],
    };
    const emails = new Set<string>();
    const usernames = new Set<string>();
    const imported = new Set<number>();
    const now = new Date();
    const config = { ENCRYPTION_KEY: key, SECRET_KEY: key } as never;
    let after = -1;
    const started = Date.now();
    for (;;) {
      const { rows } = await source.query<OldUser>(
        "select id, username, email, hashed_password, role, is_active, is_verified, two_factor_secret, two_factor_enabled from users where id > $1 order by id limit $2",
        [after, options.batch],
      );
      if (rows.length === 0) break;
      after = rows[rows.length - 1]!.id;
      const batch: UserRow[] = [];
      for (const old of rows) {
        report.users.read += 1;
        const email = (old.email ?? "").normalize("NFC").trim();
        const emailLower = email.toLowerCase();
        if (!isStrictEmail(email)) {
          report.skipped.push({ id: old.id, reason: "malformed email" });
          continue;
        }
        if (emails.has(emailLower)) {
          report.skipped.push({ id: old.id, reason: "duplicate email (case-insensitive)" });
          continue;
        }
        if (!BCRYPT.test(old.hashed_password ?? "")) {
          report.skipped.push({ id: old.id, reason: "malformed password hash" });
          continue;
        }
        let totp: string | null = null;
        if (old.two_factor_enabled && old.two_factor_secret) {
          try {
            totp = await encryptSecret(
              config,
              String(old.id),
              decodeBase32IgnorePadding(old.two_factor_secret.trim()),
            );
          } catch {
            report.skipped.push({ id: old.id, reason: "malformed 2FA secret" });
            continue;
          }
        }
        let username = old.username?.normalize("NFC").trim() || null;
        if (username && (username.includes("@") || username.length > 64)) {
          report.usernamesDropped.push({ id: old.id, reason: "contains @ or is over 64 characters" });
          username = null;
        } else if (username && usernames.has(username.toLowerCase())) {
          report.usernamesDropped.push({ id: old.id, reason: "duplicate username (case-insensitive)" });
          username = null;
        }
        emails.add(emailLower);
        if (username) usernames.add(username.toLowerCase());
        imported.add(old.id);
        batch.push({
          id: String(old.id),
          email,
          email_lower: emailLower,
          username,
          username_lower: username?.toLowerCase() ?? null,
          password_hash: old.hashed_password,
          role: old.role === "admin" ? "admin" : "user",
          is_active: old.is_active ?? true,
          is_verified: old.is_verified ?? false,
          totp_secret_enc: totp,
          created_at: now,
          updated_at: now,
        });
      }
      const inserted = await target.insertUsers(batch);
      report.users.inserted += inserted;
      report.users.alreadyPresent += batch.length - inserted;
      const rate = Math.round(report.users.read / Math.max(0.001, (Date.now() - started) / 1000));
      log(`users ${report.users.read}/${total} (${rate}/s)`);
    }

    let afterLog = -1;
    const tails = new Map<string, ChainTail>();
    for (;;) {
      const { rows } = await source.query<{
        id: number;
        user_id: number | null;
        action: string;
        timestamp: Date;
      }>("select id, user_id, action, timestamp from activity_logs where id > $1 order by id limit $2", [
        afterLog,
        options.batch,
      ]);
      if (rows.length === 0) break;
      afterLog = rows[rows.length - 1]!.id;
      report.auditEntries.read += rows.length;
      // Derived from the old id, so a rerun finds what it imported instead of duplicating it.
      const idOf = (old: number) => `fastapi-log-${old}`;
      const present = await target.existingAuditIds(rows.map((r) => idOf(r.id)));
      const batch: AuditRow[] = [];
      for (const r of rows) {
        if (present.has(idOf(r.id))) continue;
        const metadata = { imported: true, fastapi_action: r.action, fastapi_user_id: r.user_id };
        const entry = {
          id: idOf(r.id),
          userId: r.user_id !== null && imported.has(r.user_id) ? String(r.user_id) : null,
          action: ACTIONS[r.action] ?? r.action,
          ip: null,
          userAgent: null,
          createdAt: r.timestamp ?? now,
          metadata,
        };
        // Appended to the chain's current end, in the old ids' order: the chain hashes exactly what is
        // stored, so verification treats imported entries like any other.
        const chain = chainOf(entry.userId);
        const tail = tails.get(chain) ?? (await target.chainTail(chain));
        const link = chainAfter(tail, entry);
        tails.set(chain, { seq: link.seq, hash: link.hash });
        batch.push({
          id: entry.id,
          user_id: entry.userId,
          action: entry.action,
          created_at: entry.createdAt,
          metadata: JSON.stringify(metadata),
          chain: link.chain,
          seq: link.seq,
          prev_hash: link.prevHash,
          hash: link.hash,
        });
      }
      try {
        report.auditEntries.inserted += await target.insertAudit(batch);
      } catch (err) {
        if (!(err instanceof ChainMoved)) throw err;
        throw new Stop(
          "an audit chain grew while importing (is the service already live?): run the import again, it continues where it stopped",
        );
      }
      report.auditEntries.alreadyPresent += present.size;
      log(`activity logs ${report.auditEntries.read}/${totals[0]!.logs}`);
    }
    return report;
  } finally {
    await target?.close();
    await source.end().catch(() => {});
  }
}

function printReport(report: Report): void {
  const { users, auditEntries, skipped, usernamesDropped } = report;
  console.log(
    `users: ${users.read} read, ${users.inserted} imported, ${users.alreadyPresent} already present (or email taken), ${skipped.length} skipped`,
  );
  console.log(
    `activity logs: ${auditEntries.read} read, ${auditEntries.inserted} imported, ${auditEntries.alreadyPresent} already present`,
  );
  for (const s of skipped) console.log(`  skipped user ${s.id}: ${s.reason}`);
  for (const s of usernamesDropped) console.log(`  user ${s.id} imported without username: ${s.reason}`);
  if (users.inserted === 0 && auditEntries.inserted === 0)
    console.log("nothing to do: everything was already imported");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    printReport(
      await runImport(parseArgs(process.argv.slice(2)), (line) => process.stderr.write(`${line}\n`)),
    );
  } catch (err) {
    console.error(err instanceof Stop ? err.message : `import failed: ${(err as Error).message}`);
    process.exit(err instanceof Stop ? err.code : 1);
  }
}
