import { type SQL, sql } from "drizzle-orm";
import { canonicalParts, GENESIS_HASH, sealPersonal } from "../../audit/chain";
import { DELIVERY_WINDOW_MS } from "../../events/policy";
import type { NewAuditEntry } from "../types";

/**
 * One statement instead of a tail read and an insert: Postgres reads the chain's tail (its newest row or
 * its retention anchor, else the genesis hash) and computes the entry's hash itself with sha256(), over
 * the same bytes as entryHash in src/audit/chain.ts (prev_hash ‖ canonical JSON, the JSON built here
 * around the seq and user id only the database knows). A writer that raced for the same seq fails on
 * audit_chain_seq_uq and is retried by the caller, as before. `source` is a query of one row with the
 * entry's `user_id` (or no row: nothing is written); the insert returns what the outbox row needs.
 */
export function chainedInsert(audit: Omit<NewAuditEntry, "userId">, source: SQL): SQL {
  // The salted digest of the IP and user agent (when there is an IP) is the part of the hash that an
  // erasure leaves intact; it does not depend on the seq or user, so it is computed here, as chainAfter does.
  const sealed = sealPersonal(audit);
  const { beforeSeq, beforeUserId } = canonicalParts({ ...audit, personalDigest: sealed?.personalDigest });
  const chain = sql`coalesce(src.user_id, '')`;
  return sql`insert into audit_log
      (id, user_id, action, ip, user_agent, created_at, metadata, personal_salt, personal_digest, chain, seq,
       prev_hash, hash)
    select ${audit.id}::text, src.user_id, ${audit.action}::text, ${audit.ip}::text, ${audit.userAgent}::text,
      ${audit.createdAt.toISOString()}::timestamptz, ${JSON.stringify(audit.metadata)}::jsonb,
      ${sealed?.personalSalt ?? null}::text, ${sealed?.personalDigest ?? null}::text, ${chain},
      tail.seq + 1, tail.hash,
      encode(sha256(convert_to(tail.hash || ${beforeSeq}::text || (tail.seq + 1)::text || ${beforeUserId}::text
        || coalesce(to_json(src.user_id)::text, 'null') || '}', 'UTF8')), 'hex')
    from (${source}) src
    cross join lateral (
      select c.seq, c.hash from (
        (select seq, hash from audit_log where chain = ${chain} order by seq desc limit 1)
        union all (select seq, hash from audit_anchors where chain = ${chain})
        union all (select 0, ${GENESIS_HASH}::text)
      ) c order by c.seq desc limit 1
    ) tail
    returning id, user_id, seq, created_at`;
}

/** The entry's webhook delivery row, from the `logged` CTE (so it exists exactly when the entry does). */
export function queuedFromLogged(): SQL {
  return sql`insert into webhook_outbox
      (id, user_id, seq, status, attempts, next_attempt_at, give_up_at, created_at)
    select id, user_id, seq, 'pending', 0, created_at,
      created_at + ${DELIVERY_WINDOW_MS} * interval '1 millisecond', created_at
    from logged`;
}
