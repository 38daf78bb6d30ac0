// Hashing itself, and the guarantee that only code (AppOptions) can swap the hasher. Pure functions and
// the worker entry: backend-independent, D1 project only.
import { env, exports } from "cloudflare:workers";
import { scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import * as password from "../../src/auth/password";
import { BASE, database, uniqueEmail } from "../helpers";
import { testHasher } from "../support/test-hasher";

async function storedHash(email: string): Promise<string | null> {
  const db = database();
  try {
    return (await db.users.findByEmail(email))?.passwordHash ?? null;
  } finally {
    await db.close();
  }
}

const registration = (email: string): RequestInit => ({
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ email, password: "a-long-enough-passphrase-1" }),
});

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64");
const NEW_FORMAT = /^\$scrypt\$ln=14,r=8,p=1,k=5\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/;

/** The chained format computed independently of src/auth/password.ts, from its documented definition. */
function chained(pw: string, salt: Uint8Array, ln: number, r: number, p: number, k: number): Uint8Array {
  let key = new Uint8Array(scryptSync(pw, salt, 32, { N: 2 ** ln, r, p, maxmem: 64 * 1024 * 1024 }));
  for (let i = 2; i <= k; i++) {
    const next = new Uint8Array([...salt, ...key]);
    key = new Uint8Array(scryptSync(pw, next, 32, { N: 2 ** ln, r, p, maxmem: 64 * 1024 * 1024 }));
  }
  return key;
}

function counter() {
  let count = 0;
  return {
    pause: async () => {
      count++;
    },
    count: () => count,
  };
}

describe("password hashing", () => {
  it("produces self-describing chained scrypt hashes that round-trip, pausing between the five lanes", async () => {
    const c = counter();
    const hash = await password.hashPassword("correct horse", c.pause);
    expect(hash).toMatch(NEW_FORMAT);
    expect(c.count()).toBe(4);
    const v = counter();
    expect(await password.verifyPassword("correct horse", hash, v.pause)).toEqual({
      ok: true,
      needsRehash: false,
    });
    expect(v.count()).toBe(4);
    expect((await password.verifyPassword("correct horsf", hash)).ok).toBe(false);
    expect((await password.verifyPassword("x", "garbage")).ok).toBe(false);
    // NFC: the composed and decomposed spellings are one password.
    const nfc = await password.hashPassword("caf\u00e9");
    expect((await password.verifyPassword("cafe\u0301", nfc)).ok).toBe(true);
  });

  it("lane i is salted with salt ‖ key of lane i-1, and only the last key is stored", async () => {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const key = chained("chained-pw", salt, 14, 8, 1, 5);
    const stored = `$scrypt$ln=14,r=8,p=1,k=5$${b64(salt)}$${b64(key)}`;
    expect(await password.verifyPassword("chained-pw", stored)).toEqual({ ok: true, needsRehash: false });
    // The first lane's key (what k=1 would store) is not accepted in place of the last.
    const first = chained("chained-pw", salt, 14, 8, 1, 1);
    expect(
      (await password.verifyPassword("chained-pw", `$scrypt$ln=14,r=8,p=1,k=5$${b64(salt)}$${b64(first)}`))
        .ok,
    ).toBe(false);
  });

  it("verifies hashes of the earlier one-call p=3 format in one call and asks for a rehash", async () => {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const key = scryptSync("pw-legacy", salt, 32, { N: 2 ** 15, r: 8, p: 3, maxmem: 64 * 1024 * 1024 });
    const stored = `$scrypt$ln=15,r=8,p=3$${b64(salt)}$${b64(key)}`;
    const c = counter();
    expect(await password.verifyPassword("pw-legacy", stored, c.pause)).toEqual({
      ok: true,
      needsRehash: true,
    });
    expect(c.count()).toBe(0);
    expect(await password.verifyPassword("pw-wrong", stored)).toEqual({ ok: false, needsRehash: false });
  });

  it("verifies the earlier three-lane ln=15 format (32 MiB lanes) and asks for a rehash into shorter lanes", async () => {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const stored = `$scrypt$ln=15,r=8,p=1,k=3$${b64(salt)}$${b64(chained("pw-three", salt, 15, 8, 1, 3))}`;
    const c = counter();
    expect(await password.verifyPassword("pw-three", stored, c.pause)).toEqual({
      ok: true,
      needsRehash: true,
    });
    expect(c.count()).toBe(2);
    expect(await password.verifyPassword("pw-wrong", stored)).toEqual({ ok: false, needsRehash: false });
  });

  it("asks for a rehash when stored parameters are weaker", async () => {
    const weak =
      "$scrypt$ln=14,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    expect((await password.verifyPassword("x", weak)).needsRehash).toBe(false); // wrong password: no rehash
    const salt = new Uint8Array(16);
    const key = scryptSync("pw-weak", salt, 32, { N: 2 ** 14, r: 8, p: 1 });
    const stored = `$scrypt$ln=14,r=8,p=1$${b64(salt)}$${b64(key)}`;
    expect(await password.verifyPassword("pw-weak", stored)).toEqual({ ok: true, needsRehash: true });
    // Chained but with fewer lanes (less work) than today's: rehashed too.
    const four = chained("pw-four", salt, 14, 8, 1, 4);
    expect(
      await password.verifyPassword("pw-four", `$scrypt$ln=14,r=8,p=1,k=4$${b64(salt)}$${b64(four)}`),
    ).toEqual({
      ok: true,
      needsRehash: true,
    });
  });

  it("refuses tampered hashes: another salt, key, or lane count never verifies", async () => {
    const hash = await password.hashPassword("tamper-me");
    const [, , params, salt, key] = hash.split("$") as [string, string, string, string, string];
    const flip = (b: string, i: number): string => {
      const bytes = Buffer.from(b, "base64");
      bytes[i]! ^= 1;
      return bytes.toString("base64");
    };
    const tampered = [
      `$scrypt$${params}$${flip(salt, 0)}$${key}`,
      `$scrypt$${params}$${salt}$${flip(key, 0)}`,
      `$scrypt$${params}$${salt}$${flip(key, 31)}`,
      `$scrypt$${params.replace("k=5", "k=4")}$${salt}$${key}`,
      `$scrypt$${params.replace("k=5", "k=6")}$${salt}$${key}`,
      `$scrypt$${params.replace(",k=5", "")}$${salt}$${key}`,
      `$scrypt$${params.replace("ln=14", "ln=15")}$${salt}$${key}`,
    ];
    for (const stored of tampered) {
      expect(await password.verifyPassword("tamper-me", stored), stored).toEqual({
        ok: false,
        needsRehash: false,
      });
    }
  });

  it("refuses absurd or malformed parameters without running them, and costs a full hash anyway", async () => {
    const salt = "AAAAAAAAAAAAAAAAAAAAAA==";
    const key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    const absurd = [
      `$scrypt$ln=21,r=8,p=1,k=3$${salt}$${key}`, // N above 2^20
      `$scrypt$ln=9,r=8,p=1,k=3$${salt}$${key}`, // too weak to be a password hash
      `$scrypt$ln=20,r=1,p=1$${salt}$${key}`, // 128 MiB table
      `$scrypt$ln=16,r=8,p=1,k=3$${salt}$${key}`, // 64 MiB table
      `$scrypt$ln=15,r=8,p=9$${salt}$${key}`, // N·r·p above workerd's 2^20 per call
      `$scrypt$ln=15,r=8,p=1,k=9$${salt}$${key}`, // too many lanes
      `$scrypt$ln=15,r=4,p=8,k=8$${salt}$${key}`, // total work above 4x today's
      `$scrypt$ln=15,r=8,p=1,k=1$${salt}$${key}`, // k=1 is written without k
      `$scrypt$ln=15,r=8,p=0,k=3$${salt}$${key}`,
      `$scrypt$ln=015,r=8,p=1,k=3$${salt}$${key}`,
      `$scrypt$ln=15,r=8,p=1,k=3,k=3$${salt}$${key}`,
      `$scrypt$ln=15,r=8,p=1,k=3$$${key}`,
      `$scrypt$ln=15,r=8,p=1,k=3$AAAA$${key}`, // 3-byte salt
      `$scrypt$ln=15,r=8,p=1,k=3$${salt}$AAAA`, // 3-byte key
      `$scrypt$ln=15,r=8,p=1,k=3$${salt}$${key}=`,
      `$scrypt$ln=15,r=8,p=1,k=3$${salt}$${key}\n`,
      `$scrypt$ln=15,r=8,p=1,k=3$${salt}$${"A".repeat(200)}`,
    ];
    for (const stored of absurd) {
      const c = counter();
      expect(await password.verifyPassword("x", stored, c.pause), stored).toEqual({
        ok: false,
        needsRehash: false,
      });
      // The dummy hash ran instead (its five lanes), so a malformed row costs what a real one does.
      expect(c.count(), stored).toBe(4);
    }
  });

  it("the dummy hash is in today's format and verifies no password", async () => {
    expect(password.DUMMY_HASH).toMatch(NEW_FORMAT);
    expect((await password.verifyPassword("", password.DUMMY_HASH)).ok).toBe(false);
  });
});

