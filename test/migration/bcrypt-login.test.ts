// Imported FastAPI accounts keep their passlib bcrypt hashes: they must sign in, and their hash must be
// replaced by scrypt on the first success (over HTTP, both backends).
import bcrypt from "bcryptjs";
import { describe, expect, it, vi } from "vitest";
import * as password from "../../src/auth/password";
import { auditActions, storedPasswordHash, testClient, uniqueEmail, userWithPasswordHash } from "../helpers";

const scryptClient = (env: Record<string, unknown> = {}) =>
  testClient({ passwords: password.scryptHasher }, env);

describe("bcrypt hashes from the FastAPI service", () => {
  for (const prefix of ["$2a$", "$2b$", "$2y$"]) {
    it(`${prefix} verifies at login and is replaced by scrypt on the first success`, async () => {
      const hash = bcrypt.hashSync("old-service-password", 4).replace(/^\$2[aby]\$/, prefix);
      const user = await userWithPasswordHash(hash, "legacy");
      const client = scryptClient();
      const wrong = await client.call("POST", "/auth/login", {
        json: { email: user.email, password: "not-it-at-all" },
      });
      expect(wrong.status).toBe(401);
      expect(await storedPasswordHash(user.id)).toBe(hash);
      const res = await client.call("POST", "/auth/login", {
        json: { email: user.email, password: "old-service-password" },
      });
      expect(res.status).toBe(200);
      expect(res.body.token_type).toBe("bearer");
      await vi.waitFor(
        async () => expect(await storedPasswordHash(user.id)).toMatch(/^\$scrypt\$ln=14,r=8,p=1,k=5\$/),
        {
          timeout: 5000,
        },
      );
      expect(await auditActions(user.id)).toContain("login_succeeded");
      // The new scrypt hash verifies the same password.
      const again = await client.call("POST", "/auth/login", {
        json: { email: user.email, password: "old-service-password" },
      });
      expect(again.status).toBe(200);
    });
  }

  it("verifies a cost-12 hash like the old service's (passlib default)", async () => {
    const hash = bcrypt.hashSync("cost-twelve-password", 12);
    const user = await userWithPasswordHash(hash, "legacy");
    const res = await scryptClient().call("POST", "/auth/login", {
      json: { email: user.email, password: "cost-twelve-password" },
    });
    expect(res.status).toBe(200);
  }, 30_000);

  it("treats malformed or absurd-cost bcrypt rows as non-matching, never as a 500", async () => {
    for (const stored of ["$2b$31$" + "a".repeat(53), "$2b$12$short", "$2x$04$" + "a".repeat(53)]) {
      expect(await password.verifyPassword("x", stored)).toEqual({ ok: false, needsRehash: false });
    }
  });

  it("with LEGACY_BCRYPT, an unknown email costs a scrypt and a cost-12 bcrypt, like every login", async () => {
    const verify = vi.spyOn(password.scryptHasher, "verify");
    try {
      const res = await scryptClient({ LEGACY_BCRYPT: "true" }).call("POST", "/auth/login", {
        json: { email: uniqueEmail("nobody"), password: "whatever-password" },
      });
      expect(res.status).toBe(401);
      expect(verify.mock.calls.map((c) => c[1])).toEqual([password.DUMMY_HASH, password.DUMMY_BCRYPT_HASH]);
      verify.mockClear();
      const hash = bcrypt.hashSync("pw-bcrypt-known", 4);
      const user = await userWithPasswordHash(hash, "legacy");
      await scryptClient({ LEGACY_BCRYPT: "true" }).call("POST", "/auth/login", {
        json: { email: user.email, password: "wrong-password" },
      });
      expect(verify.mock.calls.map((c) => c[1])).toEqual([hash, password.DUMMY_HASH]);
    } finally {
      verify.mockRestore();
    }
  }, 30_000);
});
