#!/usr/bin/env bash
# Posts a stack's preview summary on a pull request as one comment per stack, updated in place.
#
#   scripts/pr-comment.sh <stack> <summary.md>
#
# Needs the GitHub CLI (`gh`) with GH_TOKEN, and GITHUB_REPOSITORY and PR_NUMBER in the
# environment (the workflow passes them). The comment carries a hidden marker naming the stack
# (`<!-- dbstack-preview:<stack> -->`): the comment with that marker is edited, so each stack keeps
# one comment however many times the pull request is pushed, and one stack's comment never
# replaces another's. Without such a comment, a new one is posted.
set -euo pipefail

usage() { echo "usage: scripts/pr-comment.sh <stack> <summary.md>   (env: GH_TOKEN, GITHUB_REPOSITORY, PR_NUMBER)"; }
case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  -*) echo "pr-comment: unknown option $1" >&2; usage >&2; exit 2 ;;
esac
[ $# -eq 2 ] || { usage >&2; exit 2; }
stack=$1 summary=$2
[[ "$stack" =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "pr-comment: stack: expected a stack name, got \"$stack\"" >&2; exit 2; }
[ -s "$summary" ] || { echo "pr-comment: $summary: no summary to post (missing or empty)" >&2; exit 1; }
for var in GITHUB_REPOSITORY PR_NUMBER; do
  [ -n "${!var:-}" ] || { echo "pr-comment: $var is not set" >&2; exit 2; }
done

marker="<!-- dbstack-preview:$stack -->"
body=$(mktemp)
trap 'rm -f "$body"' EXIT
{ printf '%s\n' "$marker"; cat "$summary"; } > "$body"

# The id of this stack's comment, if there is one (the first, should a person have copied the marker).
id=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" \
  --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n 1)
if [ -n "$id" ]; then
  gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -F "body=@$body" >/dev/null
  echo "pr-comment: updated the $stack preview comment ($id)"
else
  gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$PR_NUMBER/comments" -F "body=@$body" >/dev/null
  echo "pr-comment: posted the $stack preview comment"
fi
