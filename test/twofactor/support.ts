import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";
import { expect } from "vitest";
import { createVerifiedUser, PASSWORD, type TestClient, type TestUser } from "../helpers";
import { fakeClock } from "../support/clock";

export const STEP_MS = 30_000;

/** A fixed clock 5 s into a 30-second step, so codes never straddle a step boundary mid-test. */
export function freezeClock(): { now(): number; advance(ms: number): void; step(): number } {
  const clock = fakeClock(Date.UTC(2026, 10, 25, 9, 0, 5));
  return {
    now: () => clock.now(),
    advance: (ms: number) => clock.advance(ms),
    step: () => Math.floor(clock.now() / STEP_MS),
  };
}

/** Codes are generated with oslo directly from the base32 secret, as an authenticator app would. */
export function codeForStep(secret: string, step: number): string {
  return generateHOTP(decodeBase32IgnorePadding(secret), BigInt(step), 6);
}

export function currentCode(secret: string): string {
  return codeForStep(secret, Math.floor(Date.now() / STEP_MS));
}

export interface EnrolledUser extends TestUser {
  secret: string;
  recoveryCodes: string[];
}

/** A verified user with 2FA on, through the API. Uses the current step: advance the clock before the next code. */
export async function createTwoFactorUser(client: TestClient): Promise<EnrolledUser> {
  const user = await createVerifiedUser(client);
  const setup = await client.call("POST", "/auth/2fa/setup", { token: user.tokens.access_token });
  expect(setup.status).toBe(200);
  const enable = await client.call("POST", "/auth/2fa/enable", {
    token: user.tokens.access_token,
    json: { code: currentCode(setup.body.secret) },
  });
  expect(enable.status).toBe(200);
  return { ...user, secret: setup.body.secret, recoveryCodes: enable.body.recovery_codes };
}

/** Password step of a 2FA account: returns the mfa_token. */
export async function passwordStep(client: TestClient, email: string): Promise<string> {
  const login = await client.call("POST", "/auth/login", { json: { email, password: PASSWORD } });
  expect(login.status).toBe(200);
  expect(login.body).toEqual({ mfa_required: true, mfa_token: expect.any(String), expires_in: 300 });
  return login.body.mfa_token;
}

export function verify(client: TestClient, mfaToken: string, code: string) {
  return client.call("POST", "/auth/2fa/verify", { json: { mfa_token: mfaToken, code } });
}
