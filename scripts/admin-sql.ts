// Pure helpers for scripts/admin.mjs (no imports, so Node runs this file by stripping its types).
// `wrangler d1 execute` has no bind parameters: the email is validated strictly and then quoted as an
// SQL string literal, so no input can leave the literal.

// The dot-atom local part and LDH domain that registration accepts (src/lib/email-address.ts): ASCII only,
// no quote but the apostrophe, no backslash, no semicolon.
const LOCAL = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const TLD = /^([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$/;

export type AdminCommand = "promote" | "demote";

export function isStrictEmail(email: string): boolean {
  if (email.length > 254) return false;
  const at = email.indexOf("@");
  if (at <= 0 || at !== email.lastIndexOf("@")) return false;
  const local = email.slice(0, at);
  const labels = email.slice(at + 1).split(".");
  if (local.length > 64 || !LOCAL.test(local)) return false;
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return false;
  return TLD.test(labels[labels.length - 1] ?? "");
}

/** SQL string literal: the only special character inside '...' is the quote itself, doubled. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** The account and where its audit chain ends (src/audit/chain.ts): read before the change. */
export function roleTargetSql(email: string): string {
  if (!isStrictEmail(email)) throw new Error("not a valid email address");
  const tail = (column: string) =>
    `(SELECT ${column} FROM audit_log WHERE chain = u.id ORDER BY seq DESC LIMIT 1) AS log_${column}`;
  const anchor = (column: string) =>
    `(SELECT ${column} FROM audit_anchors WHERE chain = u.id) AS anchor_${column}`;
  return (
    `SELECT u.id, u.role, ${tail("seq")}, ${tail("hash")}, ${anchor("seq")}, ${anchor("hash")} ` +
    `FROM users u WHERE u.email_lower = ${sqlString(email.toLowerCase())};`
  );
}

/** The audit entry a role change writes (its hash is computed over exactly these fields). */
export function roleChangeEntry(command: AdminCommand, userId: string, nowMs: number, auditId: string) {
  const to = command === "promote" ? "admin" : "user";
  const from = command === "promote" ? "user" : "admin";
  return {
    id: auditId,
    userId,
    action: command === "promote" ? "role_promoted" : "user_updated",
    ip: null,
    userAgent: "edge-auth admin cli",
    createdAt: new Date(nowMs),
    metadata: command === "promote" ? { reason: "cli" } : { changes: { role: { from, to } }, actor_id: null },
  };
}

/** The entry's place in its user's chain (computed by the caller from roleTargetSql's answer). */
export interface ChainLink {
  seq: number;
  prevHash: string;
  hash: string;
}

/**
 * One audit entry and the role change, in one `--command` (wrangler runs it as one batch). The audit row
 * is only written when the role really changes; RETURNING lets the script print what happened. If another
 * writer took the entry's seq meanwhile, the batch fails on audit_chain_seq_uq and the script retries.
 */
export function roleChangeSql(
  command: AdminCommand,
  email: string,
  userId: string,
  nowMs: number,
  auditId: string,
  link: ChainLink,
): string {
  if (!isStrictEmail(email)) throw new Error("not a valid email address");
  if (!Number.isSafeInteger(nowMs)) throw new Error("bad clock");
  if (!/^[0-9a-f-]{36}$/.test(auditId)) throw new Error("bad audit id");
  if (!/^[0-9A-Za-z-]{1,64}$/.test(userId)) throw new Error("bad user id");
  const hex = /^[0-9a-f]{64}$/;
  if (!Number.isSafeInteger(link.seq) || !hex.test(link.prevHash) || !hex.test(link.hash)) {
    throw new Error("bad chain link");
  }
  const entry = roleChangeEntry(command, userId, nowMs, auditId);
  const to = command === "promote" ? "admin" : "user";
  const match = `email_lower = ${sqlString(email.toLowerCase())} AND id = ${sqlString(userId)}`;
  return [
    "INSERT INTO audit_log (id, user_id, action, ip, user_agent, created_at, metadata, chain, seq, prev_hash, hash) " +
      `SELECT ${sqlString(auditId)}, id, ${sqlString(entry.action)}, NULL, ${sqlString(entry.userAgent)}, ${nowMs}, ` +
      `${sqlString(JSON.stringify(entry.metadata))}, id, ${link.seq}, ${sqlString(link.prevHash)}, ${sqlString(link.hash)} ` +
      `FROM users WHERE ${match} AND role <> '${to}';`,
    `UPDATE users SET role = '${to}', updated_at = ${nowMs} WHERE ${match} RETURNING id, email, role;`,
  ].join(" ");
}

/**
 * A new, verified admin for a fresh deployment (`npm run admin -- create-admin <email>`): INSERT ... ON
 * CONFLICT DO NOTHING, so an address someone already registered is never taken over (a pre-registered
 * account keeps its owner's password; promote it instead once its owner has verified it).
 */
export function createAdminSql(email: string, passwordHash: string, nowMs: number, userId: string): string {
  if (!isStrictEmail(email)) throw new Error("not a valid email address");
  if (!Number.isSafeInteger(nowMs)) throw new Error("bad clock");
  if (!/^[0-9a-f-]{36}$/.test(userId)) throw new Error("bad user id");
  if (!/^\$scrypt\$[A-Za-z0-9$=,+/]+$/.test(passwordHash)) throw new Error("bad password hash");
  return (
    "INSERT INTO users (id, email, email_lower, password_hash, role, is_active, is_verified, created_at, updated_at) " +
    `VALUES (${sqlString(userId)}, ${sqlString(email)}, ${sqlString(email.toLowerCase())}, ${sqlString(passwordHash)}, ` +
    `'admin', 1, 1, ${nowMs}, ${nowMs}) ON CONFLICT (email_lower) DO NOTHING RETURNING id, email, role;`
  );
}

/** The same two operations for Postgres, with bind parameters, each one statement. */
export const POSTGRES_SQL = {
  /** As roleTargetSql: the account and its audit chain's tail ($1: the lower-cased email). */
  roleTarget: `select u.id, u.role,
    (select seq from audit_log where chain = u.id order by seq desc limit 1) as log_seq,
    (select hash from audit_log where chain = u.id order by seq desc limit 1) as log_hash,
    (select seq from audit_anchors where chain = u.id) as anchor_seq,
    (select hash from audit_anchors where chain = u.id) as anchor_hash
  from users u where u.email_lower = $1`,
  /** $7..$10: the user id (its chain), seq, prev_hash and hash of the chained entry. */
  roleChange: `with target as (select id from users where email_lower = $1 and id = $7),
  changed as (
    update users set role = $2, updated_at = $3 where email_lower = $1 and id = $7 and role <> $2
    returning id, email, role
  ),
  audit as (
    insert into audit_log (id, user_id, action, ip, user_agent, created_at, metadata, chain, seq, prev_hash, hash)
    select $4, id, $5, null, 'edge-auth admin cli', $3, $6::jsonb, id, $8, $9, $10 from changed
  )
  select u.id, u.email, coalesce(c.role, u.role) as role
    from users u join target t on t.id = u.id left join changed c on c.id = u.id`,
  createAdmin: `insert into users (id, email, email_lower, password_hash, role, is_active, is_verified, created_at, updated_at)
  values ($1, $2, $3, $4, 'admin', true, true, $5, $5) on conflict (email_lower) do nothing returning id, email, role`,
} as const;
