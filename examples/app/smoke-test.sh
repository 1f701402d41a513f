#!/usr/bin/env bash
# The example app's smoke test, run by `npm run ephemeral` against a fresh stack's outputs.
# DBSTACK_OUTPUTS holds the stack outputs as JSON; the app connects as the outputs say.
set -euo pipefail
db=$(node -p 'JSON.parse(process.env.DBSTACK_OUTPUTS).sqlite.app.path')
init=$(node -p 'JSON.parse(process.env.DBSTACK_OUTPUTS).sqlite.app.connectionInit')
sql() { sqlite3 -batch -bail -cmd ".timeout 5000" "$db" "$init $1" ; }
sql "INSERT INTO users (email) VALUES ('smoke@example.com');" >/dev/null
sql "INSERT INTO notes (user_id, body) SELECT id, 'hello' FROM users WHERE email = 'smoke@example.com';" >/dev/null
# (PRAGMA busy_timeout prints its value first: keep the last row.)
[ "$(sql "SELECT body FROM notes JOIN users ON users.id = notes.user_id WHERE email = 'smoke@example.com';" | tail -n 1)" = hello ]
# With the connection pragmas applied, a note for a missing user is refused.
if sql "INSERT INTO notes (user_id, body) VALUES (999999, 'orphan');" 2>/dev/null; then
  echo "smoke test: foreign keys are not enforced" >&2; exit 1
fi
echo "smoke test passed"
