//! Authoring JSON (GrowthBook's condition syntax) → compiled [`Cond`].
//!
//! Runs at build time (CLI, origin, tests), never in the wasm runtime: it may format
//! messages freely. Two dialects:
//!
//! - [`Dialect::Strict`] (authoring): anything GrowthBook would silently evaluate to a
//!   constant because it is malformed — an unknown operator, an invalid regex, `$in`
//!   without an array, an unknown saved group, an unknown `$type` — is a build error
//!   naming the JSON path, so it never reaches a visitor.
//! - [`Dialect::GrowthBook`]: accepts what GrowthBook's SDK accepts and folds the
//!   malformed parts to the constant GrowthBook would compute (for importing GrowthBook
//!   payloads and for the conformance suite).
//!
//! Both reject shapes GrowthBook itself cannot evaluate meaningfully (a condition that is
//! not an object, `$and` that is not an array, `$elemMatch` of a non-object).
//!
//! ```
//! use slotwise::rules::compile::{compile, Dialect, GroupNames};
//! use slotwise::rules::{Json, SavedGroups, Value};
//!
//! let Json(json) = serde_json::from_str(r#"{"$and": [{"age": {"$gt": 17}}, {"country": {"$ini": ["us"]}}]}"#).unwrap();
//! let cond = compile(&json, &GroupNames::default(), Dialect::Strict).unwrap();
//! let Json(doc) = serde_json::from_str(r#"{"age": "21", "country": "US"}"#).unwrap();
//! assert!(cond.eval(&doc, &SavedGroups::default()));
//!
//! let Json(bad) = serde_json::from_str(r#"{"$and": [{"a": 1}, {"b": {"$foo": 2}}]}"#).unwrap();
//! let err = compile(&bad, &GroupNames::default(), Dialect::Strict).unwrap_err();
//! assert_eq!(err.to_string(), "$and[1].b.$foo: unknown operator $foo");
//! ```

use core::fmt;

use super::condition::{Cond, JsType, Op, SavedGroups, Scalar, Test, VersionOp};
use super::js::{self, Prim, Rel};
use super::regex::{Pattern, js_compatible};
use super::value::Value;

/// Deepest nesting of conditions accepted (keeps evaluation's recursion bounded).
pub const MAX_DEPTH: usize = 32;

/// How forgiving the compiler is (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// Authoring: malformed operators are errors.
    Strict,
    /// GrowthBook-compatible: malformed operators fold to GrowthBook's constant.
    GrowthBook,
}

/// A compile error: the JSON path (relative to the condition) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// Path such as `$and[2].age.$foo` (empty: the condition itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl CompileError {
    /// Prefixes the path, e.g. with `[0].rules[1].when` from the enclosing file.
    pub fn within(mut self, prefix: &str) -> CompileError {
        self.path = join(prefix, &self.path);
        self
    }
}

fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.into(),
        (_, true) => prefix.into(),
        _ if rest.starts_with('[') => format!("{prefix}{rest}"),
        _ => format!("{prefix}.{rest}"),
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for CompileError {}

/// Saved-group names, in index order: the compiler turns `$inGroup: "name"` into an
/// index into the matching [`SavedGroups`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupNames(pub Vec<String>);

impl GroupNames {
    fn index(&self, name: &str) -> Option<u32> {
        self.0
            .iter()
            .position(|n| n == name)
            .and_then(|i| u32::try_from(i).ok())
    }
}

/// Compiles GrowthBook's `savedGroups` object (`{"id": [values…]}`) into names and
/// members. Members that are arrays or objects can never match (`===`) and are dropped.
pub fn compile_saved_groups(json: &Value) -> Result<(GroupNames, SavedGroups), CompileError> {
    let Value::Object(pairs) = json else {
        return Err(err("", "saved groups must be an object of arrays"));
    };
    let mut names = Vec::new();
    let mut groups = Vec::new();
    for (name, members) in pairs {
        let Value::Array(items) = members else {
            return Err(err(name, "a saved group must be an array"));
        };
        names.push(name.clone());
        groups.push(items.iter().filter_map(scalar).collect());
    }
    Ok((GroupNames(names), SavedGroups { groups }))
}

/// Compiles one condition.
pub fn compile(json: &Value, groups: &GroupNames, dialect: Dialect) -> Result<Cond, CompileError> {
    Compiler { groups, dialect }.cond(json, "", 0)
}

