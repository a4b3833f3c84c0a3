use super::*;

fn fields(title: &str, author: &str) -> Fields {
    Fields {
        title: title.into(),
        author: author.into(),
        year: None,
        isbn: None,
    }
}

fn check_full(body: &str, expected: Result<Fields, &str>) {
    let got = parse_full(body.as_bytes()).map_err(|e| e.to_string());
    match (&got, &expected) {
        (Ok(g), Ok(e)) => assert_eq!(g, e, "{body}"),
        (Err(g), Err(e)) => assert!(g.contains(e), "{body}: {g:?} lacks {e:?}"),
        _ => panic!("{body}: got {got:?}, expected {expected:?}"),
    }
}

#[test]
fn whole_books_are_validated() {
    check_full(
        r#"{"title":" Dom Casmurro ","author":"Machado"}"#,
        Ok(fields("Dom Casmurro", "Machado")),
    );
    let mut full = fields("T", "A");
    full.year = Some(1899);
    full.isbn = Some("978857326981X".replace('X', "1"));
    check_full(
        r#"{"title":"T","author":"A","year":1899,"isbn":"978-85-7326-981-1"}"#,
        Ok(full),
    );
    let mut ten = fields("T", "A");
    ten.isbn = Some("080442957X".into());
    check_full(
        r#"{"title":"T","author":"A","isbn":"0-8044-2957-x","year":null}"#,
        Ok(ten),
    );
    check_full(r#"{"author":"A"}"#, Err("title: required"));
    check_full(r#"{"title":"T"}"#, Err("author: required"));
    check_full(
        r#"{"title":"  ","author":"A"}"#,
        Err("title: must not be empty"),
    );
    check_full(
        r#"{"title":5,"author":"A"}"#,
        Err("title: must be a string"),
    );
    check_full(
        r#"{"title":null,"author":"A"}"#,
        Err("title: must be a string"),
    );
    let long = "x".repeat(MAX_TEXT + 1);
    check_full(
        &format!(r#"{{"title":"{long}","author":"A"}}"#),
        Err("title: longer than 200"),
    );
    let at_max = "é".repeat(MAX_TEXT);
    check_full(
        &format!(r#"{{"title":"{at_max}","author":"A"}}"#),
        Ok(fields(&at_max, "A")),
    );
    check_full(
        r#"{"title":"a\u0000b","author":"A"}"#,
        Err("control character"),
    );
    check_full(
        r#"{"title":"T","author":"A","price":3}"#,
        Err("unknown field \"price\""),
    );
    check_full(
        r#"{"title":"T","author":"A","year":1.5}"#,
        Err("year: must be an integer"),
    );
    check_full(
        r#"{"title":"T","author":"A","year":"1999"}"#,
        Err("year: must be an integer"),
    );
    check_full(
        r#"{"title":"T","author":"A","year":99999}"#,
        Err("year: must be an integer"),
    );
    check_full(
        r#"{"title":"T","author":"A","isbn":"123"}"#,
        Err("isbn: must be 10 or 13"),
    );
    check_full(
        r#"{"title":"T","author":"A","isbn":"97885732698X1"}"#,
        Err("isbn"),
    );
    check_full(r#"[1,2]"#, Err("must be a JSON object"));
    assert!(matches!(
        parse_full(b"{\"title\":"),
        Err(BodyError::Syntax(_))
    ));
    assert!(matches!(parse_full(b""), Err(BodyError::Syntax(_))));
    assert!(matches!(parse_full(b"{}"), Err(BodyError::Invalid(_))));
}

#[test]
fn patches_replace_only_what_they_name() {
    let mut current = fields("T", "A");
    current.year = Some(2000);
    current.isbn = Some("0804429570".into());
    let p = |body: &str| apply_patch(&current, body.as_bytes()).map_err(|e| e.to_string());
    assert_eq!(p("{}").unwrap(), current);
    let got = p(r#"{"title":"New"}"#).unwrap();
    assert_eq!(
        (got.title.as_str(), got.author.as_str(), got.year),
        ("New", "A", Some(2000))
    );
    let got = p(r#"{"year":null,"isbn":null}"#).unwrap();
    assert_eq!((got.year, got.isbn), (None, None));
    assert!(
        p(r#"{"title":null}"#)
            .unwrap_err()
            .contains("title: must be a string")
    );
    assert!(
        p(r#"{"author":""}"#)
            .unwrap_err()
            .contains("author: must not be empty")
    );
    assert!(p(r#"{"id":3}"#).unwrap_err().contains("unknown field"));
}

#[test]
fn if_match() {
    use Precondition as P;
    assert_eq!(P::parse(None), Ok(P::None));
    assert_eq!(P::parse(Some("*")), Ok(P::Exists));
    assert_eq!(P::parse(Some("\"v3\"")), Ok(P::Versions(vec![3])));
    assert_eq!(
        P::parse(Some("\"v3\", \"v5\"")),
        Ok(P::Versions(vec![3, 5]))
    );
    // Weak tags and tags not ours never match.
    assert_eq!(P::parse(Some("W/\"v3\"")), Ok(P::Versions(vec![])));
    assert_eq!(P::parse(Some("\"abc\"")), Ok(P::Versions(vec![])));
    assert!(P::parse(Some(" , ")).is_err());
    assert!(P::parse(Some(&vec!["\"v1\""; MAX_TAGS + 1].join(","))).is_err());
    assert!(P::Versions(vec![3]).allows(3));
    assert!(!P::Versions(vec![3]).allows(4));
    assert!(!P::Versions(vec![]).allows(1));
    assert!(P::None.allows(9) && P::Exists.allows(9));
    assert_eq!(etag(7), "\"v7\"");
}

#[test]
fn pages_and_ids() {
    assert_eq!(parse_page(None), Ok((DEFAULT_LIMIT, 0)));
    assert_eq!(parse_page(Some("limit=5&after=40")), Ok((5, 40)));
    assert_eq!(parse_page(Some("limit=100&after=0")), Ok((100, 0)));
    // Unknown or repeated parameters are refused, naming them.
    let e = parse_page(Some("limit=100&offset=5")).unwrap_err();
    assert!(e.starts_with("offset: unknown parameter"), "{e}");
    let e = parse_page(Some("limit=5&limit=6")).unwrap_err();
    assert!(e.starts_with("limit: given more than once"), "{e}");
    let e = parse_page(Some("after=1&after=2")).unwrap_err();
    assert!(e.starts_with("after: given more than once"), "{e}");
    assert!(parse_page(Some("limit=0")).is_err());
    assert!(parse_page(Some("limit=101")).is_err());
    assert!(parse_page(Some("limit=a")).is_err());
    assert!(parse_page(Some("after=-1")).is_err());
    assert!(parse_page(Some("after=")).is_err());
    assert_eq!(parse_id("12"), Some(12));
    for bad in ["", "0", "-1", "1.0", "x", "+1", "99999999999999999999"] {
        assert_eq!(parse_id(bad), None, "{bad}");
    }
}

#[test]
fn bearer_tokens() {
    use sha2::Digest;
    let token: [u8; 32] = sha2::Sha256::digest(b"s3cret").into();
    assert_eq!(bearer(Some(b"Bearer s3cret")), Some(&b"s3cret"[..]));
    assert_eq!(bearer(Some(b"bearer  s3cret ")), Some(&b"s3cret"[..]));
    assert_eq!(bearer(Some(b"Basic czNjcmV0")), None);
    assert_eq!(bearer(Some(b"Bear")), None);
    assert_eq!(bearer(None), None);
    assert!(token_matches(b"s3cret", &token));
    assert!(!token_matches(b"s3cre", &token));
    assert!(!token_matches(b"s3cret2", &token));
    assert!(!token_matches(b"", &token));
}
