//! The `/books` routes.
//!
//! | request | answers |
//! |---|---|
//! | `GET /books?limit=&after=` | 200 `{"items":[…],"next":"<id>"\|null}` by id; 400 bad parameter |
//! | `GET /books/{id}` | 200 + `ETag`; 404 |
//! | `POST /books` | 201 + `Location` + `ETag`; 409 duplicate isbn |
//! | `PUT /books/{id}` (whole) / `PATCH /books/{id}` (fields given) | 200 + `ETag`; 404; 409; 412 `If-Match` not met |
//!
//! A `PATCH` that changes nothing (`{}`, or the values the book has) writes
//! nothing: 200 with the book and its `ETag` as they were. `GET /books` refuses
//! any parameter but `limit` and `after`, and either given twice (400 naming it).
//! | `DELETE /books/{id}` | 204; 404; 412 |
//!
//! Writes need `Authorization: Bearer <token>` (else 401, checked before the
//! body) and a JSON body (`Content-Type: application/json`, else 415; at most
//! [`MAX_BODY`] bytes, else 413; not JSON: 400; not a valid book: 422). The
//! media type is compared case-insensitively (`application/JSON` is JSON). A
//! database that is not ready, or that fails a call, is 503 with `Retry-After`;
//! one whose file is corrupt (SQLite's "file is not a database" or "malformed",
//! PostgreSQL's `XX001`/`XX002`) is 500 naming it (no retry will help; readiness
//! goes off at the next ping, and then it is the 503 of a database not ready,
//! naming the corruption). Errors are JSON `{"error": "…"}`, 413 included.

// `Result<_, Response>` is the early answer of a handler's checks, returned
// once per request straight to the handler: its size costs a copy, not a box.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Books;
use super::model::{self, BodyError, Book, Precondition};
use super::store::{StoreError, Written};
use crate::json::{error, json};
use crate::state::AppState;

/// Largest request body.
pub const MAX_BODY: usize = 16 * 1024;
/// Tries of a `PATCH` without `If-Match` that keeps losing to concurrent writes.
const PATCH_TRIES: usize = 5;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/books", get(list).post(create))
        .route(
            "/books/{id}",
            get(read).put(replace).patch(patch).delete(remove),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// The books, if configured and ready; else the 503.
fn ready(state: &AppState) -> Result<Arc<Books>, Response> {
    let Some(books) = state.books() else {
        return Err(unavailable(
            "books are not configured on this instance (--books-db)",
        ));
    };
    if !books.is_ready() {
        return Err(unavailable(&format!(
            "the books database is not ready: {}",
            books.why_not_ready()
        )));
    }
    Ok(books)
}

fn unavailable(msg: &str) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, msg);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::Conflict(msg) => error(StatusCode::CONFLICT, &msg),
        StoreError::Corrupt(detail) => {
            tracing::error!(error = %detail, "books: the database file is corrupt");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the books database is corrupt: {detail}"),
            )
        }
        // Readiness is the watch loop's to decide (one slow call under load, e.g. a
        // writer waiting out another's lock, must not take the instance out of rotation).
        StoreError::Unavailable(detail) => {
            tracing::warn!(error = %detail, "books: database call failed");
            unavailable("the books database is unavailable; try again")
        }
    }
}

/// The body, or axum's refusal of it (over [`MAX_BODY`]: 413) as a JSON error.
fn body_of(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Response> {
    body.map_err(|r| {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            error(
                status,
                &format!("the body must be at most {MAX_BODY} bytes"),
            )
        } else {
            error(
                status,
                &format!("the body could not be read: {}", r.body_text()),
            )
        }
    })
}

fn body_error(e: BodyError) -> Response {
    let status = match e {
        BodyError::Syntax(_) => StatusCode::BAD_REQUEST,
        BodyError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    error(status, &e.to_string())
}

/// The checks every write makes before reading its body: token, then content type.
fn writable(books: &Books, headers: &HeaderMap, with_body: bool) -> Result<(), Response> {
    let given = model::bearer(
        headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    );
    let ok = match (given, books.token()) {
        (Some(g), Some(t)) => model::token_matches(g, t),
        _ => false,
    };
    if !ok {
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            "writes need Authorization: Bearer <token>",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"books\""),
        );
        return Err(r);
    }
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if with_body && !json_type {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be Content-Type: application/json",
        ));
    }
    Ok(())
}

fn precondition(headers: &HeaderMap) -> Result<Precondition, Response> {
    let h = match headers.get(header::IF_MATCH).map(HeaderValue::to_str) {
        None => None,
        Some(Ok(h)) => Some(h),
        Some(Err(_)) => return Err(error(StatusCode::BAD_REQUEST, "If-Match: not ASCII")),
    };
    Precondition::parse(h).map_err(|e| error(StatusCode::BAD_REQUEST, &e))
}

fn id_of(raw: &str) -> Result<i64, Response> {
    model::parse_id(raw).ok_or_else(|| error(StatusCode::NOT_FOUND, "no such book"))
}

