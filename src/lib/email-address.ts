import { z } from "@hono/zod-openapi";

// Local part: a safe subset of RFC 5322 dot-atom (letters, digits and . _ % + - '), no leading, trailing or
// double dot. The rest of atext (` | { } / = ? ^ ! # $ & * ~), quoted strings and comments are refused:
// real addresses almost never use them, and they are the ones that turn into injections in links, shells
// and templates downstream.
const LOCAL = /^[A-Za-z0-9_%+'-]+(\.[A-Za-z0-9_%+'-]+)*$/;
// Domain: LDH labels (punycode "xn--" allowed), at least two labels, alphabetic or punycode TLD.
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const TLD = /^([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$/;

export function isValidEmail(email: string): boolean {
  if (email.length > 254) return false;
  const at = email.lastIndexOf("@");
  if (at <= 0 || at !== email.indexOf("@")) return false;
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length > 64 || !LOCAL.test(local)) return false;
  if (domain.length > 253) return false;
  const labels = domain.split(".");
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return false;
  return TLD.test(labels[labels.length - 1]!);
}

/** Trimmed, NFC-normalised, checked; stored as given, compared lower-cased by the repositories. */
export const EmailSchema = z
  .string()
  .max(320)
  .transform((v) => v.normalize("NFC").trim())
  .refine(isValidEmail, { message: "Enter a valid email address." })
  .openapi({ type: "string", format: "email", example: "ada@example.com" });

export const PasswordInputSchema = z
  .string()
  .min(1)
  .max(1024)
  .openapi({ example: "correct horse battery staple" });
