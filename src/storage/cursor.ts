import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from "@oslojs/encoding";
import { AppError } from "../errors";

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
      typeof parsed[1] === "string" &&
      parsed[1].length <= 64
    ) {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through to the 422 below
  }
  throw new AppError("validation_error", { errors: [{ path: "cursor", message: "Invalid cursor" }] });
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
