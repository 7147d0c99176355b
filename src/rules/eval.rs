//! Evaluating a compiled [`Cond`] against a document, with GrowthBook's semantics
//! (`packages/sdk-js/src/mongrule.ts`): missing paths read as `null`, scalar tests
//! coerce like JavaScript, `$in` on an array value intersects, `$elemMatch` skips
//! falsy elements, unknown groups are empty.
//!
//! Pure and total: no panics, no allocation unless a coercion needs a string.

use std::borrow::Cow;

use super::condition::{Cond, JsType, Op, SavedGroups, Scalar, Test, VersionOp};
use super::js;
use super::value::{PathRef, Value, same};

const NULL: Value = Value::Null;

impl Cond {
    /// Whether `doc` satisfies the condition, with `groups` for `$inGroup`.
    ///
    /// ```
    /// use slotwise::rules::{Cond, SavedGroups, Test, Value};
    /// let cond = Cond::Field { path: vec!["country".into()], test: Test::StrEq("US".into()) };
    /// let doc = Value::object(vec![("country".into(), Value::str("US"))]);
    /// assert!(cond.eval(&doc, &SavedGroups::default()));
    /// ```
    pub fn eval(&self, doc: &Value, groups: &SavedGroups) -> bool {
        match self {
            Cond::All(cs) => cs.iter().all(|c| c.eval(doc, groups)),
            Cond::Any(cs) => cs.is_empty() || cs.iter().any(|c| c.eval(doc, groups)),
            Cond::Not(c) => !c.eval(doc, groups),
            Cond::Field { path, test } => {
                let v: Cow<'_, Value> = match doc.path_ref(path) {
                    Some(PathRef::Borrowed(v)) => Cow::Borrowed(v),
                    Some(PathRef::Length(n)) => Cow::Owned(Value::Number(n as f64)),
                    None => Cow::Borrowed(&NULL),
                };
                test.eval(&v, groups)
            }
            Cond::Const(b) => *b,
        }
    }
}

impl Test {
    /// Whether one value passes (GrowthBook's `evalConditionValue`).
    pub fn eval(&self, v: &Value, groups: &SavedGroups) -> bool {
        match self {
            Test::StrEq(s) => match v {
                Value::String(x) => same(x, s),
                _ => js::to_string(v) == *s,
            },
            Test::StrEqFold(s) => match v {
                Value::String(x) => js::lower(x) == *s,
                _ => js::lower(&js::to_string(v)) == *s,
            },
            Test::NumEq(n) => js::to_number(v) == *n,
            Test::BoolEq(b) => !matches!(v, Value::Null) && js::truthy(v) == *b,
            Test::IsNull => matches!(v, Value::Null),
            Test::JsonEq(c) => json_eq(v, c),
            Test::Ops(ops) => ops.iter().all(|op| op.eval(v, groups)),
        }
    }
}

impl Op {
    /// Whether one operator holds for the value.
    pub fn eval(&self, v: &Value, groups: &SavedGroups) -> bool {
        match self {
            Op::Version(op, expected) => {
                let ord = js::cmp_utf16(&js::padded_version(v), expected);
                match op {
                    VersionOp::Eq => ord.is_eq(),
                    VersionOp::Ne => ord.is_ne(),
                    VersionOp::Gt => ord.is_gt(),
                    VersionOp::Gte => ord.is_ge(),
                    VersionOp::Lt => ord.is_lt(),
                    VersionOp::Lte => ord.is_le(),
                }
            }
            Op::Eq(s) => strict_eq(v, s),
            Op::Ne(s) => !strict_eq(v, s),
            Op::Cmp(rel, p) => js::relate(v, *rel, p),
            Op::Exists(e) => *e != matches!(v, Value::Null),
            Op::In { set, fold, negate } => is_in(v, set, *fold) != *negate,
            Op::InGroup { group, negate } => is_in(v, groups.get(*group), false) != *negate,
            Op::Not(t) => !t.eval(v, groups),
            Op::Size(t) => match v {
                Value::Array(items) => t.eval(&Value::Number(items.len() as f64), groups),
                _ => false,
            },
            Op::ElemMatch(t) => match v {
                Value::Array(items) => items.iter().any(|x| js::truthy(x) && t.eval(x, groups)),
                _ => false,
            },
            Op::ElemMatchDoc(c) => match v {
                Value::Array(items) => items.iter().any(|x| js::truthy(x) && c.eval(x, groups)),
                _ => false,
            },
            Op::All(tests) => match v {
                Value::Array(items) => tests
                    .iter()
                    .all(|t| items.iter().any(|x| t.eval(x, groups))),
                _ => false,
            },
            Op::Regex(p) => match v {
                Value::String(s) => p.is_match(s),
                _ => p.is_match(&js::to_string(v)),
            },
            Op::Type(t) => type_of(v) == *t,
            Op::Const(b) => *b,
        }
    }
}

/// `$type`'s view of a value.
fn type_of(v: &Value) -> JsType {
    match v {
        Value::Null => JsType::Null,
        Value::Bool(_) => JsType::Boolean,
        Value::Number(_) => JsType::Number,
        Value::String(_) => JsType::String,
        Value::Array(_) => JsType::Array,
        Value::Object(_) => JsType::Object,
    }
}

/// JavaScript `value === scalar` (objects and arrays are never `===` a literal).
pub(crate) fn strict_eq(v: &Value, s: &Scalar) -> bool {
    match (v, s) {
        (Value::Null, Scalar::Null) => true,
        (Value::Bool(a), Scalar::Bool(b)) => a == b,
        (Value::Number(a), Scalar::Num(b)) => a == b,
        (Value::String(a), Scalar::Str(b)) => same(a, b),
        _ => false,
    }
}

// `isIn`: for an array value, any element; strings lower-cased first when folding
// (the set is lower-cased at build time).
fn is_in(v: &Value, set: &[Scalar], fold: bool) -> bool {
    let one = |x: &Value| match (x, fold) {
        (Value::String(s), true) => {
            let l = js::lower(s);
            set.iter().any(|c| matches!(c, Scalar::Str(t) if *t == l))
        }
        _ => set.iter().any(|c| strict_eq(x, c)),
    };
    match v {
        Value::Array(items) => items.iter().any(one),
        _ => one(v),
    }
}

/// `JSON.stringify(a) === JSON.stringify(b)` without building strings: non-finite
/// numbers print as `null`, `-0` as `0`, object keys in order.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    let as_null = |v: &Value| match v {
        Value::Null => true,
        Value::Number(n) => !n.is_finite(),
        _ => false,
    };
    match (a, b) {
        _ if as_null(a) || as_null(b) => as_null(a) && as_null(b),
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kp, p), (kq, q))| kp == kq && json_eq(p, q))
        }
        _ => false,
    }
}
