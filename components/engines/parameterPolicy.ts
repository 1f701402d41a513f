/**
 * What a deployment may declare in `parameters`, as one table per engine (engines/<engine>/
 * parameterPolicy.ts) read by one rule here. A parameter is one of:
 * - owned: dbstack sets it from another field (`port`, `dataDirectory`, `listenAddresses`, `tls`,
 *   `standbys` ...), and an override would move the server somewhere dbstack does not look, or undo
 *   what that field promises (TLS, scram, replication). Always refused, naming the field to use.
 * - unsafe: it disables authentication, loads code into the server, reads or writes files for
 *   clients, or logs statements (with the passwords dbstack sets). Refused unless the deployment's
 *   `unsafeParameters` names it: the one place a reviewer sees such a choice.
 * - warned: accepted, with a warning the preview shows (a log that may hold other clients' secrets).
 * A rule may look at the value too (PostgreSQL's shared_preload_libraries, password_encryption).
 *
 * Names are compared after the engine's normalisation (case, dashes, MariaDB's loose-/skip- ...
 * prefixes), so no spelling of a name slips past its rule.
 */

/** A parameter dbstack sets from the field `use`. */
export interface OwnedParameter {
  kind: "owned";
  /** The field to declare instead, e.g. "listenAddresses". */
  use: string;
}

/** A parameter refused unless `unsafeParameters` names it. */
export interface UnsafeParameter {
  kind: "unsafe";
  /** What it does that makes it unsafe, e.g. "disables authentication". */
  why: string;
  /** When set, only values for which this returns a reason are unsafe; other values are accepted. */
  unsafeValue?: (value: string) => string | undefined;
}

/** A parameter accepted with a warning when `warnValue` returns one for its value. */
export interface WarnedParameter {
  kind: "warned";
  warnValue: (value: string) => string | undefined;
}

export type ParameterRule = OwnedParameter | UnsafeParameter | WarnedParameter;

/** One engine's policy: its rules by normalised name, and how a declared name is normalised. */
export interface ParameterPolicy {
  /** "MariaDB", "PostgreSQL". */
  engine: string;
  rules: Readonly<Record<string, ParameterRule>>;
  /** The names a declared name may stand for (e.g. skip-grant-tables → skip_grant_tables, grant_tables). */
  spellings(name: string): string[];
}

/** What the policy says about declared parameters. */
export interface PolicyVerdict {
  /** Why the parameters cannot be used, naming the parameter and the field or list to use. */
  problem?: string;
  /** Accepted parameters a reviewer should know about. */
  warnings: string[];
}

/** The rule for a declared name, and the name it matched. */
export function ruleFor(policy: ParameterPolicy, name: string): [string, ParameterRule] | undefined {
  for (const candidate of policy.spellings(name)) {
    const rule = policy.rules[candidate];
    if (rule) return [candidate, rule];
  }
  return undefined;
}

/**
 * Checks declared parameters against an engine's policy. `unsafeParameters` are the names the
 * deployment accepts as unsafe (normalised like the parameters, so either spelling counts); one
 * that names no unsafe parameter of the engine is refused too, so a typo there does not silently
 * leave the real name refused (or a stale entry allow a later one).
 */
export function checkParameterPolicy(policy: ParameterPolicy, overrides: Record<string, string>, unsafeParameters: readonly string[] = []): PolicyVerdict {
  const allowed = new Set<string>();
  for (const name of unsafeParameters) {
    const matched = typeof name === "string" ? ruleFor(policy, name) : undefined;
    if (!matched || matched[1].kind !== "unsafe") {
      return { problem: `unsafeParameters: ${JSON.stringify(name)} is not one of ${policy.engine}'s unsafe parameters (${unsafeNames(policy).join(", ")})`, warnings: [] };
    }
    allowed.add(matched[0]);
  }
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(overrides)) {
    const matched = ruleFor(policy, name);
    if (!matched) continue;
    const [canonical, rule] = matched;
    const as = canonical === name ? "" : ` (read as ${canonical})`;
    switch (rule.kind) {
      case "owned":
        return { problem: `parameters.${name}${as}: dbstack sets it from \`${rule.use}\`; declare it there instead`, warnings };
      case "unsafe": {
        const why = rule.unsafeValue ? rule.unsafeValue(String(value)) : rule.why;
        if (why === undefined || allowed.has(canonical)) {
          if (why !== undefined) warnings.push(`parameters.${name}: accepted through unsafeParameters: ${why}`);
          break;
        }
        return { problem: `parameters.${name}${as}: ${why}; dbstack refuses it unless \`unsafeParameters\` lists "${canonical}"`, warnings };
      }
      case "warned": {
        const warning = rule.warnValue(String(value));
        if (warning) warnings.push(`parameters.${name}: ${warning}`);
        break;
      }
      default:
        return unknownRule(rule);
    }
  }
  return { warnings };
}

/** The names `unsafeParameters` may list for an engine. */
export function unsafeNames(policy: ParameterPolicy): string[] {
  return Object.entries(policy.rules)
    .filter(([, r]) => r.kind === "unsafe")
    .map(([n]) => n)
    .sort();
}

function unknownRule(rule: never): never {
  throw new Error(`unknown parameter rule ${JSON.stringify(rule)}`);
}
