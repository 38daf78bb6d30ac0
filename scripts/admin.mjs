// `npm run admin -- promote <email> [--remote]` / `npm run admin -- demote <email> [--remote]`
// Changes a user's role in D1 through `wrangler d1 execute` (local by default), with an audit entry.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isStrictEmail, roleChangeSql } from "./admin-sql.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE = "usage: npm run admin -- promote|demote <email> [--remote]";

const args = process.argv.slice(2);
const remote = args.includes("--remote");
const [command, email, ...rest] = args.filter((a) => a !== "--remote" && a !== "--local");
if ((command !== "promote" && command !== "demote") || !email || rest.length > 0) {
  console.error(USAGE);
  process.exit(2);
}
if (!isStrictEmail(email)) {
  console.error(`Refusing "${email}": not a plain email address.`);
  process.exit(2);
}

const sql = roleChangeSql(command, email, Date.now(), randomUUID());
const wranglerArgs = [
  "wrangler",
  "d1",
  "execute",
  "DB",
  remote ? "--remote" : "--local",
  "--json",
  "--command",
  sql,
];
// No shell: the SQL travels as one argv entry, so the shell never sees the email.
const run = spawnSync("npx", wranglerArgs, { cwd: root, encoding: "utf8", shell: false });
if (run.status !== 0) {
  console.error(run.stderr || run.stdout || "wrangler d1 execute failed");
  process.exit(run.status ?? 1);
}

let rows = [];
try {
  const batches = JSON.parse(run.stdout);
  rows = batches.flatMap((b) => b.results ?? []);
} catch {
  console.error(`Could not read wrangler's answer:\n${run.stdout}`);
  process.exit(1);
}
const user = rows.find((r) => r && typeof r === "object" && "role" in r);
if (!user) {
  console.error(`No user with the email ${email} (${remote ? "remote" : "local"} database).`);
  process.exit(1);
}
console.log(
  `${user.email} (${user.id}) is now role=${user.role} in the ${remote ? "remote" : "local"} database.`,
);
console.log("It takes effect on the user's next request; no new sign-in is needed.");
