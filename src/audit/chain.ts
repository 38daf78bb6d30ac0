import { sha256 } from "@oslojs/crypto/sha2";
import { encodeHexLowerCase } from "@oslojs/encoding";
import type { NewAuditEntry } from "../storage/types";

/**
 * The tamper-evident audit log: every entry's `hash` is SHA-256(prev_hash ‖ canonical JSON of the
 * entry), chained per user (entries without a user form one more chain). Editing, inserting or deleting
 * a row breaks the link at that row; retention moves the chain's start (an anchor) instead.
 */

/** The `prev_hash` of a chain's first entry: fixed length, like every other hash, so ‖ is unambiguous. */
export const GENESIS_HASH = "0".repeat(64);

/** The chain an entry belongs to: its user, or "" (no user id is empty) for entries without one. */
export function chainOf(userId: string | null): string {
  return userId ?? "";
}

/** Where a chain ends: the seq and hash the next entry links to. */
export interface ChainTail {
  seq: number;
  hash: string;
}

export const EMPTY_TAIL: ChainTail = { seq: 0, hash: GENESIS_HASH };

/** The later of the newest row and the retention anchor (either may be missing). */
export function laterTail(...tails: (ChainTail | null | undefined)[]): ChainTail {
  let best = EMPTY_TAIL;
  for (const t of tails) if (t && t.seq > best.seq) best = t;
  return best;
}

/**
 * JSON with object keys sorted (recursively) and no whitespace: the same bytes whichever backend stored
 * the entry (Postgres jsonb reorders keys; SQLite keeps the written order).
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

/** What is hashed of an entry: every stored field, its place in the chain included. */
export function hashedFields(entry: NewAuditEntry, seq: number): Record<string, unknown> {
  return {
    id: entry.id,
    user_id: entry.userId,
    action: entry.action,
    ip: entry.ip,
    user_agent: entry.userAgent,
    created_at: entry.createdAt.toISOString(),
    metadata: entry.metadata,
    seq,
  };
}

export function entryHash(prevHash: string, entry: NewAuditEntry, seq: number): string {
  const bytes = new TextEncoder().encode(prevHash + canonicalJson(hashedFields(entry, seq)));
  return encodeHexLowerCase(sha256(bytes));
}

/** The chain columns of `entry` when written after `tail`. */
export interface ChainedFields {
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
}

export function chainAfter(tail: ChainTail, entry: NewAuditEntry): ChainedFields {
  const seq = tail.seq + 1;
  return { chain: chainOf(entry.userId), seq, prevHash: tail.hash, hash: entryHash(tail.hash, entry, seq) };
}

/**
 * The canonical JSON of an entry split around the two values a one-statement write leaves to the
 * database: its seq (from the chain's tail) and its user id (from the row being written with it):
 * canonical = beforeSeq + seq + beforeUserId + JSON(user_id) + "}". Keys sort as
 * action, created_at, id, ip, metadata, seq, user_agent, user_id, so both are near the end.
 */
export function canonicalParts(entry: Omit<NewAuditEntry, "userId">): {
  beforeSeq: string;
  beforeUserId: string;
} {
  const fields = hashedFields({ ...entry, userId: null }, 0);
  const pair = (k: string) => `${JSON.stringify(k)}:${canonicalJson(fields[k])}`;
  return {
    beforeSeq: `{${["action", "created_at", "id", "ip", "metadata"].map(pair).join(",")},"seq":`,
    beforeUserId: `,${pair("user_agent")},"user_id":`,
  };
}
