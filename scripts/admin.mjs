// `npm run admin -- promote|demote <email> [--remote]` and `npm run admin -- create-admin <email> [--remote]`
// Changes a user's role (with an audit entry), or creates the first, verified admin of a fresh deployment
// with a random password printed once. Targets, in this order:
//   - Postgres when DATABASE_URL is set (environment, or .dev.vars), with bind parameters;
//   - else D1 through `wrangler d1 execute`: local by default, --remote for [env.production]'s database.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { hashPasswordForApp, randomPassword } from "./admin-password.ts";
import { createAdminSql, isStrictEmail, POSTGRES_SQL, roleChangeSql } from "./admin-sql.ts";
import { parseDevVars } from "./dev-vars.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE = "usage: npm run admin -- promote|demote|create-admin <email> [--remote]";

const args = process.argv.slice(2);
const remote = args.includes("--remote");
const [command, email, ...rest] = args.filter((a) => a !== "--remote" && a !== "--local");
if (!["promote", "demote", "create-admin"].includes(command) || !email || rest.length > 0) {
  console.error(USAGE);
  process.exit(2);
}
if (!isStrictEmail(email)) {
  console.error(`Refusing "${email}": not a plain email address.`);
  process.exit(2);
}

const devVarsFile = join(root, ".dev.vars");
const databaseUrl =
  process.env.DATABASE_URL?.trim() ||
  (!remote && existsSync(devVarsFile)
    ? parseDevVars(readFileSync(devVarsFile, "utf8")).DATABASE_URL?.trim()
    : "");
const now = Date.now();
const password = command === "create-admin" ? randomPassword() : null;
const passwordHash = password ? await hashPasswordForApp(password) : null;

/** @returns {Promise<{ rows: Array<Record<string, unknown>>, where: string }>} */
async function onPostgres() {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  const target = new URL(databaseUrl);
  await client.connect();
  try {
    const { rows } =
      command === "create-admin"
        ? await client.query(POSTGRES_SQL.createAdmin, [
            randomUUID(),
            email,
            email.toLowerCase(),
            passwordHash,
            new Date(now),
          ])
        : await client.query(POSTGRES_SQL.roleChange, [
            email.toLowerCase(),
            command === "promote" ? "admin" : "user",
            new Date(now),
            randomUUID(),
            command === "promote" ? "role_promoted" : "user_updated",
            JSON.stringify(
              command === "promote"
                ? { reason: "cli" }
                : { changes: { role: { from: "admin", to: "user" } }, actor_id: null },
            ),
          ]);
    return { rows, where: `Postgres ${target.host}${target.pathname}` };
  } finally {
    await client.end();
  }
}

function onD1() {
  const sql =
    command === "create-admin"
      ? createAdminSql(email, passwordHash, now, randomUUID())
      : roleChangeSql(command, email, now, randomUUID());
  // The remote database is [env.production]'s (wrangler.toml's top level is local development).
  const location = remote ? ["--remote", "--env", "production"] : ["--local"];
  const wranglerArgs = ["wrangler", "d1", "execute", "DB", ...location, "--json", "--command", sql];
  // No shell: the SQL travels as one argv entry, so the shell never sees the email.
  const run = spawnSync("npx", wranglerArgs, { cwd: root, encoding: "utf8", shell: false });
  if (run.status !== 0) {
    console.error(run.stderr || run.stdout || "wrangler d1 execute failed");
    process.exit(run.status ?? 1);
  }
  try {
    const batches = JSON.parse(run.stdout);
    return { rows: batches.flatMap((b) => b.results ?? []), where: `${remote ? "remote" : "local"} D1` };
  } catch {
    console.error(`Could not read wrangler's answer:\n${run.stdout}`);
    process.exit(1);
  }
}

const { rows, where } = databaseUrl ? await onPostgres() : onD1();
const user = rows.find((r) => r && typeof r === "object" && "role" in r);
if (!user) {
  console.error(
    command === "create-admin"
      ? `${email} already has an account (${where}); nothing changed. Once its owner has verified it, use promote.`
      : `No user with the email ${email} (${where}).`,
  );
  process.exit(1);
}
if (command === "create-admin") {
  console.log(`Created ${user.email} (${user.id}), role=admin, verified, in ${where}.`);
  console.log(`Password (shown once; sign in and change it): ${password}`);
} else {
  console.log(`${user.email} (${user.id}) is now role=${user.role} in ${where}.`);
  console.log("It takes effect on the user's next request; no new sign-in is needed.");
}
