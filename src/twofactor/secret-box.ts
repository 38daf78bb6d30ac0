import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from "@oslojs/encoding";
import type { Config } from "../config";

/**
 * TOTP secrets must be recoverable (the server recomputes codes), so they are encrypted, not hashed:
 * AES-256-GCM under a key derived with HKDF from ENCRYPTION_KEY (or SECRET_KEY). The user id is the
 * additional authenticated data, so a ciphertext copied onto another account does not decrypt.
 * Stored as `v1.<iv>.<ciphertext>` (base64url) so the scheme or key can be rotated later.
 */
const VERSION = "v1";
const HKDF_INFO = "edge-auth/totp-secret/v1";
const IV_BYTES = 12;
const encoder = new TextEncoder();

const keys = new Map<string, Promise<CryptoKey>>();

function keyFor(config: Config): Promise<CryptoKey> {
  const material = config.ENCRYPTION_KEY ?? config.SECRET_KEY;
  let key = keys.get(material);
  if (!key) {
    key = deriveKey(material);
    keys.set(material, key);
    key.catch(() => keys.delete(material));
  }
  return key;
}

async function deriveKey(material: string): Promise<CryptoKey> {
  const ikm = await crypto.subtle.importKey("raw", encoder.encode(material), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    // The distinct info label keeps this key apart from anything else derived from the same secret.
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info: encoder.encode(HKDF_INFO) },
    ikm,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export async function encryptSecret(config: Config, userId: string, secret: Uint8Array): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(userId) },
    await keyFor(config),
    secret,
  );
  return `${VERSION}.${encodeBase64urlNoPadding(iv)}.${encodeBase64urlNoPadding(new Uint8Array(ct))}`;
}

/** Throws when the value is malformed, was made under another key, or belongs to another user. */
export async function decryptSecret(config: Config, userId: string, stored: string): Promise<Uint8Array> {
  const [version, iv, ct, ...rest] = stored.split(".");
  if (version !== VERSION || !iv || !ct || rest.length > 0) throw new Error("unknown secret format");
  const plain = await crypto.subtle.decrypt(
    {
      name: "AES-GCM",
      iv: decodeBase64urlIgnorePadding(iv),
      additionalData: encoder.encode(userId),
    },
    await keyFor(config),
    decodeBase64urlIgnorePadding(ct),
  );
  return new Uint8Array(plain);
}
