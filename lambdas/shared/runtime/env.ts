// Handler settings come from environment variables validated once at cold start (DESIGN §4).
import * as z from 'zod';

export class ConfigError extends Error {}

/** Validates `process.env` against `shape`; the error names every missing or bad variable. */
export function readEnv<S extends z.ZodRawShape>(shape: S, env: NodeJS.ProcessEnv = process.env): z.infer<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(env);
  if (!result.success) {
    const fields = result.error.issues.map((i) => `${i.path.join('.')} (${i.message})`).join(', ');
    throw new ConfigError(`invalid function configuration: ${fields}`);
  }
  return result.data;
}

/** Variables shared by most functions. */
export const COMMON_ENV = {
  TABLE_NAME: z.string().min(1),
  CLUSTER_ID: z.string().min(1),
} as const;
