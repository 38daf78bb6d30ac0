import { sql } from "drizzle-orm";
import { type ChainTail, laterTail } from "../../audit/chain";
import type { PreparedTail } from "../types";
import type { Dialect } from "./dialect";

/**
 * Reads where `chain` ends: its newest row or its retention anchor, whichever is later (one round trip
 * on D1). The caller inserts seq + 1; the unique (chain, seq) index turns a stale read into a conflict.
 */
export async function readChainTail(d: Dialect, chain: string): Promise<ChainTail> {
  const { auditLog: a, auditAnchors: an } = d.t;
  const newest = (column: typeof a.seq | typeof a.hash) =>
    sql`(select ${column} from ${a} where ${a.chain} = ${chain} order by ${a.seq} desc limit 1)`;
  const anchored = (column: typeof an.seq | typeof an.hash) =>
    sql`(select ${column} from ${an} where ${an.chain} = ${chain})`;
  // One statement, one row whether or not either table has one for this chain (a one-row source).
  const [row] = await d.db
    .select({
      seq: newest(a.seq).mapWith(Number),
      hash: newest(a.hash).mapWith(String),
      anchorSeq: anchored(an.seq).mapWith(Number),
      anchorHash: anchored(an.hash).mapWith(String),
    })
    .from(sql`(select 1 as one) as one`);
  return laterTail(asTail(row), asTail(row ? { seq: row.anchorSeq, hash: row.anchorHash } : undefined));
}

/**
 * The tail reads of one write's attempts on `chain`: the first takes the prepared (read-ahead) tail when
 * there is one for this chain; every later one, after a lost race, reads afresh: the prepared tail is
 * what went stale, so reusing it would only lose again.
 */
export function tailReads(d: Dialect, chain: string, prepared?: PreparedTail): () => Promise<ChainTail> {
  let ahead = prepared?.chain === chain ? prepared.tail : undefined;
  return async () => {
    const early = ahead && (await ahead);
    ahead = undefined;
    return early ?? readChainTail(d, chain);
  };
}

export function asTail(row: { seq: number | null; hash: string | null } | undefined): ChainTail | null {
  return row && row.seq !== null && row.hash !== null ? { seq: row.seq, hash: row.hash } : null;
}

const CONSTRAINT = "audit_chain_seq_uq";

/** The insert lost the race for its seq (Postgres names the index; SQLite names its columns). */
export function isChainConflict(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 6; e = e.cause, depth++) {
    const pg = e as Error & { code?: string; constraint?: string };
    if (pg.code === "23505" && pg.constraint === CONSTRAINT) return true;
    if (e.message.includes(CONSTRAINT) || e.message.includes("audit_log.chain, audit_log.seq")) return true;
  }
  return false;
}

/** Enough for 50+ writers racing on one chain: each round, one of them wins. */
const MAX_ATTEMPTS = 200;

/**
 * Runs `write` (read the tail, insert after it) until it does not lose the race for its seq. A short
 * random pause spreads the losers out so they do not all collide again on the next seq.
 */
export async function retryOnChainConflict<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isChainConflict(err) || attempt >= MAX_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(attempt, 10)));
    }
  }
}
