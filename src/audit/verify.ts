import type { AuditRepository } from "../storage/types";
// With its extension: `npm run audit:verify` (scripts/audit-verify.mjs) runs this file in Node directly.
import { type ChainTail, chainOf, EMPTY_TAIL, entryHash, personalFieldsIntact } from "./chain.ts";

export interface VerifyResult {
  ok: boolean;
  /** Entries whose links were checked. */
  checked: number;
  /** The first entry (in chain order) that does not link to its predecessor or does not hash right. */
  firstBadId?: string;
}

export interface VerifyOptions {
  /** One user's chain; all chains (the no-user one included) when absent. */
  userId?: string;
  pageSize?: number;
  /** Called after each page (the CLI prints a progress line). */
  onProgress?: (checked: number) => void;
}

const PAGE = 500;

/**
 * Walks the chain(s) in pages from their anchor (the last entry retention deleted) or the genesis hash.
 * An edited row fails its own hash (or, rehashed, its successor's link); an inserted or deleted row
 * breaks the seq/prev_hash link; a row written without a hash is found by `findUnchained`. Deleting a
 * chain's newest entries leaves a valid shorter chain: only a copy of the head kept elsewhere (a webhook
 * receiver gets every entry's hash) shows that.
 */
export async function verifyAuditLog(
  audit: AuditRepository,
  options: VerifyOptions = {},
): Promise<VerifyResult> {
  const pageSize = options.pageSize ?? PAGE;
  let checked = 0;
  const walk = async (chain: string): Promise<string | undefined> => {
    const anchor = await audit.anchor(chain);
    let prev: ChainTail = anchor ?? EMPTY_TAIL;
    for (;;) {
      const rows = await audit.chainPage(chain, prev.seq, pageSize);
      for (const row of rows) {
        const good =
          row.seq === prev.seq + 1 &&
          row.prevHash === prev.hash &&
          row.chain === chainOf(row.userId) &&
          row.hash === entryHash(prev.hash, row, row.seq) &&
          personalFieldsIntact(row);
        if (!good) return row.id;
        checked++;
        prev = { seq: prev.seq + 1, hash: row.hash! };
      }
      options.onProgress?.(checked);
      if (rows.length < pageSize) return undefined;
    }
  };

  const unchained = await audit.findUnchained(options.userId === undefined ? null : options.userId);
  if (options.userId !== undefined) {
    const bad = (await walk(options.userId)) ?? unchained ?? undefined;
    return bad ? { ok: false, checked, firstBadId: bad } : { ok: true, checked };
  }
  for (let after: string | null = null; ; ) {
    const chains = await audit.chains(after, pageSize);
    for (const chain of chains) {
      const bad = await walk(chain);
      if (bad) return { ok: false, checked, firstBadId: bad };
    }
    if (chains.length < pageSize) break;
    after = chains[chains.length - 1]!;
  }
  return unchained ? { ok: false, checked, firstBadId: unchained } : { ok: true, checked };
}
