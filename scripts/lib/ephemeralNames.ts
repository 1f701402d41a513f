/** Naming and ageing rules of ephemeral stacks: `<prefix>-<UTC yyyymmddhhmmss>-<random>`. */

export function ephemeralStackName(prefix: string, now: Date, random = Math.random().toString(36).slice(2, 8)): string {
  if (!/^[a-z][a-z0-9-]{0,30}$/.test(prefix)) {
    throw new Error(`--stack-prefix: expected lower-case letters, digits and - (at most 31), got ${JSON.stringify(prefix)}`);
  }
  const stamp = now.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return `${prefix}-${stamp}-${random}`;
}

/** When the stack was created, read from its name; undefined for names not made by ephemeralStackName. */
export function createdAt(name: string, prefix: string): Date | undefined {
  const match = new RegExp(`^${prefix.replace(/[-]/g, "\\-")}-(\\d{4})(\\d{2})(\\d{2})(\\d{2})(\\d{2})(\\d{2})-[a-z0-9]+$`).exec(name);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  return new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
}

export function isStale(name: string, prefix: string, ttlMs: number, now: Date): boolean {
  const created = createdAt(name, prefix);
  return created !== undefined && now.getTime() - created.getTime() >= ttlMs;
}

/** Parses a TTL such as 90s, 30m, 6h, 2d. */
export function parseTtl(text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) throw new Error(`--ttl: expected a duration such as 30m, 6h or 2d, got ${JSON.stringify(text)}`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}

/** The random part of an ephemeral stack's name, used to name what it creates on the host. */
export function runIdOf(name: string): string {
  return name.slice(name.lastIndexOf("-") + 1);
}

/**
 * Replaces ${NAME} placeholders (DATA_ROOT, RUN_ID, PG_PORT ...) in every string of a config
 * value. A string that is exactly one placeholder with a numeric value becomes that number.
 */
export function substitutePlaceholders(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === "string") {
    const whole = /^\$\{([A-Z_]+)\}$/.exec(value);
    if (whole && whole[1] in vars && /^\d+$/.test(vars[whole[1]])) return Number(vars[whole[1]]);
    return value.replace(/\$\{([A-Z_]+)\}/g, (m, key: string) => (key in vars ? vars[key] : m));
  }
  if (Array.isArray(value)) return value.map((v) => substitutePlaceholders(v, vars));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitutePlaceholders(v, vars)]));
  }
  return value;
}
