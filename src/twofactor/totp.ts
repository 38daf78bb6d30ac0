// Only erasable TypeScript here: scripts/otp.ts runs this file with Node's type stripping.
import { decodeBase32IgnorePadding, encodeBase32UpperCaseNoPadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";

/** RFC 6238 parameters every authenticator app understands: SHA-1, 6 digits, 30-second steps. */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one (RFC 6238 §5.2: allow for clock drift). */
export const TOTP_DRIFT_STEPS = 1;
/** 160 bits: the HMAC-SHA-1 output size, as RFC 4226 §4 recommends. */
export const TOTP_SECRET_BYTES = 20;

export interface TotpOptions {
  digits?: number;
  periodSeconds?: number;
}

export function newTotpSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(TOTP_SECRET_BYTES));
}

/** Base32 without padding, the form authenticator apps accept in otpauth URLs and manual entry. */
export function encodeTotpSecret(key: Uint8Array): string {
  return encodeBase32UpperCaseNoPadding(key);
}

/** Accepts what people paste: any case, spaces, padding. Throws on anything that is not base32. */
export function decodeTotpSecret(base32: string): Uint8Array {
  return decodeBase32IgnorePadding(base32.replace(/\s+/g, "").toUpperCase());
}

/** The RFC 6238 time step (T0 = 0) that `nowMs` falls in. */
export function totpStep(nowMs: number, periodSeconds: number = TOTP_PERIOD_SECONDS): number {
  return Math.floor(nowMs / (periodSeconds * 1000));
}

/** Seconds until the current step ends (what the dev script prints). */
export function totpSecondsLeft(nowMs: number, periodSeconds: number = TOTP_PERIOD_SECONDS): number {
  const periodMs = periodSeconds * 1000;
  return Math.ceil((periodMs - (nowMs % periodMs)) / 1000);
}

/** The code of one time step (HOTP with the step as counter, RFC 6238 §4.2). */
export function totpForStep(key: Uint8Array, step: number, digits: number = TOTP_DIGITS): string {
  return generateHOTP(key, BigInt(step), digits);
}

/** The code for the instant `nowMs`. */
export function generateTotp(key: Uint8Array, nowMs: number, options: TotpOptions = {}): string {
  return totpForStep(key, totpStep(nowMs, options.periodSeconds), options.digits);
}

/**
 * Returns the step whose code equals `code` among the current step and TOTP_DRIFT_STEPS either side,
 * or null. The step is returned (not a boolean) so the caller can refuse a replay: a step is accepted
 * at most once and only after the last accepted one. Every candidate is compared, in constant time,
 * so timing does not reveal which step (if any) matched.
 */
export function matchTotp(
  key: Uint8Array,
  code: string,
  nowMs: number,
  options: TotpOptions = {},
): number | null {
  const digits = options.digits ?? TOTP_DIGITS;
  if (code.length !== digits || !/^[0-9]+$/.test(code)) return null;
  const current = totpStep(nowMs, options.periodSeconds);
  let matched: number | null = null;
  for (let step = current - TOTP_DRIFT_STEPS; step <= current + TOTP_DRIFT_STEPS; step++) {
    if (step < 0) continue;
    if (equalDigits(totpForStep(key, step, digits), code)) matched = step;
  }
  return matched;
}

function equalDigits(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** otpauth:// key URI (Google Authenticator "Key Uri Format"): issuer both as label prefix and parameter. */
export function totpKeyUri(issuer: string, accountName: string, key: Uint8Array): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(accountName)}`;
  const params = [
    `secret=${encodeTotpSecret(key)}`,
    `issuer=${encodeURIComponent(issuer)}`,
    "algorithm=SHA1",
    `digits=${TOTP_DIGITS}`,
    `period=${TOTP_PERIOD_SECONDS}`,
  ];
  return `otpauth://totp/${label}?${params.join("&")}`;
}
