import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import type { EmailMessage } from "../../src/email";
import { BASE, CapturingEmailSender, createVerifiedUser, testClient, uniqueEmail } from "../helpers";

/*
 * POST /auth/email/change must not tell, by its answer or its time, whether another account holds the
 * address (API.md: "same answer when it is taken"). Like test/auth/enumeration-timing.test.ts: the app gets
 * an ExecutionContext, deferred work is awaited between requests (outside the timed part), and only a
 * generous bound is asserted; the deterministic rule (nothing before the answer) is pinned below.
 */
const ROUNDS = 15;

function timedApp(email: CapturingEmailSender) {
  const app = createApp({ email });
  return async (token: string, newEmail: string): Promise<{ ms: number; pending: Promise<unknown>[] }> => {
    const pending: Promise<unknown>[] = [];
    const ctx = {
      waitUntil: (p: Promise<unknown>) => pending.push(p),
      passThroughOnException: () => {},
      props: {},
    } as unknown as ExecutionContext;
    const started = performance.now();
    const res = await app.request(
      `${BASE}/auth/email/change`,
      {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify({ new_email: newEmail }),
      },
      env,
      ctx,
    );
    await res.text();
    const ms = performance.now() - started;
    expect(res.status).toBe(202);
    return { ms, pending };
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe("email change: no enumeration of taken addresses", () => {
  it("answers a taken and a free address in indistinguishable time", async () => {
    const setup = testClient();
    const user = await createVerifiedUser(setup);
    const taken = await Promise.all(Array.from({ length: 3 }, () => createVerifiedUser(setup)));
    const mailbox = new CapturingEmailSender();
    const time = timedApp(mailbox);
    await Promise.all((await time(user.tokens.access_token, uniqueEmail("warm"))).pending);
    const k: number[] = [];
    const u: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const a = await time(user.tokens.access_token, taken[i % 3]!.email);
      await Promise.all(a.pending);
      const b = await time(user.tokens.access_token, uniqueEmail("free"));
      await Promise.all(b.pending);
      k.push(a.ms);
      u.push(b.ms);
    }
    const [known, unknown] = [median(k), median(u)];
    const bound = Math.max(12, 0.5 * Math.max(known, unknown));
    expect(
      Math.abs(known - unknown),
      `taken ${known.toFixed(1)} ms, free ${unknown.toFixed(1)} ms (medians)`,
    ).toBeLessThan(bound);
    // The work happened after the answers: links went to free addresses only (3 an hour each at most).
    for (const t of taken) expect(mailbox.to(t.email)).toHaveLength(0);
    expect(mailbox.sent.length).toBeGreaterThanOrEqual(ROUNDS);
  });

  it("answers before the work: the link to a free address is sent only after the 202", async () => {
    const setup = testClient();
    const user = await createVerifiedUser(setup);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const mailbox = new (class extends CapturingEmailSender {
      override async send(message: EmailMessage): Promise<void> {
        await gate;
        await super.send(message);
      }
    })();
    const free = uniqueEmail("gated");
    const { pending } = await timedApp(mailbox)(user.tokens.access_token, free);
    expect(mailbox.to(free)).toHaveLength(0);
    release();
    await Promise.all(pending);
    expect(mailbox.last(free).subject).toMatch(/Confirm your new email address/);
  });
});
