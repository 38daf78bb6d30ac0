/**
 * A small software authenticator: an ES256 key pair from WebCrypto, attestation "none", assertions
 * signed over authenticatorData || SHA-256(clientDataJSON), as WebAuthn L3 §6.3.3 describes. It produces
 * the same …JSON shapes @simplewebauthn/browser hands to a server, so tests drive the routes over HTTP.
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import { isoBase64URL, isoCBOR } from "@simplewebauthn/server/helpers";

const UP = 0x01;
const UV = 0x04;
const AT = 0x40;

const encoder = new TextEncoder();

async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>));
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function uint32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** WebCrypto signs ECDSA as r || s; WebAuthn wants an ASN.1 DER SEQUENCE of two INTEGERs. */
function derSignature(raw: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array): Uint8Array => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = bytes.slice(i);
    if (v[0]! & 0x80) v = concat(new Uint8Array([0]), v);
    return concat(new Uint8Array([0x02, v.length]), v);
  };
  const body = concat(integer(raw.slice(0, 32)), integer(raw.slice(32)));
  return concat(new Uint8Array([0x30, body.length]), body);
}

export interface CeremonyOverrides {
  origin?: string;
  rpId?: string;
  challenge?: string;
  type?: string;
  /** Sign with this key instead of the credential's own. */
  signWith?: CryptoKey;
  /** Report this counter instead of the next one. */
  counter?: number;
  userVerified?: boolean;
}

export class SoftwareAuthenticator {
  /** The signature counter; stays 0 for an authenticator that does not count. */
  counter = 0;
  userHandle: string | undefined;

  readonly keys: CryptoKeyPair;
  readonly credentialId: string;
  readonly origin: string;
  readonly counting: boolean;

  // No parameter properties: bench/run.mjs imports this file with Node's type stripping.
  private constructor(keys: CryptoKeyPair, credentialId: string, origin: string, counting: boolean) {
    this.keys = keys;
    this.credentialId = credentialId;
    this.origin = origin;
    this.counting = counting;
  }

  static async create(origin: string, options: { counting?: boolean } = {}): Promise<SoftwareAuthenticator> {
    const keys = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const id = isoBase64URL.fromBuffer(crypto.getRandomValues(new Uint8Array(16)));
    return new SoftwareAuthenticator(keys, id, origin, options.counting ?? true);
  }

  /** Another key, for "signed by someone else". */
  static async strangerKey(): Promise<CryptoKey> {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    return pair.privateKey;
  }

  private async coseKey(): Promise<Uint8Array> {
    const jwk = (await crypto.subtle.exportKey("jwk", this.keys.publicKey)) as JsonWebKey;
    // COSE_Key (RFC 9053): kty EC2 (2), alg ES256 (-7), crv P-256 (1), x, y.
    return isoCBOR.encode(
      new Map<number, number | Uint8Array>([
        [1, 2],
        [3, -7],
        [-1, 1],
        [-2, isoBase64URL.toBuffer(jwk.x!)],
        [-3, isoBase64URL.toBuffer(jwk.y!)],
      ]),
    );
  }

  private clientData(type: string, challenge: string, o: CeremonyOverrides): string {
    return isoBase64URL.fromUTF8String(
      JSON.stringify({
        type: o.type ?? type,
        challenge: o.challenge ?? challenge,
        origin: o.origin ?? this.origin,
        crossOrigin: false,
      }),
    );
  }

  private nextCounter(o: CeremonyOverrides): number {
    if (o.counter !== undefined) return o.counter;
    if (this.counting) this.counter += 1;
    return this.counter;
  }

  async register(
    options: { challenge: string; rp: { id?: string }; user: { id: string } },
    o: CeremonyOverrides = {},
  ): Promise<RegistrationResponseJSON> {
    const rpId = o.rpId ?? options.rp.id!;
    this.userHandle = options.user.id;
    const credId = isoBase64URL.toBuffer(this.credentialId);
    const flags = UP | AT | (o.userVerified === false ? 0 : UV);
    const authData = concat(
      await sha256(encoder.encode(rpId)),
      new Uint8Array([flags]),
      uint32(this.counting ? this.counter : 0),
      new Uint8Array(16), // AAGUID: none
      new Uint8Array([credId.length >> 8, credId.length & 0xff]),
      credId,
      await this.coseKey(),
    );
    const attestationObject = isoCBOR.encode(
      new Map<string, unknown>([
        ["fmt", "none"],
        ["attStmt", new Map()],
        ["authData", authData],
      ]) as never,
    );
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: "public-key",
      response: {
        clientDataJSON: this.clientData("webauthn.create", options.challenge, o),
        attestationObject: isoBase64URL.fromBuffer(attestationObject),
        transports: ["internal"],
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }

  async assert(
    options: { challenge: string; rpId?: string },
    o: CeremonyOverrides = {},
  ): Promise<AuthenticationResponseJSON> {
    const rpId = o.rpId ?? options.rpId!;
    const flags = UP | (o.userVerified === false ? 0 : UV);
    const authData = concat(
      await sha256(encoder.encode(rpId)),
      new Uint8Array([flags]),
      uint32(this.nextCounter(o)),
    );
    const clientDataJSON = this.clientData("webauthn.get", options.challenge, o);
    const signed = concat(authData, await sha256(isoBase64URL.toBuffer(clientDataJSON)));
    const raw = new Uint8Array(
      await crypto.subtle.sign(
        { name: "ECDSA", hash: "SHA-256" },
        o.signWith ?? this.keys.privateKey,
        signed,
      ),
    );
    return {
      id: this.credentialId,
      rawId: this.credentialId,
      type: "public-key",
      response: {
        clientDataJSON,
        authenticatorData: isoBase64URL.fromBuffer(authData),
        signature: isoBase64URL.fromBuffer(Uint8Array.from(derSignature(raw))),
        ...(this.userHandle ? { userHandle: this.userHandle } : {}),
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    };
  }
}
