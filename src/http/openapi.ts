/**
 * Generic wire schemas and OpenAPI helpers that every feature's routes share (problem details, a plain
 * `{detail}` answer, JSON request/response declarations). Feature-specific bodies stay with the feature.
 */
import { z } from "@hono/zod-openapi";

export const DetailSchema = z.object({ detail: z.string() }).openapi("Detail");

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    request_id: z.string().optional(),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: ProblemSchema } },
});

export const problems = {
  400: problem("Invalid or used token / malformed body"),
  401: problem("Not authenticated or bad credentials"),
  403: problem("Forbidden"),
  404: problem("Not found"),
  409: problem("Conflict"),
  413: problem("Body over 64 KiB"),
  415: problem("Body is not JSON"),
  422: problem("Validation failed"),
  429: problem("Rate limited (see Retry-After)"),
  503: problem("`overloaded`: too many password checks queued on this instance (see Retry-After)"),
} as const;

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});
