import type { Config } from "../config";
import type { Env } from "../env";

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface EmailSender {
  send(message: EmailMessage): Promise<void>;
}

/** The `wrangler dev` default: prints the message so a developer can click the link. */
export class ConsoleEmailSender implements EmailSender {
  async send(m: EmailMessage): Promise<void> {
    console.log(`\n=== email to ${m.to} ===\nSubject: ${m.subject}\n\n${m.text}\n=== end of email ===\n`);
  }
}

export class ResendEmailSender implements EmailSender {
  constructor(
    private readonly apiKey: string,
    private readonly from: string,
    private readonly fetcher: typeof fetch,
  ) {}

  async send(m: EmailMessage): Promise<void> {
    const res = await this.fetcher("https://api.resend.com/emails", {
      method: "POST",
      headers: { Authorization: `Bearer ${this.apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ from: this.from, to: [m.to], subject: m.subject, text: m.text, html: m.html }),
    });
    if (!res.ok) throw new Error(`Resend answered ${res.status}`);
  }
}

/** The Workers `send_email` binding (Email Routing / Email Service). */
export class CloudflareEmailSender implements EmailSender {
  constructor(
    private readonly binding: SendEmail,
    private readonly from: string,
  ) {}

  async send(m: EmailMessage): Promise<void> {
    const { EmailMessage } = await import("cloudflare:email");
    const boundary = `b${crypto.randomUUID().replaceAll("-", "")}`;
    const fromAddress = /<([^>]+)>/.exec(this.from)?.[1] ?? this.from;
    const raw = [
      `From: ${this.from}`,
      `To: ${m.to}`,
      `Subject: ${m.subject}`,
      `Message-ID: <${crypto.randomUUID()}@${fromAddress.split("@")[1] ?? "localhost"}>`,
      `Date: ${new Date().toUTCString()}`,
      "MIME-Version: 1.0",
      `Content-Type: multipart/alternative; boundary="${boundary}"`,
      "",
      `--${boundary}`,
      "Content-Type: text/plain; charset=utf-8",
      "",
      m.text,
      `--${boundary}`,
      "Content-Type: text/html; charset=utf-8",
      "",
      m.html,
      `--${boundary}--`,
      "",
    ].join("\r\n");
    await this.binding.send(new EmailMessage(fromAddress, m.to, raw));
  }
}

export function createEmailSender(config: Config, env: Env, fetcher: typeof fetch): EmailSender {
  switch (config.EMAIL_TRANSPORT) {
    case "resend":
      return new ResendEmailSender(config.RESEND_API_KEY ?? "", config.EMAIL_FROM, fetcher);
    case "cloudflare":
      if (!env.SEND_EMAIL)
        throw new Error("EMAIL_TRANSPORT=cloudflare needs a send_email binding named SEND_EMAIL");
      return new CloudflareEmailSender(env.SEND_EMAIL, config.EMAIL_FROM);
    default:
      return new ConsoleEmailSender();
  }
}
