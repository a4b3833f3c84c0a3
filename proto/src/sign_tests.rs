use super::*;

fn key(c: u8) -> ReportKey {
    ReportKey::new(vec![c; 32]).unwrap()
}

const BODY: &[u8] = br#"{"instance_id":"i-1","seq":1}"#;
const NOW: u64 = 1_763_790_000_000;
const WINDOW: u64 = 30_000;

#[test]
fn a_signature_verifies_with_the_same_key_body_and_time() {
    let h = sign(&key(1), NOW, BODY);
    assert!(h.starts_with(&format!("t={NOW},v1=")), "{h}");
    assert_eq!(h.len(), format!("t={NOW},v1=").len() + 64);
    let v = verify(&key(1), Some(h.as_bytes()), BODY, NOW + 500, WINDOW).unwrap();
    assert_eq!(v.t_ms, NOW);
}

#[test]
fn rfc4231_test_case_2_matches() {
    // HMAC-SHA256("Jefe", "what do ya want for nothing?"), with our "t." prefix folded in:
    // the key is too short for ReportKey, so check the primitive through mac() directly.
    let k = ReportKey(b"Jefe".to_vec());
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(&k.0).unwrap();
    m.update(b"what do ya want for nothing?");
    let hex: String = m
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn wrong_key_changed_body_or_changed_time_is_a_mismatch() {
    let h = sign(&key(1), NOW, BODY);
    let check = |k: &ReportKey, header: &str, body: &[u8]| {
        verify(k, Some(header.as_bytes()), body, NOW, WINDOW)
    };
    assert_eq!(check(&key(2), &h, BODY), Err(SignatureError::Mismatch));
    assert_eq!(
        check(&key(1), &h, br#"{"instance_id":"i-1","seq":2}"#),
        Err(SignatureError::Mismatch)
    );
    let moved = h.replacen(&NOW.to_string(), &(NOW + 1).to_string(), 1);
    assert_eq!(check(&key(1), &moved, BODY), Err(SignatureError::Mismatch));
    // Upper-case hex is the same MAC.
    let upper = format!(
        "t={NOW},v1={}",
        h.split("v1=").nth(1).unwrap().to_uppercase()
    );
    assert!(check(&key(1), &upper, BODY).is_ok());
}

#[test]
fn missing_or_malformed_headers_are_refused_as_such() {
    assert_eq!(
        verify(&key(1), None, BODY, NOW, WINDOW),
        Err(SignatureError::Missing)
    );
    let good = sign(&key(1), NOW, BODY);
    let hex = good.split("v1=").nth(1).unwrap().to_owned();
    for bad in [
        String::new(),
        "garbage".into(),
        format!("v1={hex},t={NOW}"),
        format!("t=,v1={hex}"),
        format!("t=-5,v1={hex}"),
        format!("t={NOW},v1={}", &hex[..62]),
        format!("t={NOW},v1={hex}00"),
        format!("t={NOW},v1={}zz", &hex[..62]),
        format!("t=99999999999999999999999,v1={hex}"),
        format!("t={NOW},v2={hex}"),
    ] {
        assert_eq!(
            verify(&key(1), Some(bad.as_bytes()), BODY, NOW, WINDOW),
            Err(SignatureError::Malformed),
            "{bad:?}"
        );
    }
    assert_eq!(
        verify(&key(1), Some(&[0xff, 0xfe]), BODY, NOW, WINDOW),
        Err(SignatureError::Malformed)
    );
}

#[test]
fn a_signature_outside_the_window_is_stale_either_way() {
    let k = key(1);
    let at = |t: u64, now: u64| verify(&k, Some(sign(&k, t, BODY).as_bytes()), BODY, now, WINDOW);
    assert!(at(NOW, NOW + WINDOW).is_ok());
    assert!(at(NOW + WINDOW, NOW).is_ok());
    assert_eq!(
        at(NOW, NOW + WINDOW + 1),
        Err(SignatureError::Stale(-30_001))
    );
    assert_eq!(at(NOW + 40_000, NOW), Err(SignatureError::Stale(40_000)));
    assert!(matches!(
        at(u64::MAX, 0),
        Err(SignatureError::Stale(i64::MAX))
    ));
}

#[test]
fn keys_shorter_than_32_bytes_are_refused_and_text_keys_are_trimmed() {
    assert_eq!(ReportKey::new(vec![0; 31]), Err(KeyError::TooShort(31)));
    let text = "0123456789abcdef0123456789abcdef\n";
    assert_eq!(
        ReportKey::from_text(text).unwrap(),
        ReportKey::new(text.trim().as_bytes()).unwrap()
    );
    assert!(!format!("{:?}", key(7)).contains('7'));
}
