// A cursor is opaque to clients but easy to forge (base64url JSON). A forged one that decodes to a
// position no backend can hold must be a 422 everywhere, never a 500 with the failed SQL in the log.
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { testClient } from "../helpers";
import { createAdmin } from "../users/admin-helpers";

const forge = (position: unknown): string =>
  encodeBase64urlNoPadding(new TextEncoder().encode(JSON.stringify(position)));

const FORGED = {
  // Before 4713 BC: Postgres answers "timestamp out of range".
  "far past": forge([-8_000_000_000_000_000, "00000000-0000-7000-8000-000000000000"]),
  // Beyond what a JS Date holds (8.64e15 ms): new Date() of it is Invalid Date.
  "far future": forge([9_000_000_000_000_000, "00000000-0000-7000-8000-000000000000"]),
  // Postgres text cannot hold NUL ("invalid byte sequence for encoding UTF8: 0x00").
  "NUL in the id": forge([Date.UTC(2026, 0, 1), "a\u0000b"]),
};

describe("forged cursors outside the storable range", () => {
  let logged: MockInstance<typeof console.error>;
  beforeEach(() => {
    logged = vi.spyOn(console, "error");
  });
  afterEach(() => {
    logged.mockRestore();
  });

  for (const path of ["/audit", "/users"]) {
    it(`GET ${path} answers 422 validation_error and logs nothing`, async () => {
      const client = testClient();
      const admin = await createAdmin(client);
      logged.mockClear();
      for (const [name, cursor] of Object.entries(FORGED)) {
        const res = await client.call("GET", `${path}?cursor=${cursor}`, {
          token: admin.tokens.access_token,
        });
        expect(res.status, name).toBe(422);
        expect(res.body.code, name).toBe("validation_error");
        expect(res.body.errors, name).toEqual([{ path: "cursor", message: "Invalid cursor" }]);
      }
      // Nothing was logged as an error: no "unhandled error", no failed query text.
      expect(logged).not.toHaveBeenCalled();
      // The route still pages normally after the forged requests.
      expect((await client.call("GET", `${path}?limit=1`, { token: admin.tokens.access_token })).status).toBe(
        200,
      );
    });
  }
});
