//! The compiled form of a condition: what a bundle stores and the engine evaluates.
//!
//! Authoring JSON (GrowthBook's Mongo-style syntax) is compiled once, at build time, by
//! [`crate::rules::compile`]; this tree has every decision that can be taken ahead of
//! time already taken: paths are split, versions pre-padded, regexes validated,
//! comparison operands converted to the primitive JavaScript would compare with,
//! `$in` lists reduced to scalars (and lower-cased for `$ini`), saved groups interned
//! as indices, operators that can never match folded to constants.
//!
//! Postcard order is the declaration order of every enum and struct below.

use serde::{Deserialize, Serialize};

use super::depth::guarded_serde;
use super::js::{Prim, Rel};
use super::regex::Pattern;

/// A compiled condition over a document (see [`crate::rules::eval`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub enum Cond {
    /// Every one holds (`$and`, and the implicit "all keys" of a condition object).
    All(Vec<Cond>),
    /// At least one holds; an empty list holds (`$or`; `$nor` is `Not(Any)`).
    Any(Vec<Cond>),
    /// The inner condition does not hold (`$not`).
    Not(Box<Cond>),
    /// The value at `path` (dot-separated in JSON, split here) passes `test`.
    Field {
        /// Path segments; a missing segment reads as `null`.
        path: Vec<String>,
        /// What the value must satisfy.
        test: Test,
    },
    /// Always / never.
    Const(bool),
}

/// A test of one value: GrowthBook's `evalConditionValue`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub enum Test {
    /// `String(value) === s`.
    StrEq(String),
    /// `String(value).toLowerCase() === s` (`s` already lower-cased).
    StrEqFold(String),
    /// `Number(value) === n`.
    NumEq(f64),
    /// `value !== null && !!value === b`.
    BoolEq(bool),
    /// `value === null` (a missing value is null).
    IsNull,
    /// `JSON.stringify(value) === JSON.stringify(c)`: deep, order-sensitive equality.
    JsonEq(super::value::Value),
    /// Every operator holds.
    Ops(Vec<Op>),
}

guarded_serde!(Cond);
guarded_serde!(Test);

/// One operator of an operator object (`{"$gt": 5, "$lt": 10}` has two).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// `$veq`…`$vlte`: padded version strings compared (the operand is pre-padded).
    Version(VersionOp, String),
    /// `value === s`.
    Eq(Scalar),
    /// `value !== s`.
    Ne(Scalar),
    /// `$lt`, `$lte`, `$gt`, `$gte` with JavaScript's coercions.
    Cmp(Rel, Prim),
    /// `$exists`: `value != null` when true, `value == null` when false.
    Exists(bool),
    /// `$in` / `$nin` / `$ini` / `$nini`: membership (any element, for an array value).
    In {
        /// The candidates (lower-cased when `fold`).
        set: Vec<Scalar>,
        /// Compare strings case-insensitively.
        fold: bool,
        /// `$nin` / `$nini`.
        negate: bool,
    },
    /// `$inGroup` / `$notInGroup`: membership in a saved group, by index.
    InGroup {
        /// Index into [`SavedGroups`].
        group: u32,
        /// `$notInGroup`.
        negate: bool,
    },
    /// `$not`: the test fails.
    Not(Test),
    /// `$size`: the value is an array whose length passes the test.
    Size(Test),
    /// `$elemMatch` with an operator object: some truthy element passes the test.
    ElemMatch(Test),
    /// `$elemMatch` with a condition: some truthy element (a document) satisfies it.
    ElemMatchDoc(Cond),
    /// `$all` / `$alli`: the value is an array and every test is passed by an element.
    All(Vec<Test>),
    /// `$regex` / `$regexi` on `String(value)`.
    Regex(Pattern),
    /// `$type`.
    Type(JsType),
    /// An operator folded at build time (e.g. `$in` of a non-array: never).
    Const(bool),
}

/// Version comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VersionOp {
    /// `$veq`
    Eq,
    /// `$vne`
    Ne,
    /// `$vgt`
    Gt,
    /// `$vgte`
    Gte,
    /// `$vlt`
    Lt,
    /// `$vlte`
    Lte,
}

/// What `$type` can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum JsType {
    /// `null` (and missing)
    Null,
    /// `boolean`
    Boolean,
    /// `number`
    Number,
    /// `string`
    String,
    /// `array`
    Array,
    /// `object`
    Object,
}

/// A scalar operand: what `===` and `Array.includes` can match in data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Scalar {
    /// `null`
    Null,
    /// a boolean
    Bool(bool),
    /// a number
    Num(f64),
    /// a string
    Str(String),
}

/// Saved groups (`$inGroup`): lists of values, referenced by index from conditions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedGroups {
    /// One list per group, in the order the compiler assigned indices.
    pub groups: Vec<Vec<Scalar>>,
}

impl SavedGroups {
    /// The members of group `i` (an unknown index reads as an empty group).
    pub fn get(&self, i: u32) -> &[Scalar] {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.groups.get(i))
            .map_or(&[], Vec::as_slice)
    }
}
