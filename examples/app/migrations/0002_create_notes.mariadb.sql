-- Notes belong to a user; deleting the user deletes their notes (MariaDB).
CREATE TABLE notes (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  user_id BIGINT NOT NULL,
  body TEXT NOT NULL,
  INDEX notes_user_id (user_id),
  FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
);
