import type { Config } from "../config";
import type { EmailMessage } from "./index";

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function message(
  to: string,
  subject: string,
  lines: string[],
  link?: { url: string; label: string },
): EmailMessage {
  const text = [...lines, ...(link ? ["", `${link.label}: ${link.url}`] : [])].join("\n");
  const html = `<!doctype html><html><body style="font-family:sans-serif">${lines
    .map((l) => `<p>${escapeHtml(l)}</p>`)
    .join(
      "",
    )}${link ? `<p><a href="${escapeHtml(link.url)}">${escapeHtml(link.label)}</a></p>` : ""}</body></html>`;
  return { to, subject, text, html };
}

export function verifyLink(config: Config, token: string): string {
  return `${config.VERIFY_URL ?? `${config.APP_URL}/auth/verify`}?token=${encodeURIComponent(token)}`;
}

export function resetLink(config: Config, token: string): string {
  return `${config.RESET_URL ?? `${config.APP_URL}/auth/password/reset`}?token=${encodeURIComponent(token)}`;
}

export function verificationEmail(config: Config, to: string, token: string): EmailMessage {
  return message(
    to,
    `Verify your email for ${config.APP_NAME}`,
    ["Confirm your email address to finish creating your account.", "The link is valid for 24 hours."],
    { url: verifyLink(config, token), label: "Verify my email" },
  );
}

export function alreadyRegisteredEmail(config: Config, to: string): EmailMessage {
  return message(
    to,
    `You already have an account at ${config.APP_NAME}`,
    [
      "Someone (hopefully you) tried to create an account with this email address, but you already have one.",
      "If you forgot your password, reset it from the sign-in page. If this wasn't you, ignore this email.",
    ],
    {
      url: `${config.RESET_URL ?? `${config.APP_URL}/auth/password/forgot`}`,
      label: "Forgot your password?",
    },
  );
}

export function passwordResetEmail(config: Config, to: string, token: string): EmailMessage {
  return message(
    to,
    `Reset your ${config.APP_NAME} password`,
    [
      "Someone asked to reset the password of this account.",
      "The link is valid for 1 hour. If this wasn't you, ignore this email.",
    ],
    { url: resetLink(config, token), label: "Choose a new password" },
  );
}

export function accountThrottledEmail(config: Config, to: string, token: string): EmailMessage {
  return message(
    to,
    `Unusual sign-in attempts on your ${config.APP_NAME} account`,
    [
      "We saw many failed sign-in attempts on your account and slowed further attempts down for a while.",
      "If this was you, wait a few minutes or reset your password. If not, your password held; consider changing it.",
    ],
    { url: resetLink(config, token), label: "Reset my password" },
  );
}
