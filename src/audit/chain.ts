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

/**
 * An entry's personal fields (IP, user agent) as the hash sees them: SHA-256 over a random 128-bit salt
 * and their canonical JSON. The hash covers this digest, not the values, so erasing an account can clear
 * the IP, the user agent and the salt and every link still verifies; without the salt the digest cannot
 * be brute-forced back to an IP (2^32 guesses would be enough against an unsalted one).
 */
export function personalDigest(salt: string, ip: string | null, userAgent: string | null): string {
  const bytes = new TextEncoder().encode(salt + canonicalJson({ ip, user_agent: userAgent }));
  return encodeHexLowerCase(sha256(bytes));
}

/** An entry as hashed: with its personal digest when it has one (see personalDigest). */
export type HashedEntry = NewAuditEntry & { personalDigest?: string | null };

/**
 * What is hashed of an entry: every stored field, its place in the chain included. The IP and user
 * agent enter through their salted digest when the entry has one; entries without one (written before
 * it existed, or with neither field, like the admin CLI's) hash them in clear.
 */
export function hashedFields(entry: HashedEntry, seq: number): Record<string, unknown> {
  const common = {
    id: entry.id,
    user_id: entry.userId,
    action: entry.action,
    created_at: entry.createdAt.toISOString(),
    metadata: entry.metadata,
    seq,
  };
  return entry.personalDigest
    ? { ...common, personal: entry.personalDigest }
    : { ...common, ip: entry.ip, user_agent: entry.userAgent };
}

export function entryHash(prevHash: string, entry: HashedEntry, seq: number): string {
  const bytes = new TextEncoder().encode(prevHash + canonicalJson(hashedFields(entry, seq)));
  return encodeHexLowerCase(sha256(bytes));
}

/** The chain columns of `entry` when written after `tail`. */
export interface ChainedFields {
  chain: string;
  seq: number;
  prevHash: string;
  hash: string;
  /** Set only when the entry has an IP (see personalDigest and chainAfter). */
  personalSalt?: string;
  personalDigest?: string;
}

export function chainAfter(tail: ChainTail, entry: NewAuditEntry): ChainedFields {
  const seq = tail.seq + 1;
  const link = { chain: chainOf(entry.userId), seq, prevHash: tail.hash };
  // Sealed when the entry has an IP: every entry of a request through Cloudflare (CF-Connecting-IP).
  // Entries without one (the admin CLI's constant user agent, local requests) hash their fields in clear.
  const sealed = sealPersonal(entry);
  if (!sealed) return { ...link, hash: entryHash(tail.hash, entry, seq) };
  const hash = entryHash(tail.hash, { ...entry, personalDigest: sealed.personalDigest }, seq);
  return { ...link, hash, ...sealed };
}

/**
 * Whether a stored entry's personal fields agree with its digest: while the salt is kept they must hash
 * to it; once erased (salt gone) they must be empty. Entries without a digest hash them in clear.
 */
export function personalFieldsIntact(entry: HashedEntry & { personalSalt?: string | null }): boolean {
  if (!entry.personalDigest) return true;
  if (!entry.personalSalt) return entry.ip === null && entry.userAgent === null;
  return personalDigest(entry.personalSalt, entry.ip, entry.userAgent) === entry.personalDigest;
}

/** An entry's salt and digest when it is sealed (it has an IP: see chainAfter); none otherwise. */
export function sealPersonal(entry: Pick<NewAuditEntry, "ip" | "userAgent">): {
  personalSalt: string;
  personalDigest: string;
} | null {
  if (entry.ip === null) return null;
  const personalSalt = encodeHexLowerCase(crypto.getRandomValues(new Uint8Array(16)));
  return { personalSalt, personalDigest: personalDigest(personalSalt, entry.ip, entry.userAgent) };
}

/**
 * The canonical JSON of an entry split around the two values a one-statement write leaves to the
 * database: its seq (from the chain's tail) and its user id (from the row being written with it):
 * canonical = beforeSeq + seq + beforeUserId + JSON(user_id) + "}". Keys sort so that "seq" comes after
 * the entry's own fields but "user_agent"/"user_id", and "user_id" is always last.
 */
export function canonicalParts(entry: Omit<HashedEntry, "userId">): {
  beforeSeq: string;
  beforeUserId: string;
} {
  const fields = hashedFields({ ...entry, userId: null }, 0);
  const pair = (k: string) => `${JSON.stringify(k)}:${canonicalJson(fields[k])}`;
  const keys = Object.keys(fields)
    .filter((k) => fields[k] !== undefined)
    .sort();
  const seqAt = keys.indexOf("seq");
  if (keys[keys.length - 1] !== "user_id" || seqAt < 0) throw new Error("unexpected hashed fields");
  const between = keys.slice(seqAt + 1, -1).map(pair);
  return {
    beforeSeq: `{${keys.slice(0, seqAt).map(pair).join(",")},"seq":`,
    beforeUserId: `${between.map((p) => `,${p}`).join("")},"user_id":`,
  };
}
