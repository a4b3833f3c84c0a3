//! Changes to a validated [`Config`]: a changed config is a new one, made by one of these few
//! methods, each either unable to break what validation checks or checking it again (with
//! validation's own error). There is no other way to change a part after validation: the
//! parts' fields are private. Tests build the configs they need from TOML instead
//! ([`Config::from_toml`]), through the real parser.
//!
//! - [`Config::with_desired_capacity`]: `simulate` without a file keeps the defaults'
//!   desired capacity only where the flags' sizes allow it; checked again.
//! - [`Config::without_desired_capacity`]: `up` restarting its daemon (SIGUSR1) keeps the
//!   group's capacity; always valid.
//! - [`Config::load_report_key`]: reads the key `[reports]` names (`run`, `up`, a reload).
//! - [`Config::with_report_key`]: the key `up` makes when none is configured (and tests'
//!   keys); a `ReportKey` is checked when it is made.

use proto::sign::ReportKey;

use super::{Config, ConfigError};

impl Config {
    /// The same config with `group.desired_capacity` set, checked as validation checks it
    /// (inside `[group.min_size, group.max_size]`, the same error).
    pub fn with_desired_capacity(self, desired: u32) -> Result<Config, ConfigError> {
        let group = self.group.with_desired_capacity(desired)?;
        Ok(Config { group, ..self })
    }

    /// The same config without a start-up desired capacity: the group's current one is
    /// kept (a restarted controller). Cannot fail: no desired capacity is always valid.
    pub fn without_desired_capacity(self) -> Config {
        Config {
            group: self.group.without_desired_capacity(),
            ..self
        }
    }

    /// The same config with the report key read from `reports.key_file` or
    /// `reports.key_env` (neither set: unchanged). Errors name the field.
    pub fn load_report_key(mut self) -> Result<Config, ConfigError> {
        self.reports.load_key()?;
        Ok(self)
    }

    /// The same config holding `key` as its report key (one `controller up` made, or a
    /// test's). Cannot fail: a [`ReportKey`] is checked when it is made.
    pub fn with_report_key(mut self, key: ReportKey) -> Config {
        self.reports.key = Some(key);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::super::Overrides;
    use super::*;

    const GROUP: &str = "[group]\nmin_size = 2\nmax_size = 4\n";

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(text, "test.toml", &Overrides::default())
    }

    fn with_desired(d: u32) -> String {
        format!("{GROUP}desired_capacity = {d}\n")
    }

    #[test]
    fn a_desired_capacity_is_the_one_the_file_would_give() {
        for d in [2, 3, 4] {
            let changed = parse(GROUP).unwrap().with_desired_capacity(d).unwrap();
            assert_eq!(changed, parse(&with_desired(d)).unwrap(), "desired {d}");
            assert_eq!(changed.group().desired_capacity(), Some(d));
        }
    }

    #[test]
    fn a_desired_capacity_validation_refuses_is_refused_with_its_error() {
        for d in [0, 1, 5, u32::MAX] {
            let refused = parse(GROUP).unwrap().with_desired_capacity(d).unwrap_err();
            let by_file = parse(&with_desired(d)).unwrap_err();
            assert_eq!(refused.field(), Some("group.desired_capacity"), "{refused}");
            assert_eq!(refused.field(), by_file.field());
            assert_eq!(refused.to_string(), by_file.to_string());
        }
        assert_eq!(
            parse(GROUP)
                .unwrap()
                .with_desired_capacity(5)
                .unwrap_err()
                .to_string(),
            "group.desired_capacity: 5 is outside [group.min_size, group.max_size] = [2, 4]"
        );
    }

    #[test]
    fn without_a_desired_capacity_is_the_file_without_one() {
        let c = parse(&with_desired(3)).unwrap().without_desired_capacity();
        assert_eq!(c.group().desired_capacity(), None);
        assert_eq!(c, parse(GROUP).unwrap());
    }

    #[test]
    fn a_report_key_changes_the_key_and_nothing_else() {
        let key = ReportKey::from_text(&"k".repeat(40)).unwrap();
        let c = parse(GROUP).unwrap();
        assert_eq!(c.reports().key(), None);
        let keyed = c.clone().with_report_key(key.clone());
        assert_eq!(keyed.reports().key(), Some(&key));
        assert_ne!(keyed, c);
        assert_eq!(keyed.reports().key_file(), None);
        assert_eq!(
            (keyed.group(), keyed.tick(), keyed.api(), keyed.history()),
            (c.group(), c.tick(), c.api(), c.history())
        );
        // The same key read from the file `[reports]` names: the same config.
        let dir = std::env::temp_dir().join(format!("hf-change-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k");
        std::fs::write(&path, format!("{}\n", "k".repeat(40))).unwrap();
        let named = parse(&format!(
            "{GROUP}[reports]\nkey_file = {:?}\n",
            path.display().to_string()
        ))
        .unwrap();
        let loaded = named.clone().load_report_key().unwrap();
        assert_eq!(loaded.reports().key(), Some(&key));
        assert_eq!(loaded, named.with_report_key(key));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_key_that_cannot_be_read_is_refused_naming_its_field() {
        // A variable nobody sets (the tests never set one: that is not thread-safe).
        let var = format!("HF_CHANGE_TEST_ABSENT_{}", std::process::id());
        let named = parse(&format!("{GROUP}[reports]\nkey_env = {var:?}\n")).unwrap();
        let e = named.load_report_key().unwrap_err();
        assert_eq!(e.field(), Some("reports.key_env"), "{e}");
        assert!(
            e.to_string().starts_with("reports.key_env: $HF_CHANGE"),
            "{e}"
        );
        // Neither key_file nor key_env: nothing to read, nothing changes.
        let plain = parse(GROUP).unwrap();
        assert_eq!(plain.clone().load_report_key().unwrap(), plain);
    }
}
