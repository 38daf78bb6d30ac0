// `npm run admin -- promote <email> [--remote]` / `npm run admin -- demote <email> [--remote]`
// Changes a user's role in D1 through `wrangler d1 execute` (local by default), with an audit entry.
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chainAfter, laterTail } from "../src/audit/chain.ts";
import { isStrictEmail, roleChangeEntry, roleChangeSql, roleTargetSql } from "./admin-sql.ts";

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

/** Runs one --command through wrangler; its rows, or the failure's text. */
function d1(sql) {
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
  if (run.status !== 0)
    return { error: run.stderr || run.stdout || "wrangler d1 execute failed", status: run.status };
  try {
    return { rows: JSON.parse(run.stdout).flatMap((b) => b.results ?? []) };
  } catch {
    return { error: `Could not read wrangler's answer:\n${run.stdout}`, status: 1 };
  }
}

// The audit entry is chained (src/audit/chain.ts): read the chain's tail, hash, insert seq + 1. A writer
// that took that seq meanwhile makes the batch fail on audit_chain_seq_uq; then read again and retry.
let run;
for (let attempt = 1; ; attempt++) {
  const target = d1(roleTargetSql(email));
  if (target.error) {
    console.error(target.error);
    process.exit(target.status ?? 1);
  }
  const [account] = target.rows;
  if (!account) {
    console.error(`No user with the email ${email} (${remote ? "remote" : "local"} database).`);
    process.exit(1);
  }
  const tail = laterTail(
    account.log_seq === null ? null : { seq: account.log_seq, hash: account.log_hash },
    account.anchor_seq === null ? null : { seq: account.anchor_seq, hash: account.anchor_hash },
  );
  const now = Date.now();
  const auditId = randomUUID();
  const link = chainAfter(tail, roleChangeEntry(command, account.id, now, auditId));
  run = d1(roleChangeSql(command, email, account.id, now, auditId, link));
  if (!run.error) break;
  if (!run.error.includes("audit_log.chain, audit_log.seq") || attempt >= 5) {
    console.error(run.error);
    process.exit(run.status ?? 1);
  }
}

const rows = run.rows;
const user = rows.find((r) => r && typeof r === "object" && "role" in r);
if (!user) {
  console.error(`No user with the email ${email} (${remote ? "remote" : "local"} database).`);
  process.exit(1);
}
console.log(
  `${user.email} (${user.id}) is now role=${user.role} in the ${remote ? "remote" : "local"} database.`,
);
console.log("It takes effect on the user's next request; no new sign-in is needed.");
