/**
 * Check constraints and generated columns carried to another engine: a source expression is
 * re-spelled for the target when every token of it means the same on both sides, and refused
 * (undefined) otherwise, so the caller reports it by id instead of guessing.
 *
 * What passes: the table's own column names (quoted for the target), numbers, string literals,
 * comparisons (= <> != < > <= >=), + - * and %, AND OR NOT, BETWEEN, IN, IS [NOT] NULL, TRUE/FALSE,
 * parentheses and commas, and a few functions whose meaning every engine shares (lower, upper, abs,
 * coalesce, trim, length as a count of characters). What does not: `/` (integer division in
 * SQLite, a decimal in MariaDB), `||` (concatenation, or OR in MariaDB), LIKE (case rules differ),
 * casts, subqueries, any other function or keyword.
 */
import type { Dialect } from "./dialects/dialect";

/** Functions that mean the same everywhere, by the name each target spells them. */
const FUNCTIONS: Record<string, Record<string, string>> = {
  lower: { postgres: "lower", mariadb: "LOWER", sqlite: "lower" },
  upper: { postgres: "upper", mariadb: "UPPER", sqlite: "upper" },
  abs: { postgres: "abs", mariadb: "ABS", sqlite: "abs" },
  coalesce: { postgres: "coalesce", mariadb: "COALESCE", sqlite: "coalesce" },
  trim: { postgres: "trim", mariadb: "TRIM", sqlite: "trim" },
  length: { postgres: "length", mariadb: "CHAR_LENGTH", sqlite: "length" },
  char_length: { postgres: "char_length", mariadb: "CHAR_LENGTH", sqlite: "length" },
};

const KEYWORDS = new Set(["AND", "OR", "NOT", "BETWEEN", "IN", "IS", "NULL", "TRUE", "FALSE"]);
const OPERATORS = new Set(["=", "==", "<>", "!=", "<", ">", "<=", ">=", "+", "-", "*", "%", "(", ")", ","]);

type Token = { kind: "name" | "quoted" | "number" | "string" | "op"; text: string };

/** The tokens of `expr`, or undefined at anything the translation does not read. */
function tokenize(expr: string): Token[] | undefined {
  const out: Token[] = [];
  const re = /\s+|(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|('(?:[^']|'')*')|("(?:[^"]|"")+"|`(?:[^`]|``)+`|\[[^\]]+\])|([A-Za-z_][A-Za-z0-9_]*)|(<=|>=|<>|!=|==|[=<>+\-*%(),])/y;
  let i = 0;
  while (i < expr.length) {
    re.lastIndex = i;
    const m = re.exec(expr);
    if (!m || m[0].length === 0) return undefined;
    i = re.lastIndex;
    if (m[1]) out.push({ kind: "number", text: m[1] });
    else if (m[2]) out.push({ kind: "string", text: m[2].slice(1, -1).replace(/''/g, "'") });
    else if (m[3]) out.push({ kind: "quoted", text: unquote(m[3]) });
    else if (m[4]) out.push({ kind: "name", text: m[4] });
    else if (m[5]) out.push({ kind: "op", text: m[5] });
  }
  return out;
}

function unquote(q: string): string {
  if (q.startsWith("[")) return q.slice(1, -1);
  const c = q[0];
  return q.slice(1, -1).split(c + c).join(c);
}

/**
 * `expr` (a source expression over `columns`, a CHECK's `CHECK (...)` wrapper allowed) in the
 * target's SQL, or undefined when it cannot be carried over exactly.
 */
export function translateExpression(expr: string, columns: readonly string[], target: Dialect): string | undefined {
  const body = expr.trim().replace(/^CHECK\s*/i, "");
  const tokens = tokenize(body);
  if (tokens === undefined) return undefined;
  const known = new Map(columns.map((c) => [c.toLowerCase(), c]));
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const next = tokens[i + 1];
    if (t.kind === "number") out.push(t.text);
    else if (t.kind === "string") out.push(target.stringLiteral(t.text));
    else if (t.kind === "op") out.push(t.text === "==" ? "=" : t.text === "!=" ? "<>" : t.text);
    else if (t.kind === "name" && next?.text === "(" && FUNCTIONS[t.text.toLowerCase()]) out.push(FUNCTIONS[t.text.toLowerCase()][target.kind]);
    else if (t.kind === "name" && KEYWORDS.has(t.text.toUpperCase()) && !known.has(t.text.toLowerCase())) out.push(t.text.toUpperCase());
    else {
      const column = known.get(t.text.toLowerCase());
      if (column === undefined) return undefined;
      out.push(target.quoteIdentifier(column));
    }
  }
  return out.join(" ").replace(/\( /g, "(").replace(/ \)/g, ")").replace(/ ,/g, ",").replace(/(\w) \(/g, "$1(");
}

/** The operators and keywords an expression may hold, for a message: what translateExpression reads. */
export const TRANSLATED_SYNTAX = [...OPERATORS].join(" ") + " " + [...KEYWORDS].join(" ") + " " + Object.keys(FUNCTIONS).join(" ");
