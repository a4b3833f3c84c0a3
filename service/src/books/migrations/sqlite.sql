-- The books table (SQLite). AUTOINCREMENT: an id is never reused, so an old
-- ETag or Location never names a different book.
CREATE TABLE IF NOT EXISTS books (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    author TEXT NOT NULL CHECK (length(author) BETWEEN 1 AND 200),
    year INTEGER,
    isbn TEXT UNIQUE,
    version INTEGER NOT NULL DEFAULT 1
);
