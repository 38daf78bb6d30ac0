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

/** Registration with a free address but a taken username: nothing was created, the user picks another. */
export function usernameTakenEmail(config: Config, to: string, username: string): EmailMessage {
  return message(
    to,
    `Choose another ${config.APP_NAME} username`,
    [
      `Someone (hopefully you) tried to create an account with this email address and the username "${username}", which is already taken.`,
      "No account was created. Sign up again with another username, or without one. If this wasn't you, ignore this email.",
    ],
    { url: `${config.APP_URL}/signup`, label: "Sign up again" },
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

export function emailLoginLink(config: Config, token: string): string {
  return `${config.EMAIL_LOGIN_URL ?? `${config.APP_URL}/auth/email-login`}?token=${encodeURIComponent(token)}`;
}

/** One email, two ways in: the link for this device, the code for another one (both spend each other). */
export function emailLoginEmail(config: Config, to: string, token: string, code: string): EmailMessage {
  return message(
    to,
    `Sign in to ${config.APP_NAME}`,
    [
      `Someone (hopefully you) asked to sign in to ${config.APP_NAME} with this email address.`,
      `Your sign-in code is ${code}. Or use the link below. Both work once and for 10 minutes.`,
      "If this wasn't you, ignore this email: nobody can sign in without it.",
    ],
    { url: emailLoginLink(config, token), label: "Sign in" },
  );
}

export function emailChangeLink(config: Config, token: string): string {
  return `${config.APP_URL}/auth/email/change/confirm?token=${encodeURIComponent(token)}`;
}

/** Sent to the NEW address: following the link proves it, and only then does the account move to it. */
export function emailChangeEmail(config: Config, to: string, token: string): EmailMessage {
  return message(
    to,
    `Confirm your new email address for ${config.APP_NAME}`,
    [
      `Someone (hopefully you) asked to use this address for their ${config.APP_NAME} account.`,
      "The link is valid for 1 hour. If this wasn't you, ignore this email: nothing changes.",
    ],
    { url: emailChangeLink(config, token), label: "Use this email address" },
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

/** What a security notice reports; each is one short sentence, never a secret or a sign-in link. */
export type SecurityNoticeKind =
  | "password_changed"
  | "password_reset"
  | "two_factor_enabled"
  | "two_factor_disabled"
  | "passkey_added"
  | "passkey_removed"
  | "email_changed"
  | "google_linked"
  | "facebook_linked"
  | "google_unlinked"
  | "facebook_unlinked";

const NOTICES: Record<SecurityNoticeKind, { subject: string; line: string }> = {
  password_changed: {
    subject: "Your password was changed",
    line: "The password of your account was changed.",
  },
  password_reset: {
    subject: "Your password was reset",
    line: "The password of your account was reset through a link sent to this address.",
  },
  two_factor_enabled: {
    subject: "Two-factor authentication is on",
    line: "Two-factor authentication was turned on for your account.",
  },
  two_factor_disabled: {
    subject: "Two-factor authentication is off",
    line: "Two-factor authentication was turned off for your account.",
  },
  passkey_added: { subject: "A passkey was added", line: "A new passkey was added to your account." },
  passkey_removed: { subject: "A passkey was removed", line: "A passkey was removed from your account." },
  email_changed: {
    subject: "Your email address was changed",
    line: "The email address of your account was changed; this address no longer signs in.",
  },
  google_linked: {
    subject: "Google sign-in was linked",
    line: "A Google account can now sign in to your account.",
  },
  facebook_linked: {
    subject: "Facebook sign-in was linked",
    line: "A Facebook account can now sign in to your account.",
  },
  google_unlinked: {
    subject: "Google sign-in was unlinked",
    line: "Your Google account can no longer sign in to your account.",
  },
  facebook_unlinked: {
    subject: "Facebook sign-in was unlinked",
    line: "Your Facebook account can no longer sign in to your account.",
  },
};

/**
 * A security notice: what changed, and what to do if it was not the account owner. Deliberately without a
 * link: a notice that signs in or resets would be a phishing template and a token in a mailbox.
 */
export function securityNoticeEmail(config: Config, to: string, kind: SecurityNoticeKind): EmailMessage {
  const notice = NOTICES[kind];
  return message(to, `${config.APP_NAME}: ${notice.subject}`, [
    notice.line,
    "If this was you, there is nothing to do.",
    `If it was not, reset your password from the ${config.APP_NAME} sign-in page and review your account's sessions.`,
  ]);
}
