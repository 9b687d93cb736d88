//! `template.yaml` declares the same table key as `neptun table create`.

use neptun_users::store::dynamodb::KEY_ATTRIBUTE;

/// The `key: value` lines of the `UsersTable` resource, in order.
fn users_table_lines() -> Vec<(String, String)> {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    template
        .lines()
        .skip_while(|line| line.trim() != "UsersTable:")
        .skip(1)
        .take_while(|line| line.starts_with("    ") || line.trim().is_empty())
        .filter_map(|line| {
            let line = line.trim().trim_start_matches("- ");
            let (key, value) = line.split_once(':')?;
            Some((key.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

#[test]
fn the_template_declares_the_key_that_table_create_uses() {
    let lines = users_table_lines();
    let pairs: Vec<(&str, &str)> = lines
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let windows = |expected: &[(&str, &str)]| pairs.windows(expected.len()).any(|w| w == expected);
    assert!(
        windows(&[("AttributeName", KEY_ATTRIBUTE), ("AttributeType", "S")]),
        "{pairs:?}"
    );
    assert!(
        windows(&[("AttributeName", KEY_ATTRIBUTE), ("KeyType", "HASH")]),
        "{pairs:?}"
    );
    assert_eq!(
        pairs.iter().filter(|(k, _)| *k == "AttributeName").count(),
        2,
        "one attribute, one key"
    );
    assert!(pairs.contains(&("BillingMode", "PAY_PER_REQUEST")));
}
