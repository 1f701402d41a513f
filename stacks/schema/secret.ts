/**
 * Which config fields hold secrets, marked on the schema itself: `secret(z.string()...)`. One
 * walker (setSecretFields) finds every marked field set in a config value, so a new secret field of
 * any engine is covered by the plaintext rule (stacks/secrets.ts) the moment it is marked.
 */
import { z } from "zod";

const SECRETS = z.registry<{ secret: true }>();

/** Marks a schema as a secret field. The marker must be the last call of the chain (zod's refine makes a new schema). */
export function secret<T extends z.ZodType>(schema: T): T {
  SECRETS.add(schema as z.ZodType, { secret: true });
  return schema;
}

/**
 * The dotted paths (under `path`) of the secret fields set in `value`, walking `schema` and
 * `value` together through objects, records, arrays, optionals, defaults, pipes and unions.
 */
export function setSecretFields(schema: z.ZodType, value: unknown, path: string): string[] {
  if (value === undefined || value === null) return [];
  if (SECRETS.has(schema)) return [path];
  const def = (schema as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "nonoptional":
      return setSecretFields(def.innerType as z.ZodType, value, path);
    case "pipe":
      return setSecretFields(def.in as z.ZodType, value, path);
    case "object": {
      if (typeof value !== "object") return [];
      const shape = def.shape as Record<string, z.ZodType>;
      return Object.entries(shape).flatMap(([k, s]) => setSecretFields(s, (value as Record<string, unknown>)[k], `${path}.${k}`));
    }
    case "record": {
      if (typeof value !== "object") return [];
      return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => setSecretFields(def.valueType as z.ZodType, v, `${path}.${k}`));
    }
    case "array":
      return Array.isArray(value) ? value.flatMap((v, i) => setSecretFields(def.element as z.ZodType, v, `${path}.${i}`)) : [];
    case "union":
      // Every option's secrets: a field is secret in whichever option the value matches.
      return [...new Set((def.options as z.ZodType[]).flatMap((o) => setSecretFields(o, value, path)))];
    default:
      return [];
  }
}
