import { env } from "cloudflare:workers";
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { describe, expect, it } from "vitest";
import { getConfig } from "../../src/config";
import {
  hashRecoveryCode,
  newRecoveryCodes,
  normaliseRecoveryCode,
} from "../../src/twofactor/recovery-codes";
import { decryptSecret, encryptSecret } from "../../src/twofactor/secret-box";
import {
  decodeTotpSecret,
  encodeTotpSecret,
  generateTotp,
  matchTotp,
  newTotpSecret,
  totpKeyUri,
  totpSecondsLeft,
} from "../../src/twofactor/totp";
// Copied from the shared RFC 6238 Appendix B vectors so the suite runs from a plain clone.
import rfc from "./rfc6238.json";

const rfcKey = new TextEncoder().encode(rfc.secrets_ascii.SHA1);

describe("TOTP wrapper", () => {
  it.each(rfc.vectors)("matches RFC 6238 Appendix B (SHA-1) at T=$time", ({ time, SHA1 }) => {
    expect(generateTotp(rfcKey, time * 1000, { digits: 8 })).toBe(SHA1);
    // A 6-digit code is the same truncation mod 10^6: the last six digits.
    expect(generateTotp(rfcKey, time * 1000)).toBe(SHA1.slice(-6));
    expect(matchTotp(rfcKey, SHA1, time * 1000, { digits: 8 })).toBe(Math.floor(time / 30));
  });

  it("accepts one step of drift either way, returns the matched step, and rejects two", () => {
    const key = newTotpSecret();
    const now = 1_800_000_000_000 + 5_000;
    const step = Math.floor(now / 30_000);
    for (const drift of [-1, 0, 1]) {
      expect(matchTotp(key, generateTotp(key, now + drift * 30_000), now)).toBe(step + drift);
    }
    for (const drift of [-2, 2]) {
      expect(matchTotp(key, generateTotp(key, now + drift * 30_000), now)).toBeNull();
    }
    expect(matchTotp(key, "12345", now)).toBeNull();
    expect(matchTotp(key, "abcdef", now)).toBeNull();
  });

  it("round-trips secrets through base32 (160 bits) and counts the seconds left in a step", () => {
    const key = newTotpSecret();
    expect(key).toHaveLength(20);
    const b32 = encodeTotpSecret(key);
    expect(b32).toMatch(/^[A-Z2-7]{32}$/);
    expect(decodeTotpSecret(b32.toLowerCase())).toEqual(key);
    expect(totpSecondsLeft(1_800_000_000_000 + 5_000)).toBe(25);
  });

  it("builds an otpauth URL with an encoded issuer and label", () => {
    const key = decodeBase32IgnorePadding("JBSWY3DPEHPK3PXP");
    expect(totpKeyUri("Acme & Co", "ada+2fa@example.com", key)).toBe(
      "otpauth://totp/Acme%20%26%20Co:ada%2B2fa%40example.com?secret=JBSWY3DPEHPK3PXP" +
        "&issuer=Acme%20%26%20Co&algorithm=SHA1&digits=6&period=30",
    );
  });
});

describe("recovery codes", () => {
  it("are 10 distinct readable xxxx-xxxx-xxxx codes from an unambiguous alphabet (≥ 50 bits)", () => {
    const codes = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes)
      expect(code).toMatch(/^[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}-[2-9a-hjkmnp-z]{4}$/);
    // 31 symbols, 12 positions.
    expect(12 * Math.log2(31)).toBeGreaterThanOrEqual(50);
  });

  it("normalise case, dashes and spaces, and hash to the same value", async () => {
    const [code] = newRecoveryCodes();
    const loose = ` ${code!.toUpperCase().replace(/-/g, " ")} `;
    expect(normaliseRecoveryCode(loose)).toBe(code!.replace(/-/g, ""));
    expect(await hashRecoveryCode(loose)).toBe(await hashRecoveryCode(code!));
    expect(normaliseRecoveryCode("0000-1111-oooo")).toBeNull();
  });
});

describe("secret encryption", () => {
  const config = getConfig(env);

  it("round-trips, is versioned, and never contains the secret", async () => {
    const key = newTotpSecret();
    const stored = await encryptSecret(config, "user-1", key);
    expect(stored).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(stored).not.toContain(encodeTotpSecret(key));
    expect(await decryptSecret(config, "user-1", stored)).toEqual(key);
    expect(await encryptSecret(config, "user-1", key)).not.toBe(stored); // fresh IV each time
  });

  it("does not decrypt for another user or under another key", async () => {
    const stored = await encryptSecret(config, "user-1", newTotpSecret());
    await expect(decryptSecret(config, "user-2", stored)).rejects.toThrow();
    const rotated = { ...config, ENCRYPTION_KEY: "another-encryption-key-of-32-bytes!!" };
    await expect(decryptSecret(rotated, "user-1", stored)).rejects.toThrow();
    await expect(decryptSecret(config, "user-1", "v2.abc.def")).rejects.toThrow();
  });
});