describe("the password hasher seam", () => {
  it("the deployed worker entry hashes with scrypt", async () => {
    const email = uniqueEmail();
    const res = await exports.default.fetch(new Request(`${BASE}/auth/register`, registration(email)));
    expect(res.status).toBe(202);
    expect(await storedHash(email)).toMatch(NEW_FORMAT);
  });

  it("no binding or setting selects another hasher: only AppOptions.passwords does", async () => {
    const tryingEnv = { ...env, PASSWORD_HASHER: "test", PASSWORDS: "test", HASHER: "sha256" };
    const email = uniqueEmail();
    const res = await createApp().request(`${BASE}/auth/register`, registration(email), tryingEnv);
    expect(res.status).toBe(202);
    expect(await storedHash(email)).toMatch(/^\$scrypt\$/);

    const viaCode = uniqueEmail();
    await createApp({ passwords: testHasher }).request(`${BASE}/auth/register`, registration(viaCode), env);
    expect(await storedHash(viaCode)).toMatch(/^\$test\$/);
  });

  it("the test hasher salts, rejects wrong passwords and foreign formats, and never asks for a rehash", async () => {
    const a = await testHasher.hash("correct horse");
    const b = await testHasher.hash("correct horse");
    expect(a).not.toBe(b);
    expect(await testHasher.verify("correct horse", a)).toEqual({ ok: true, needsRehash: false });
    expect((await testHasher.verify("correct horsf", a)).ok).toBe(false);
    expect((await testHasher.verify("correct horse", await password.hashPassword("correct horse"))).ok).toBe(
      false,
    );
    expect((await testHasher.verify("", testHasher.dummyHash)).ok).toBe(false);
    expect((await testHasher.verify("x", "garbage")).ok).toBe(false);
  });
});
