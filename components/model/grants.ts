/** What a grant gives a user on one database: each role includes the ones ranked below it. */
export type GrantRole = "readonly" | "readwrite" | "owner";

/** Wider roles rank higher. */
export const GRANT_RANK: Record<GrantRole, number> = { readonly: 1, readwrite: 2, owner: 3 };
