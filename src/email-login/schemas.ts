import { z } from "@hono/zod-openapi";
import { TokenSchema } from "../auth/schemas";
import { EmailSchema } from "../lib/email-address";

const CodeSchema = z.string().trim().min(1).max(64).openapi({ example: "123456" });
const hasCode = (b: { code?: string; otp?: string }): boolean => b.code !== undefined || b.otp !== undefined;

/**
 * `{token}` (the link) or `{email, code}` (the 6-digit code; `otp` is accepted as the code's name, as
 * everywhere a code is taken). Each shape is strict: a body mixing both is 422, never guessed at.
 */
export const EmailLoginVerifyBody = z
  .union([
    z.object({ token: TokenSchema.openapi({ description: "The token of the emailed link" }) }).strict(),
    z
      .object({
        email: EmailSchema,
        code: CodeSchema.optional().describe("The 6-digit code of the email"),
        otp: CodeSchema.optional().describe("The same as `code`"),
      })
      .strict()
      .refine(hasCode, { message: "Required (`code` or `otp`).", path: ["code"] }),
  ])
  .openapi("EmailLoginVerifyRequest");

export type EmailLoginVerifyInput = z.output<typeof EmailLoginVerifyBody>;
