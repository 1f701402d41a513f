-- Notes belong to a user; deleting the user deletes their notes (foreign_keys is on).
CREATE TABLE notes (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  body TEXT NOT NULL
);
CREATE INDEX notes_user_id ON notes(user_id);
