//! Rules: GrowthBook-compatible targeting conditions over a context document.
//!
//! Authoring JSON uses GrowthBook's Mongo-style syntax (`$and $or $nor $not`,
//! comparisons, `$in $nin $all $elemMatch $size $exists $type $regex`, versions
//! `$veq…$vlte`, case-insensitive `$ini $nini $alli $regexi`, saved groups
//! `$inGroup $notInGroup`). [`compile`] turns it into a [`Cond`] tree at build time
//! (invalid conditions fail the build with their JSON path); the runtime only evaluates
//! ([`Cond::eval`]) — the wasm never parses JSON.
//!
//! | module | owns |
//! |---|---|
//! | [`value`] | the document type ([`Value`]) and its JSON reader ([`Json`]) |
//! | [`js`] | JavaScript coercions the semantics depend on |
//! | [`regex`] | the one place regular expressions are compiled and matched |
//! | [`condition`] | the compiled, postcard-serializable form |
//! | [`depth`] | the nesting limit when decoding untrusted bytes |
//! | [`eval`] | evaluation |
//! | [`compile`] | JSON → compiled form, with path-carrying errors |
//! | [`plan`] | a bundle's conditions as shared atoms, each evaluated once per request |
//! | [`sieve`] | a slot's candidates ruled out together by an atom known to fail |
//! | [`action`] | rule actions (include, exclude, pin, boost, bury) and their order |
//!
//! ```
//! use slotwise::rules::compile::{compile, Dialect, GroupNames};
//! use slotwise::rules::{Json, SavedGroups};
//!
//! let Json(when) = serde_json::from_str(r#"{"device": "mobile", "app.version": {"$vgte": "2.1.0"}}"#).unwrap();
//! let cond = compile(&when, &GroupNames::default(), Dialect::Strict).unwrap();
//! let bytes = postcard::to_allocvec(&cond).unwrap();          // what a bundle stores
//! let cond: slotwise::rules::Cond = postcard::from_bytes(&bytes).unwrap();
//! let Json(ctx) = serde_json::from_str(r#"{"device": "mobile", "app": {"version": "2.10.0"}}"#).unwrap();
//! assert!(cond.eval(&ctx, &SavedGroups::default()));
//! ```

pub mod action;
pub mod compile;
pub mod condition;
pub mod depth;
pub mod eval;
pub mod js;
pub mod plan;
pub mod regex;
pub mod sieve;
pub mod value;

pub use action::{Action, Rule};
pub use condition::{Cond, JsType, Op, SavedGroups, Scalar, Test, VersionOp};
pub use value::{Json, Value};
