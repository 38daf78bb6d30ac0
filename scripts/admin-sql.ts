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

/**
 * One audit entry and the role change, in one `--command` (wrangler runs it as one batch). The audit row
 * is only written when the role really changes; RETURNING lets the script print what happened.
 */
export function roleChangeSql(command: AdminCommand, email: string, nowMs: number, auditId: string): string {
  if (!isStrictEmail(email)) throw new Error("not a valid email address");
  if (!Number.isSafeInteger(nowMs)) throw new Error("bad clock");
  if (!/^[0-9a-f-]{36}$/.test(auditId)) throw new Error("bad audit id");
  const to = command === "promote" ? "admin" : "user";
  const from = command === "promote" ? "user" : "admin";
  const match = `email_lower = ${sqlString(email.toLowerCase())}`;
  const metadata =
    command === "promote" ? { reason: "cli" } : { changes: { role: { from, to } }, actor_id: null };
  const action = command === "promote" ? "role_promoted" : "user_updated";
  return [
    "INSERT INTO audit_log (id, user_id, action, ip, user_agent, created_at, metadata) " +
      `SELECT ${sqlString(auditId)}, id, ${sqlString(action)}, NULL, 'edge-auth admin cli', ${nowMs}, ` +
      `${sqlString(JSON.stringify(metadata))} FROM users WHERE ${match} AND role <> '${to}';`,
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
  roleChange: `with target as (select id from users where email_lower = $1),
  changed as (
    update users set role = $2, updated_at = $3 where email_lower = $1 and role <> $2 returning id, email, role
  ),
  audit as (
    insert into audit_log (id, user_id, action, ip, user_agent, created_at, metadata)
    select $4, id, $5, null, 'edge-auth admin cli', $3, $6::jsonb from changed
  )
  select u.id, u.email, coalesce(c.role, u.role) as role
    from users u join target t on t.id = u.id left join changed c on c.id = u.id`,
  createAdmin: `insert into users (id, email, email_lower, password_hash, role, is_active, is_verified, created_at, updated_at)
  values ($1, $2, $3, $4, 'admin', true, true, $5, $5) on conflict (email_lower) do nothing returning id, email, role`,
} as const;
