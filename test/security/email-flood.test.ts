import { describe, expect, it } from "vitest";
import { registerAndVerify, testClient, uniqueEmail } from "../helpers";
import { fakeClock } from "../support/clock";

describe("email flood control", () => {
  it("sends at most 3 reset emails per address per hour, silently, and again after the hour", async () => {
    const t0 = new Date("2026-11-25T12:00:00.000Z").getTime();
    const clock = fakeClock(t0);
    const client = testClient();
    const user = await registerAndVerify(client);
    const before = client.mailbox.to(user.email).length;

    const answers = [];
    for (let i = 0; i < 4; i++) {
      answers.push(await client.call("POST", "/auth/password/forgot", { json: { email: user.email } }));
    }
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    // Same body every time: the 4th does not reveal that it was dropped.
    expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    expect(client.mailbox.to(user.email).length - before).toBe(3);

    clock.set(t0 + 59 * 60_000);
    await client.call("POST", "/auth/password/forgot", { json: { email: user.email.toUpperCase() } });
    expect(client.mailbox.to(user.email).length - before).toBe(3);

    clock.set(t0 + 60 * 60_000 + 1);
    const later = await client.call("POST", "/auth/password/forgot", { json: { email: user.email } });
    expect(later.status).toBe(202);
    expect(client.mailbox.to(user.email).length - before).toBe(4);
  });

  it("verification resends share the same per-address budget", async () => {
    fakeClock(new Date("2026-11-25T14:00:00.000Z"));
    const client = testClient();
    const email = uniqueEmail();
    const reg = await client.call("POST", "/auth/register", {
      json: { email, password: "a-long-enough-passphrase-1" },
    });
    expect(reg.status).toBe(202);
    const before = client.mailbox.to(email).length;
    for (let i = 0; i < 2; i++) {
      expect((await client.call("POST", "/auth/verify/resend", { json: { email } })).status).toBe(202);
    }
    for (let i = 0; i < 2; i++) {
      expect((await client.call("POST", "/auth/password/forgot", { json: { email } })).status).toBe(202);
    }
    expect(client.mailbox.to(email).length - before).toBe(3);
  });
});