/// A book with its `ETag` (and `Location`, when created).
fn book_response(status: StatusCode, book: &Book) -> Response {
    let mut r = json(status, book);
    let headers = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&book.etag()) {
        headers.insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&format!("/books/{}", book.id))
    {
        headers.insert(header::LOCATION, v);
    }
    r
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such book")
}

fn stale() -> Response {
    error(
        StatusCode::PRECONDITION_FAILED,
        "If-Match: the book has changed (GET it for its current ETag)",
    )
}

async fn list(State(state): State<AppState>, uri: Uri) -> Response {
    let books = match ready(&state) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (limit, after) = match model::parse_page(uri.query()) {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    match books.store().list(after, limit + 1).await {
        Ok(mut items) => {
            let next = (items.len() as i64 > limit).then(|| {
                items.truncate(limit as usize);
                items.last().map(|b| b.id.to_string())
            });
            json(
                StatusCode::OK,
                &serde_json::json!({ "items": items, "next": next.flatten() }),
            )
        }
        Err(e) => store_error(e),
    }
}

async fn read(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let books = match ready(&state) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = match id_of(&id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    match books.store().get(id).await {
        Ok(Some(book)) => book_response(StatusCode::OK, &book),
        Ok(None) => not_found(),
        Err(e) => store_error(e),
    }
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let books = match ready(&state).and_then(|b| writable(&b, &headers, true).map(|()| b)) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let body = match body_of(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let fields = match model::parse_full(&body) {
        Ok(f) => f,
        Err(e) => return body_error(e),
    };
    match books.store().insert(&fields).await {
        Ok(book) => book_response(StatusCode::CREATED, &book),
        Err(e) => store_error(e),
    }
}

async fn replace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (books, id, pre, body) = match prepare_write(&state, &id, &headers, body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let fields = match model::parse_full(&body) {
        Ok(f) => f,
        Err(e) => return body_error(e),
    };
    match books.store().update(id, &fields, &pre).await {
        Ok(Written::Done(version)) => book_response(
            StatusCode::OK,
            &Book {
                id,
                fields,
                version,
            },
        ),
        Ok(Written::Missing) => not_found(),
        Ok(Written::Stale) => stale(),
        Err(e) => store_error(e),
    }
}

async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (books, id, pre, body) = match prepare_write(&state, &id, &headers, body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    // Refuse a bad body before touching the database.
    let blank = model::Fields {
        title: "-".into(),
        author: "-".into(),
        year: None,
        isbn: None,
    };
    if let Err(e) = model::apply_patch(&blank, &body) {
        return body_error(e);
    }
    for _ in 0..PATCH_TRIES {
        let current = match books.store().get(id).await {
            Ok(Some(b)) => b,
            Ok(None) => return not_found(),
            Err(e) => return store_error(e),
        };
        if !pre.allows(current.version) {
            return stale();
        }
        let fields = match model::apply_patch(&current.fields, &body) {
            Ok(f) => f,
            Err(e) => return body_error(e),
        };
        // Nothing changes (`{}`, or the values it has): no write, the same ETag.
        if fields == current.fields {
            return book_response(StatusCode::OK, &current);
        }
        // Written only over the version just read: no lost update.
        let only = Precondition::Versions(vec![current.version]);
        match books.store().update(id, &fields, &only).await {
            Ok(Written::Done(version)) => {
                return book_response(
                    StatusCode::OK,
                    &Book {
                        id,
                        fields,
                        version,
                    },
                );
            }
            Ok(Written::Missing) => return not_found(),
            // The version If-Match named is gone; without If-Match, merge again.
            Ok(Written::Stale) if pre != Precondition::None => return stale(),
            Ok(Written::Stale) => {}
            Err(e) => return store_error(e),
        }
    }
    error(
        StatusCode::CONFLICT,
        "the book kept changing under this PATCH; try again",
    )
}

async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (books, id, pre) = match prepare(&state, &id, &headers, false) {
        Ok(p) => p,
        Err(r) => return r,
    };
    match books.store().delete(id, &pre).await {
        Ok(Written::Done(_)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Written::Missing) => not_found(),
        Ok(Written::Stale) => stale(),
        Err(e) => store_error(e),
    }
}

/// A write to `/books/{id}`: ready, allowed, an id and its precondition.
/// [`prepare`] for a write with a body (PUT, PATCH), then the body read within its bound.
fn prepare_write(
    state: &AppState,
    raw_id: &str,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Arc<Books>, i64, Precondition, Bytes), Response> {
    let (books, id, pre) = prepare(state, raw_id, headers, true)?;
    Ok((books, id, pre, body_of(body)?))
}

fn prepare(
    state: &AppState,
    raw_id: &str,
    headers: &HeaderMap,
    with_body: bool,
) -> Result<(Arc<Books>, i64, Precondition), Response> {
    let books = ready(state)?;
    writable(&books, headers, with_body)?;
    let id = id_of(raw_id)?;
    let pre = precondition(headers)?;
    Ok((books, id, pre))
}
