-- The books table (PostgreSQL). Identity values are never reused, so an old
-- ETag or Location never names a different book.
CREATE TABLE IF NOT EXISTS books (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title TEXT NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    author TEXT NOT NULL CHECK (char_length(author) BETWEEN 1 AND 200),
    year BIGINT,
    isbn TEXT UNIQUE,
    version BIGINT NOT NULL DEFAULT 1
);
