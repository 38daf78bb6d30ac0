import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from "@oslojs/encoding";
import { InvalidCursorError } from "./errors";

// Positions a cursor may name: years 1 to 9999. Every backend (and a JS Date) holds these; outside them
// Postgres fails with "timestamp out of range" and new Date() is Invalid Date.
const MIN_MS = -62_135_596_800_000; // 0001-01-01T00:00:00Z
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
// Ids are UUIDs; printable ASCII keeps out NUL (which Postgres text cannot hold) and lone surrogates.
const ID = /^[\x20-\x7e]{1,64}$/;

/** Keyset position: newest-first lists continue strictly before (createdAt, id). */
export interface CursorPosition {
  createdAt: number;
  id: string;
}

export function encodeCursor(pos: CursorPosition): string {
  return encodeBase64urlNoPadding(new TextEncoder().encode(JSON.stringify([pos.createdAt, pos.id])));
}

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(decodeBase64urlIgnorePadding(cursor)));
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      Number.isSafeInteger(parsed[0]) &&
      parsed[0] >= MIN_MS &&
      parsed[0] <= MAX_MS &&
      typeof parsed[1] === "string" &&
      ID.test(parsed[1])
    ) {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through: not JSON or not base64url
  }
  throw new InvalidCursorError();
}

/** Given limit+1 rows, returns the page and the cursor of its last row when there is more. */
export function toPage<T>(
  rows: T[],
  limit: number,
  position: (row: T) => CursorPosition,
): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(position(last)) : null };
}
