//! The authoring compiler against the committed fixture and against broken inputs.

use std::path::{Path, PathBuf};

use slotwise_origin::authoring::{BuildOptions, build_dir};

const FIXTURE_CREATED_AT: u64 = 1_700_000_000;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// The committed `shop.swb` is exactly what the authoring JSON compiles to, so every
/// runtime's tests (Node, browser, workerd) run against bytes we can rebuild.
#[test]
fn committed_fixture_matches_its_authoring_json() {
    let built = build_dir(
        &fixtures().join("shop"),
        &BuildOptions {
            created_at: FIXTURE_CREATED_AT,
        },
    )
    .unwrap();
    let committed = std::fs::read(fixtures().join("shop.swb")).unwrap();
    assert_eq!(
        slotwise::bundle::encode(&built),
        committed,
        "tests/fixtures/shop.swb is stale: run `cargo run -p slotwise-origin -- bundle build \
         tests/fixtures/shop -o tests/fixtures/shop.swb --created-at {FIXTURE_CREATED_AT}`"
    );
    let decoded = slotwise::bundle::decode(&committed).unwrap();
    assert_eq!(decoded.slots.len(), 3);
    assert_eq!(decoded.header.site, "shop.example");
}

#[test]
fn same_input_same_bundle_id() {
    let opts = BuildOptions { created_at: 5 };
    let a = build_dir(&fixtures().join("shop"), &opts).unwrap();
    let b = build_dir(&fixtures().join("shop"), &opts).unwrap();
    assert_eq!(a.header.id, b.header.id);
    assert_eq!(a.header.id.len(), 16);
}

/// Copies the fixture into a temp dir, replaces one file, and returns the build error.
fn build_with(file: &str, json: &str) -> String {
    let dir = std::env::temp_dir().join(format!(
        "slotwise-authoring-{}-{}",
        std::process::id(),
        file.replace('.', "-") + &json.len().to_string()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["bundle.json", "content.json", "items.json", "slots.json"] {
        std::fs::copy(fixtures().join("shop").join(name), dir.join(name)).unwrap();
    }
    std::fs::write(dir.join(file), json).unwrap();
    let result = build_dir(&dir, &BuildOptions::default());
    let _ = std::fs::remove_dir_all(&dir);
    result.unwrap_err().to_string()
}

#[test]
fn unknown_field_names_file_and_path() {
    let e = build_with(
        "slots.json",
        r#"[{ "name": "hero", "default": "hero-default", "colour": "red" }]"#,
    );
    assert!(
        e.starts_with("slots.json: [0].colour: unknown field `colour`"),
        "{e}"
    );
}

#[test]
fn duplicate_ids_are_rejected() {
    let e = build_with(
        "items.json",
        r#"[{ "id": "sku-bag-1", "category": "bags" }, { "id": "sku-bag-1", "category": "bags" }]"#,
    );
    assert_eq!(e, r#"items.json: [1]: duplicate item id "sku-bag-1""#);
}

#[test]
fn slot_without_default_is_rejected() {
    let e = build_with("slots.json", r#"[{ "name": "hero" }]"#);
    assert!(
        e.starts_with("slots.json: [0]: missing field `default`"),
        "{e}"
    );
    let e = build_with("slots.json", r#"[{ "name": "hero", "default": "" }]"#);
    assert_eq!(
        e,
        "slots.json: [0].default: every slot needs default content"
    );
}

#[test]
fn dangling_references_name_the_path() {
    let e = build_with(
        "slots.json",
        r#"[{ "name": "hero", "default": "hero-default", "candidates": ["sku-bag-1", "nope"] }]"#,
    );
    assert_eq!(
        e,
        r#"slots.json: [0].candidates[1]: no item with id "nope""#
    );
    let e = build_with(
        "items.json",
        r#"[{ "id": "sku-x", "category": "bags", "content": "missing" }]"#,
    );
    assert_eq!(
        e,
        r#"items.json: [0].content: no content with id "missing""#
    );
}

#[test]
fn wrong_types_and_bad_json_are_errors() {
    let e = build_with("content.json", r#"[{ "id": "a", "price": "cheap" }]"#);
    assert!(
        e.starts_with("content.json: [0].price: invalid type"),
        "{e}"
    );
    let e = build_with("bundle.json", "{ not json");
    assert!(e.starts_with("bundle.json: "), "{e}");
}
