// Pure: the split canonical JSON that Postgres completes (seq, user id) is byte for byte the JSON the
// verifier hashes, whatever the entry holds (metadata that itself contains "seq" or "user_id" included).
import { describe, expect, it } from "vitest";
import { canonicalJson, canonicalParts, hashedFields } from "../../src/audit/chain";
import type { NewAuditEntry } from "../../src/storage/types";

const entries: NewAuditEntry[] = [
  {
    id: "0193a0b0-0000-7000-8000-000000000001",
    userId: "0193a0b0-0000-7000-8000-00000000000a",
    action: "login_succeeded",
    ip: "2001:db8::1",
    userAgent: 'Mozilla/5.0 "quoted" \\ back\nslash ü 日本',
    createdAt: new Date("2026-12-03T10:00:00.123Z"),
    metadata: { seq: 0, user_id: "x", nested: { b: [1, "2"], a: null }, method: "password" },
  },
  {
    id: "42",
    userId: null,
    action: "login_failed",
    ip: null,
    userAgent: null,
    createdAt: new Date(0),
    metadata: {},
  },
];

describe("canonicalParts", () => {
  it.each(entries)("rebuilds the canonical JSON of %o around its seq and user id", (entry) => {
    const { userId, ...rest } = entry;
    const { beforeSeq, beforeUserId } = canonicalParts(rest);
    for (const seq of [1, 9, 10, 123_456]) {
      const rebuilt = `${beforeSeq}${seq}${beforeUserId}${JSON.stringify(userId)}}`;
      expect(rebuilt).toBe(canonicalJson(hashedFields(entry, seq)));
    }
  });
});
