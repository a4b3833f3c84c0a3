//! A books user's sequence: create a record (`POST /books`, bearer token), read it back
//! (`GET /books/{id}`), update it (`PATCH /books/{id}` with `If-Match`), then create the
//! next one. One request per call, each recorded under its route's name (so the report
//! groups by route, not by id). Pure: [`Books::next`] plans a request, [`Books::observe`]
//! checks its response (untrusted: the id must look like an id) and moves on.

/// The request names in the reports.
pub const CREATE: &str = "/books";
pub const READ: &str = "/books/{id}";
pub const UPDATE: &str = "/books/{id}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Create,
    Read,
    Update,
}

/// One request of the sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub step: Step,
    pub method: &'static str,
    /// The route, for the reports: `POST /books`, `GET /books/{id}`, `PATCH /books/{id}`.
    pub name: &'static str,
    pub path: String,
    pub body: Option<Vec<u8>>,
    pub if_match: Option<String>,
    /// Needs `Authorization: Bearer <token>`.
    pub write: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    id: String,
    etag: Option<String>,
}

/// One user's books and where it is in the sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Books {
    created: u64,
    record: Option<Record>,
    next: Step,
}

impl Default for Books {
    fn default() -> Self {
        Books {
            created: 0,
            record: None,
            next: Step::Create,
        }
    }
}

/// The id in a `Location` (`/books/{id}`, relative or absolute), if it looks like one.
pub fn id_from_location(location: &str) -> Option<&str> {
    let (_, id) = location.rsplit_once("/books/")?;
    let ok = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    ok.then_some(id)
}

fn json(title: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "title": title,
        "author": "hellofleet loadgen",
    }))
    .expect("a JSON object")
}

impl Books {
    /// The step the next call makes.
    pub fn step(&self) -> Step {
        self.next
    }

    /// Plans the next request; `who` names the user in the titles it writes.
    pub fn next(&self, who: &str) -> Planned {
        match (&self.record, self.next) {
            (Some(r), Step::Read) => Planned {
                step: Step::Read,
                method: "GET",
                name: READ,
                path: format!("/books/{}", r.id),
                body: None,
                if_match: None,
                write: false,
            },
            (
                Some(Record {
                    id,
                    etag: Some(etag),
                }),
                Step::Update,
            ) => Planned {
                step: Step::Update,
                method: "PATCH",
                name: UPDATE,
                path: format!("/books/{id}"),
                body: Some(
                    serde_json::to_vec(&serde_json::json!({
                        "title": format!("{who} #{} (edited)", self.created),
                    }))
                    .expect("a JSON object"),
                ),
                if_match: Some(etag.clone()),
                write: true,
            },
            // Without a record (or its ETag, which an update needs): read or create.
            (Some(r), Step::Update) => Planned {
                step: Step::Read,
                method: "GET",
                name: READ,
                path: format!("/books/{}", r.id),
                body: None,
                if_match: None,
                write: false,
            },
            _ => Planned {
                step: Step::Create,
                method: "POST",
                name: CREATE,
                path: "/books".into(),
                body: Some(json(&format!("{who} #{}", self.created + 1))),
                if_match: None,
                write: true,
            },
        }
    }

    /// Takes the response to `planned` (`None`: no response at all) and moves on. `Err` says
    /// why it is not the success the contract promises.
    pub fn observe(
        &mut self,
        planned: &Planned,
        response: Option<&crate::client::Response>,
    ) -> Result<(), String> {
        let Some(r) = response else {
            return Err("no response".into());
        };
        match (planned.step, r.status) {
            (Step::Create, 201) => {
                let id = r
                    .location
                    .as_deref()
                    .and_then(id_from_location)
                    .ok_or_else(|| {
                        format!("201 without a Location /books/{{id}}: {:?}", r.location)
                    })?;
                self.created += 1;
                self.record = Some(Record {
                    id: id.to_string(),
                    etag: r.etag.clone(),
                });
                self.next = Step::Read;
                Ok(())
            }
            (Step::Read, 200) | (Step::Update, 200) => {
                let record = self.record.as_mut().ok_or("no record")?;
                record.etag = r.etag.clone();
                let Some(_) = &record.etag else {
                    self.next = Step::Read;
                    return Err(format!("{} without an ETag", r.status));
                };
                self.next = if planned.step == Step::Read {
                    Step::Update
                } else {
                    Step::Create
                };
                Ok(())
            }
            (Step::Read | Step::Update, 404) => {
                self.record = None;
                self.next = Step::Create;
                Err("404: the record is gone".into())
            }
            (Step::Update, 412) => {
                self.next = Step::Read;
                Err("412: stale ETag".into())
            }
            (_, status) => Err(format!("unexpected status {status}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Response;

    fn resp(status: u16, location: Option<&str>, etag: Option<&str>) -> Response {
        Response {
            status,
            location: location.map(str::to_string),
            etag: etag.map(str::to_string),
            ..Response::default()
        }
    }

    #[test]
    fn create_read_update_then_create_again() {
        let mut b = Books::default();
        let p = b.next("u1");
        assert_eq!(
            (p.method, p.name, p.path.as_str()),
            ("POST", CREATE, "/books")
        );
        assert!(p.write);
        let body: serde_json::Value = serde_json::from_slice(p.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["title"], "u1 #1");
        b.observe(&p, Some(&resp(201, Some("/books/42"), Some("\"e1\""))))
            .unwrap();

        let p = b.next("u1");
        assert_eq!(
            (p.method, p.name, p.path.as_str()),
            ("GET", READ, "/books/42")
        );
        assert!(!p.write);
        b.observe(&p, Some(&resp(200, None, Some("\"e2\""))))
            .unwrap();

        let p = b.next("u1");
        assert_eq!((p.method, p.path.as_str()), ("PATCH", "/books/42"));
        assert_eq!(p.if_match.as_deref(), Some("\"e2\""), "the ETag just read");
        b.observe(&p, Some(&resp(200, None, Some("\"e3\""))))
            .unwrap();

        let p = b.next("u1");
        assert_eq!(p.method, "POST", "then the next record");
        let body: serde_json::Value = serde_json::from_slice(p.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["title"], "u1 #2");
    }

    #[test]
    fn failures_are_errors_and_the_sequence_recovers() {
        let mut b = Books::default();
        let p = b.next("u");
        assert!(b.observe(&p, None).is_err());
        assert_eq!(b.step(), Step::Create, "no response: try again");
        for bad in [
            Some("/books/"),
            Some("/books/../admin"),
            Some("/other/1"),
            None,
        ] {
            let e = b.observe(&p, Some(&resp(201, bad, None))).unwrap_err();
            assert!(e.contains("Location"), "{bad:?}: {e}");
        }
        let e = b.observe(&p, Some(&resp(401, None, None))).unwrap_err();
        assert!(e.contains("401"));
        b.observe(&p, Some(&resp(201, Some("http://h:8/books/a-1"), None)))
            .unwrap();
        // No ETag from the create: read before any update.
        let p = b.next("u");
        assert_eq!(p.path, "/books/a-1");
        b.observe(&p, Some(&resp(200, None, Some("W/\"1\""))))
            .unwrap();
        let p = b.next("u");
        let e = b.observe(&p, Some(&resp(412, None, None))).unwrap_err();
        assert!(e.contains("412"), "{e}");
        assert_eq!(b.next("u").method, "GET", "a stale ETag is read again");
        let p = b.next("u");
        let e = b.observe(&p, Some(&resp(404, None, None))).unwrap_err();
        assert!(e.contains("404"));
        assert_eq!(b.next("u").method, "POST", "a vanished record is replaced");
    }
}
