-- Notes belong to a user; deleting the user deletes their notes.
CREATE TABLE notes (
  id bigserial PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  body text NOT NULL
);
CREATE INDEX notes_user_id ON notes(user_id);
