// `npm run audit:verify [-- --remote] [-- --user <id>]`: walks the audit log's hash chains, as
// GET /audit/verify does, from the command line with a progress line. D1 through `wrangler d1 execute`
// (local by default, --remote for the deployed database); Postgres when DATABASE_URL is set.
// Exit code 0 when every chain verifies, 1 when one does not (the first bad entry is printed).
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { verifyAuditLog } from "../src/audit/verify.ts";
import { sqlString } from "./admin-sql.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const remote = args.includes("--remote");
const userIndex = args.indexOf("--user");
const userId = userIndex >= 0 ? args[userIndex + 1] : undefined;
if (userIndex >= 0 && !userId) {
  console.error("usage: npm run audit:verify -- [--remote] [--user <user id>]");
  process.exit(2);
}

/** Rows of one read-only statement, D1 through wrangler (no bind parameters there: values are quoted). */
function d1Query(sql) {
  const run = spawnSync(
    "npx",
    // The remote database is [env.production]'s (wrangler.toml's top level is local development).
    [
      "wrangler",
      "d1",
      "execute",
      "DB",
      ...(remote ? ["--remote", "--env", "production"] : ["--local"]),
      "--json",
      "--command",
      sql,
    ],
    { cwd: root, encoding: "utf8", shell: false },
  );
  if (run.status !== 0) throw new Error(run.stderr || run.stdout || "wrangler d1 execute failed");
  return JSON.parse(run.stdout).flatMap((b) => b.results ?? []);
}

async function openReader() {
  const url = process.env.DATABASE_URL;
  if (url) {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const q = async (sql) => (await client.query(sql.text, sql.values)).rows;
    return { query: q, postgres: true, close: () => client.end() };
  }
  return { query: async (sql) => d1Query(sql.text), postgres: false, close: async () => {} };
}

const reader = await openReader();
/** A statement with `?` placeholders: numbered for Postgres, quoted literals for wrangler. */
const stmt = (text, values) => {
  if (reader.postgres) {
    let i = 0;
    return { text: text.replace(/\?/g, () => `$${++i}`), values };
  }
  let i = 0;
  return {
    text: text.replace(/\?/g, () => {
      const v = values[i++];
      return typeof v === "number" ? String(v) : sqlString(String(v));
    }),
  };
};
const byteOrder = (column) => (reader.postgres ? `${column} collate "C"` : column);
const toEntry = (r) => ({
  id: r.id,
  userId: r.user_id,
  action: r.action,
  ip: r.ip,
  userAgent: r.user_agent,
  createdAt: new Date(r.created_at),
  metadata: typeof r.metadata === "string" ? JSON.parse(r.metadata) : r.metadata,
  chain: r.chain,
  seq: r.seq === null ? null : Number(r.seq),
  prevHash: r.prev_hash,
  hash: r.hash,
  personalSalt: r.personal_salt ?? null,
  personalDigest: r.personal_digest ?? null,
});

// The reads verification needs (the AuditRepository's chains/chainPage/anchor/findUnchained).
const audit = {
  async chains(after, limit) {
    const rows = await reader.query(
      after === null
        ? stmt(
            `select chain from audit_log where chain is not null group by chain order by ${byteOrder("chain")} limit ?`,
            [limit],
          )
        : stmt(
            `select chain from audit_log where chain is not null and ${byteOrder("chain")} > ? group by chain order by ${byteOrder("chain")} limit ?`,
            [after, limit],
          ),
    );
    return rows.map((r) => r.chain);
  },
  async chainPage(chain, afterSeq, limit) {
    const rows = await reader.query(
      stmt("select * from audit_log where chain = ? and seq > ? order by seq limit ?", [
        chain,
        afterSeq,
        limit,
      ]),
    );
    return rows.map(toEntry);
  },
  async anchor(chain) {
    const [row] = await reader.query(stmt("select seq, hash from audit_anchors where chain = ?", [chain]));
    return row ? { seq: Number(row.seq), hash: row.hash } : null;
  },
  async findUnchained(chain) {
    const unchained = "(hash is null or seq is null or chain is null or prev_hash is null)";
    const since = (scope) =>
      `created_at >= (select min(created_at) from audit_log where hash is not null${scope})`;
    const [row] = await reader.query(
      chain === null
        ? stmt(`select id from audit_log where ${unchained} and ${since("")} limit 1`, [])
        : stmt(
            `select id from audit_log where ${unchained} and (chain = ? or ${chain === "" ? "user_id is null" : "user_id = ?"}) and ${since(" and chain = ?")} limit 1`,
            chain === "" ? [chain, chain] : [chain, chain, chain],
          ),
    );
    return row?.id ?? null;
  },
};

const where = reader.postgres ? "Postgres (DATABASE_URL)" : remote ? "remote D1" : "local D1";
try {
  const result = await verifyAuditLog(audit, {
    ...(userId === undefined ? {} : { userId }),
    onProgress: (checked) => process.stderr.write(`\rchecked ${checked} entries…`),
  });
  process.stderr.write("\n");
  if (result.ok) {
    console.log(`ok: ${result.checked} entries verified (${where}).`);
  } else {
    console.log(
      `NOT ok: entry ${result.firstBadId} breaks its chain (${result.checked} verified before it; ${where}).`,
    );
    process.exitCode = 1;
  }
} finally {
  await reader.close();
}