fn err(path: &str, message: impl Into<String>) -> CompileError {
    CompileError {
        path: path.into(),
        message: message.into(),
    }
}

fn key_path(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.into()
    } else {
        format!("{path}.{key}")
    }
}

fn scalar(v: &Value) -> Option<Scalar> {
    match v {
        Value::Null => Some(Scalar::Null),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Number(n) => Some(Scalar::Num(*n)),
        Value::String(s) => Some(Scalar::Str(s.clone())),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn literal_depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(literal_depth).max().unwrap_or(0),
        Value::Object(pairs) => {
            1 + pairs
                .iter()
                .map(|(_, v)| literal_depth(v))
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

// GrowthBook's isOperatorObject: non-empty, every key starts with `$`.
fn is_operator_object(v: &Value) -> bool {
    matches!(v, Value::Object(p) if !p.is_empty() && p.iter().all(|(k, _)| k.starts_with('$')))
}

struct Compiler<'a> {
    groups: &'a GroupNames,
    dialect: Dialect,
}

impl Compiler<'_> {
    /// In strict mode, an error; in GrowthBook mode, the constant GrowthBook computes.
    fn lenient(&self, path: &str, message: String, constant: bool) -> Result<Op, CompileError> {
        match self.dialect {
            Dialect::Strict => Err(err(path, message)),
            Dialect::GrowthBook => Ok(Op::Const(constant)),
        }
    }

    fn cond(&self, json: &Value, path: &str, depth: usize) -> Result<Cond, CompileError> {
        if depth > MAX_DEPTH {
            return Err(err(path, "condition nested too deeply"));
        }
        let Value::Object(pairs) = json else {
            return Err(err(path, "a condition must be an object"));
        };
        let mut all = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let p = key_path(path, k);
            let c = match k.as_str() {
                "$and" | "$or" | "$nor" => {
                    let Value::Array(items) = v else {
                        return Err(err(&p, format!("{k} expects an array of conditions")));
                    };
                    let mut cs = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        cs.push(self.cond(item, &format!("{p}[{i}]"), depth + 1)?);
                    }
                    match k.as_str() {
                        "$and" => Cond::All(cs),
                        "$or" => Cond::Any(cs),
                        _ => Cond::Not(Box::new(Cond::Any(cs))),
                    }
                }
                "$not" => Cond::Not(Box::new(self.cond(v, &p, depth + 1)?)),
                _ => Cond::Field {
                    path: k.split('.').map(String::from).collect(),
                    test: self.test(v, &p, false, depth + 1)?,
                },
            };
            all.push(c);
        }
        Ok(if all.len() == 1 {
            all.pop().unwrap_or(Cond::Const(true))
        } else {
            Cond::All(all)
        })
    }

    fn test(
        &self,
        json: &Value,
        path: &str,
        fold: bool,
        depth: usize,
    ) -> Result<Test, CompileError> {
        if depth > MAX_DEPTH {
            return Err(err(path, "condition nested too deeply"));
        }
        Ok(match json {
            Value::String(s) if fold => Test::StrEqFold(js::lower(s)),
            Value::String(s) => Test::StrEq(s.clone()),
            Value::Number(n) => Test::NumEq(*n),
            Value::Bool(b) => Test::BoolEq(*b),
            Value::Null => Test::IsNull,
            Value::Object(pairs) if is_operator_object(json) => {
                let mut ops = Vec::with_capacity(pairs.len());
                for (op, operand) in pairs {
                    ops.push(self.op(op, operand, &key_path(path, op), depth)?);
                }
                Test::Ops(ops)
            }
            Value::Object(_) | Value::Array(_) if literal_depth(json) > MAX_DEPTH => {
                return Err(err(path, "literal value nested too deeply"));
            }
            Value::Object(pairs) => {
                if self.dialect == Dialect::Strict && pairs.iter().any(|(k, _)| k.starts_with('$'))
                {
                    return Err(err(
                        path,
                        "an object mixing operators and plain keys compares as a literal; \
                         use only operators, or only plain keys",
                    ));
                }
                Test::JsonEq(json.clone())
            }
            Value::Array(_) => Test::JsonEq(json.clone()),
        })
    }

    fn op(&self, op: &str, v: &Value, path: &str, depth: usize) -> Result<Op, CompileError> {
        let version = |o| Ok(Op::Version(o, js::padded_version(v)));
        let rel = |r| Ok(Op::Cmp(r, Prim::of(v)));
        match op {
            "$veq" => version(VersionOp::Eq),
            "$vne" => version(VersionOp::Ne),
            "$vgt" => version(VersionOp::Gt),
            "$vgte" => version(VersionOp::Gte),
            "$vlt" => version(VersionOp::Lt),
            "$vlte" => version(VersionOp::Lte),
            "$eq" | "$ne" => match scalar(v) {
                Some(s) if op == "$eq" => Ok(Op::Eq(s)),
                Some(s) => Ok(Op::Ne(s)),
                None => self.lenient(
                    path,
                    format!(
                        "{op} compares with a scalar; for deep equality write the value itself"
                    ),
                    op == "$ne",
                ),
            },
            "$lt" => rel(Rel::Lt),
            "$lte" => rel(Rel::Lte),
            "$gt" => rel(Rel::Gt),
            "$gte" => rel(Rel::Gte),
            "$exists" => Ok(Op::Exists(js::truthy(v))),
            "$in" | "$nin" | "$ini" | "$nini" => {
                let Value::Array(items) = v else {
                    return self.lenient(path, format!("{op} expects an array"), false);
                };
                let fold = op.ends_with('i');
                let set = items
                    .iter()
                    .filter_map(scalar)
                    .map(|s| match s {
                        Scalar::Str(t) if fold => Scalar::Str(js::lower(&t)),
                        other => other,
                    })
                    .collect();
                Ok(Op::In {
                    set,
                    fold,
                    negate: op.starts_with("$n"),
                })
            }
            "$inGroup" | "$notInGroup" => {
                let negate = op == "$notInGroup";
                let name = match v {
                    Value::String(s) => s.clone(),
                    other if self.dialect == Dialect::GrowthBook => js::to_string(other),
                    _ => {
                        return Err(err(
                            path,
                            format!("{op} expects a saved group id (a string)"),
                        ));
                    }
                };
                match self.groups.index(&name) {
                    Some(group) => Ok(Op::InGroup { group, negate }),
                    None => self.lenient(path, format!("unknown saved group {name:?}"), negate),
                }
            }
            "$not" => Ok(Op::Not(self.test(v, path, false, depth + 1)?)),
            "$size" => Ok(Op::Size(self.test(v, path, false, depth + 1)?)),
            "$elemMatch" => {
                if is_operator_object(v) {
                    Ok(Op::ElemMatch(self.test(v, path, false, depth + 1)?))
                } else {
                    Ok(Op::ElemMatchDoc(self.cond(v, path, depth + 1)?))
                }
            }
            "$all" | "$alli" => {
                let Value::Array(items) = v else {
                    return self.lenient(path, format!("{op} expects an array"), false);
                };
                let fold = op == "$alli";
                let mut tests = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    tests.push(self.test(item, &format!("{path}[{i}]"), fold, depth + 1)?);
                }
                Ok(Op::All(tests))
            }
            "$regex" | "$regexi" => {
                let Value::String(src) = v else {
                    return self.lenient(path, format!("{op} expects a pattern string"), false);
                };
                let insensitive = op == "$regexi";
                if let Err(why) = js_compatible(src, insensitive) {
                    return self.lenient(path, format!("regular expression {src:?}: {why}"), false);
                }
                match Pattern::new(src, insensitive) {
                    Ok(p) => Ok(Op::Regex(p)),
                    Err(_) => self.lenient(
                        path,
                        format!("invalid or unsupported regular expression {src:?}"),
                        false,
                    ),
                }
            }
            "$type" => {
                let t = match v {
                    Value::String(s) => match s.as_str() {
                        "null" => Some(JsType::Null),
                        "boolean" => Some(JsType::Boolean),
                        "number" => Some(JsType::Number),
                        "string" => Some(JsType::String),
                        "array" => Some(JsType::Array),
                        "object" => Some(JsType::Object),
                        _ => None,
                    },
                    _ => None,
                };
                match t {
                    Some(t) => Ok(Op::Type(t)),
                    None => self.lenient(
                        path,
                        "$type expects one of null, boolean, number, string, array, object".into(),
                        false,
                    ),
                }
            }
            _ => self.lenient(path, format!("unknown operator {op}"), false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Json;

    fn json(text: &str) -> Value {
        let Json(v) = serde_json::from_str(text).expect("test JSON");
        v
    }

    fn strict_err(cond: &str) -> String {
        let names = GroupNames(vec!["vip".into()]);
        compile(&json(cond), &names, Dialect::Strict)
            .expect_err("strict must reject")
            .to_string()
    }

    #[test]
    fn strict_errors_name_the_json_path() {
        assert_eq!(
            strict_err(r#"{"$and": [{"a": 1}, {"b": 2}, {"c": {"$foo": 1}}]}"#),
            "$and[2].c.$foo: unknown operator $foo"
        );
        assert_eq!(
            strict_err(r#"{"$or": [{"tags": {"$all": ["x", {"$regex": "("}]}}]}"#),
            "$or[0].tags.$all[1].$regex: invalid or unsupported regular expression \"(\""
        );
        assert_eq!(
            strict_err(r#"{"n": {"$in": 1}}"#),
            "n.$in: $in expects an array"
        );
        assert_eq!(
            strict_err(r#"{"id": {"$inGroup": "nope"}}"#),
            "id.$inGroup: unknown saved group \"nope\""
        );
        assert_eq!(
            strict_err(r#"{"a": {"$type": "undefined"}}"#),
            "a.$type: $type expects one of null, boolean, number, string, array, object"
        );
        assert!(strict_err(r#"{"a": {"$gt": 1, "b": 2}}"#).starts_with("a: an object mixing"));
        assert_eq!(
            strict_err(r#"{"$and": {"a": 1}}"#),
            "$and: $and expects an array of conditions"
        );
        // Look-around is JavaScript-only: refused rather than silently never matching.
        assert!(strict_err(r#"{"a": {"$regex": "(?=x)"}}"#).starts_with("a.$regex: invalid"));
        // Syntax both engines accept but read differently is refused too.
        assert_eq!(
            strict_err(r#"{"a": {"$regex": "(?i)x"}}"#),
            "a.$regex: regular expression \"(?i)x\": inline flags and (?P<...>) are not JavaScript syntax"
        );
        assert!(
            strict_err(r#"{"a": {"$regex": "[[:alpha:]]"}}"#).contains("inside a character class")
        );
        assert!(strict_err(r#"{"a": {"$regexi": "été"}}"#).contains("non-ASCII"));
    }

    #[test]
    fn within_prefixes_the_enclosing_path() {
        let e = compile(
            &json(r#"{"a": {"$foo": 1}}"#),
            &GroupNames::default(),
            Dialect::Strict,
        )
        .expect_err("unknown operator");
        assert_eq!(
            e.within("[0].rules[1].when").to_string(),
            "[0].rules[1].when.a.$foo: unknown operator $foo"
        );
    }

    #[test]
    fn structural_nonsense_is_refused_in_both_dialects() {
        for d in [Dialect::Strict, Dialect::GrowthBook] {
            let g = GroupNames::default();
            assert!(compile(&json("[1]"), &g, d).is_err());
            assert!(compile(&json(r#"{"a": {"$elemMatch": 3}}"#), &g, d).is_err());
            assert!(compile(&json(r#"{"$not": "x"}"#), &g, d).is_err());
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let mut text = String::from(r#"{"a": 1}"#);
        for _ in 0..40 {
            text = format!(r#"{{"$not": {text}}}"#);
        }
        let e = compile(&json(&text), &GroupNames::default(), Dialect::GrowthBook)
            .expect_err("too deep");
        assert!(e.message.contains("too deeply"));
    }

    #[test]
    fn invalid_regex_in_bytes_is_a_decode_error() {
        // A compiled condition with a valid regex, then the pattern bytes corrupted.
        let cond = compile(
            &json(r#"{"a": {"$regex": "ab"}}"#),
            &GroupNames::default(),
            Dialect::Strict,
        )
        .expect("compiles");
        let mut bytes = postcard::to_allocvec(&cond).expect("encodes");
        let at = bytes
            .windows(2)
            .position(|w| w == b"ab")
            .expect("pattern bytes");
        bytes[at] = b'(';
        assert!(postcard::from_bytes::<Cond>(&bytes).is_err());
    }
}
