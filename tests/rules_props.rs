//! Property tests: the compiled condition ≡ a reference interpreter of the JSON.
//!
//! The reference below walks the JSON condition directly, transcribing GrowthBook's
//! `mongrule.ts` line by line (with its own, independently written JavaScript
//! coercions), while the core compiles the JSON once (GrowthBook dialect), round-trips
//! it through postcard, and evaluates the compiled tree. On random conditions and
//! random documents both must agree; the strict dialect must agree or refuse.

use proptest::prelude::*;
use slotwise::rules::compile::{Dialect, compile, compile_saved_groups};
use slotwise::rules::plan::{Memo, Plans};
use slotwise::rules::{Cond, SavedGroups, Value};

// ---------------------------------------------------------------- reference ------

fn r_num_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n == 0.0 {
        return "0".into();
    }
    if n.is_infinite() {
        return if n > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let sign = if n < 0.0 { "-" } else { "" };
    // Rust's `{:e}` prints the shortest round-trip digits: "1.5e-7", "1e21", "2.5e0".
    let sci = format!("{:e}", n.abs());
    let (m, e) = sci.split_once('e').unwrap();
    let digits: String = m.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n10 = e.parse::<i32>().unwrap() + 1;
    let body = if k <= n10 && n10 <= 21 {
        format!("{digits}{}", "0".repeat((n10 - k) as usize))
    } else if 0 < n10 && n10 <= 21 {
        format!("{}.{}", &digits[..n10 as usize], &digits[n10 as usize..])
    } else if -6 < n10 && n10 <= 0 {
        format!("0.{}{digits}", "0".repeat((-n10) as usize))
    } else {
        let e = n10 - 1;
        let s = if e < 0 { '-' } else { '+' };
        if k == 1 {
            format!("{digits}e{s}{}", e.abs())
        } else {
            format!("{}.{}e{s}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    format!("{sign}{body}")
}

fn r_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => r_num_to_string(*n),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::Null => String::new(),
                x => r_to_string(x),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

fn r_str_to_number(s: &str) -> f64 {
    let ws = |c: char| (c.is_whitespace() && c != '\u{85}') || c == '\u{feff}';
    let t = s.trim_matches(ws);
    if t.is_empty() {
        return 0.0;
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    for (p, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(rest) = t.strip_prefix(p) {
            if !rest.chars().all(|c| c.is_digit(radix)) {
                return f64::NAN; // from_str_radix would accept a sign
            }
            return u64::from_str_radix(rest, radix).map_or(f64::NAN, |v| v as f64);
        }
    }
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

fn r_to_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => *b as u8 as f64,
        Value::Number(n) => *n,
        Value::String(s) => r_str_to_number(s),
        Value::Array(_) => r_str_to_number(&r_to_string(v)),
        Value::Object(_) => f64::NAN,
    }
}

fn r_truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => !(*n == 0.0 || n.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn r_utf16(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// `a < b` per ECMAScript IsLessThan: `None` for undefined (NaN).
fn r_less(a: &Value, b: &Value) -> Option<bool> {
    let prim = |v: &Value| match v {
        Value::Array(_) | Value::Object(_) => Value::String(r_to_string(v)),
        v => v.clone(),
    };
    let (pa, pb) = (prim(a), prim(b));
    if let (Value::String(x), Value::String(y)) = (&pa, &pb) {
        return Some(r_utf16(x) < r_utf16(y));
    }
    let (x, y) = (r_to_number(&pa), r_to_number(&pb));
    if x.is_nan() || y.is_nan() {
        None
    } else {
        Some(x < y)
    }
}

fn r_strict_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        _ => false, // objects/arrays: distinct references
    }
}

fn r_stringify(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_finite() => r_num_to_string(*n),
        Value::Number(_) => "null".into(),
        Value::String(s) => serde_json::to_string(s).unwrap(),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(r_stringify).collect::<Vec<_>>().join(",")
        ),
        Value::Object(p) => format!(
            "{{{}}}",
            p.iter()
                .map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), r_stringify(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

fn r_padded(v: &Value) -> String {
    let input = match v {
        Value::Number(n) => r_num_to_string(*n),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => "0".into(),
    };
    let strip = regex_lite::Regex::new(r"(^v|\+.*$)").unwrap();
    let stripped = strip.replace_all(&input, "");
    let split = regex_lite::Regex::new(r"[-.]").unwrap();
    let mut parts: Vec<String> = split.split(&stripped).map(String::from).collect();
    if parts.len() == 3 {
        parts.push("~".into());
    }
    let numeric = regex_lite::Regex::new(r"^[0-9]+$").unwrap();
    parts
        .iter()
        .map(|p| {
            if numeric.is_match(p) {
                format!("{p:>5}")
            } else {
                p.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn get(obj: &Value, key: &str) -> Option<Value> {
    obj.member(key)
}

fn r_get_path(obj: &Value, path: &str) -> Value {
    let mut cur = obj.clone();
    for part in path.split('.') {
        match get(&cur, part) {
            Some(v) if matches!(cur, Value::Object(_) | Value::Array(_)) => cur = v,
            _ => return Value::Null,
        }
    }
    cur
}

fn is_op_obj(v: &Value) -> bool {
    matches!(v, Value::Object(p) if !p.is_empty() && p.iter().all(|(k, _)| k.starts_with('$')))
}

fn r_eval_condition(obj: &Value, cond: &Value, groups: &Value) -> bool {
    let Value::Object(pairs) = cond else {
        panic!("generator makes objects")
    };
    for (k, v) in pairs {
        let ok = match k.as_str() {
            "$or" => r_eval_or(obj, v, groups),
            "$nor" => !r_eval_or(obj, v, groups),
            "$and" => match v {
                Value::Array(cs) => cs.iter().all(|c| r_eval_condition(obj, c, groups)),
                _ => panic!(),
            },
            "$not" => !r_eval_condition(obj, v, groups),
            _ => r_eval_value(v, &r_get_path(obj, k), groups, false),
        };
        if !ok {
            return false;
        }
    }
    true
}

fn r_eval_or(obj: &Value, v: &Value, groups: &Value) -> bool {
    let Value::Array(cs) = v else { panic!() };
    cs.is_empty() || cs.iter().any(|c| r_eval_condition(obj, c, groups))
}

fn r_eval_value(cond: &Value, value: &Value, groups: &Value, insensitive: bool) -> bool {
    match cond {
        Value::String(c) if insensitive => r_to_string(value).to_lowercase() == c.to_lowercase(),
        Value::String(c) => r_to_string(value) == *c,
        Value::Number(c) => r_to_number(value) == *c,
        Value::Bool(c) => !matches!(value, Value::Null) && r_truthy(value) == *c,
        Value::Null => matches!(value, Value::Null),
        Value::Array(_) => r_stringify(value) == r_stringify(cond),
        Value::Object(_) if !is_op_obj(cond) => r_stringify(value) == r_stringify(cond),
        Value::Object(ops) => ops
            .iter()
            .all(|(op, expected)| r_eval_op(op, value, expected, groups)),
    }
}

fn r_is_in(actual: &Value, expected: &[Value], insensitive: bool) -> bool {
    let fold = |v: &Value| match v {
        Value::String(s) if insensitive => Value::String(s.to_lowercase()),
        v => v.clone(),
    };
    // includes(): SameValueZero; JSON operands hold no NaN, so === is the same here.
    let has = |el: &Value| expected.iter().any(|e| r_strict_eq(&fold(el), &fold(e)));
    match actual {
        Value::Array(items) => items.iter().any(has),
        v => has(v),
    }
}

fn r_eval_op(op: &str, actual: &Value, expected: &Value, groups: &Value) -> bool {
    let vcmp = |f: fn(&[u16], &[u16]) -> bool| {
        f(&r_utf16(&r_padded(actual)), &r_utf16(&r_padded(expected)))
    };
    let group = || match get(groups, &r_to_string(expected)) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    match op {
        "$veq" => vcmp(|a, b| a == b),
        "$vne" => vcmp(|a, b| a != b),
        "$vgt" => vcmp(|a, b| a > b),
        "$vgte" => vcmp(|a, b| a >= b),
        "$vlt" => vcmp(|a, b| a < b),
        "$vlte" => vcmp(|a, b| a <= b),
        "$eq" => r_strict_eq(actual, expected),
        "$ne" => !r_strict_eq(actual, expected),
        "$lt" => r_less(actual, expected) == Some(true),
        "$gt" => r_less(expected, actual) == Some(true),
        "$lte" => r_less(expected, actual) == Some(false),
        "$gte" => r_less(actual, expected) == Some(false),
        "$exists" => {
            if r_truthy(expected) {
                !matches!(actual, Value::Null)
            } else {
                matches!(actual, Value::Null)
            }
        }
        "$in" | "$ini" | "$nin" | "$nini" => match expected {
            Value::Array(e) => r_is_in(actual, e, op.ends_with('i')) != op.starts_with("$n"),
            _ => false,
        },
        "$inGroup" => r_is_in(actual, &group(), false),
        "$notInGroup" => !r_is_in(actual, &group(), false),
        "$not" => !r_eval_value(expected, actual, groups, false),
        "$size" => match actual {
            Value::Array(a) => {
                r_eval_value(expected, &Value::Number(a.len() as f64), groups, false)
            }
            _ => false,
        },
        "$elemMatch" => match actual {
            Value::Array(items) => items.iter().any(|x| {
                r_truthy(x)
                    && if is_op_obj(expected) {
                        r_eval_value(expected, x, groups, false)
                    } else {
                        r_eval_condition(x, expected, groups)
                    }
            }),
            _ => false,
        },
        "$all" | "$alli" => match (expected, actual) {
            (Value::Array(e), Value::Array(a)) => e.iter().all(|ei| {
                a.iter()
                    .any(|aj| r_eval_value(ei, aj, groups, op == "$alli"))
            }),
            _ => false,
        },
        "$regex" | "$regexi" => match expected {
            Value::String(p) => regex_lite::RegexBuilder::new(p)
                .case_insensitive(op == "$regexi")
                .build()
                .is_ok_and(|re| re.is_match(&r_to_string(actual))),
            _ => false,
        },
        "$type" => {
            let t = match actual {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            matches!(expected, Value::String(s) if s == t)
        }
        _ => false,
    }
}

// ---------------------------------------------------------------- generators -----

fn s(x: &str) -> Value {
    Value::str(x)
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        prop::sample::select(vec![
            0.0, -0.0, 1.0, -1.0, 2.5, 5.0, 8.0, 10.0, 100.0, 1e21, 1.5e-7, 0.1, 123456.789
        ])
        .prop_map(Value::Number),
        prop::sample::select(vec![
            "",
            "a",
            "A",
            "abc",
            "ABC",
            "b",
            "1",
            "8",
            "10",
            "2.5",
            " 5 ",
            "0x10",
            "1e3",
            "null",
            "true",
            "1.2.3",
            "v1.2.3",
            "1.2.3-beta",
            "1.10.0",
            "1.2.3+b",
            "Straße",
            "é",
            "1,2",
            "[object Object]",
            "mobile",
            "Mobile",
        ])
        .prop_map(s),
    ]
}

fn doc_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (prop::sample::select(vec!["a", "b", "0", "x"]), inner),
                0..3
            )
            .prop_map(|p| obj(p)),
        ]
    })
}

fn document() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["a", "b", "tags", "$g", "v"]),
            doc_value(),
        ),
        0..5,
    )
    .prop_map(obj)
}

fn path() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "a",
        "b",
        "a.b",
        "a.0",
        "tags",
        "tags.length",
        "$g",
        "v",
        "a.x.b",
    ])
}

fn operand() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(Value::Array),
    ]
}

/// A value condition (what follows a path): literal or operator object.
fn value_cond(depth: u32) -> BoxedStrategy<Value> {
    let literal = prop_oneof![
        scalar(),
        prop::collection::vec(scalar(), 0..3).prop_map(Value::Array),
        prop::collection::vec((prop::sample::select(vec!["a", "b"]), scalar()), 1..3).prop_map(obj),
    ];
    let simple_op = (
        prop::sample::select(vec![
            "$eq",
            "$ne",
            "$lt",
            "$lte",
            "$gt",
            "$gte",
            "$exists",
            "$in",
            "$nin",
            "$ini",
            "$nini",
            "$veq",
            "$vne",
            "$vgt",
            "$vgte",
            "$vlt",
            "$vlte",
            "$type",
            "$inGroup",
            "$notInGroup",
            "$foo",
            "$all",
            "$alli",
        ]),
        operand(),
    )
        .prop_map(|(op, v)| {
            let v = match op {
                "$type" => s([
                    "null",
                    "string",
                    "number",
                    "boolean",
                    "array",
                    "object",
                    "undefined",
                    "x",
                ][(r_to_number(&v).abs() as usize) % 8]),
                "$inGroup" | "$notInGroup" => s(if r_truthy(&v) { "g1" } else { "nope" }),
                _ => v,
            };
            obj(vec![(op, v)])
        });
    let regex = (
        prop::sample::select(vec!["$regex", "$regexi"]),
        prop::sample::select(vec!["^a", "b$", "(", "[0-9]+", "A", "^1\\.2", ".", "^$"]),
    )
        .prop_map(|(op, p)| obj(vec![(op, s(p))]));
    if depth == 0 {
        return prop_oneof![literal, simple_op, regex].boxed();
    }
    let inner = value_cond(depth - 1);
    let nested = prop_oneof![
        inner.clone().prop_map(|c| obj(vec![("$not", c)])),
        inner.clone().prop_map(|c| obj(vec![("$size", c)])),
        inner
            .clone()
            .prop_filter("operator object", is_op_obj)
            .prop_map(|c| obj(vec![("$elemMatch", c)])),
        condition(depth - 1).prop_map(|c| obj(vec![("$elemMatch", c)])),
        prop::collection::vec(inner.clone(), 0..3)
            .prop_map(|cs| obj(vec![("$all", Value::Array(cs))])),
        (inner.clone(), inner).prop_map(|(a, b)| {
            // Two operators in one object (keys must differ to stay two).
            match (a, b) {
                (Value::Object(mut p), Value::Object(q))
                    if is_op_obj(&Value::Object(p.clone()))
                        && is_op_obj(&Value::Object(q.clone())) =>
                {
                    for (k, v) in q {
                        if !p.iter().any(|(pk, _)| *pk == k) {
                            p.push((k, v));
                        }
                    }
                    Value::Object(p)
                }
                (a, _) => a,
            }
        }),
    ];
    prop_oneof![3 => literal, 4 => simple_op, 1 => regex, 3 => nested].boxed()
}

/// A condition (document-level): fields and logical operators.
fn condition(depth: u32) -> BoxedStrategy<Value> {
    let field = (path(), value_cond(depth.min(2))).prop_map(|(p, c)| obj(vec![(p, c)]));
    if depth == 0 {
        return prop::collection::vec(field, 0..3).prop_map(merge).boxed();
    }
    let inner = condition(depth - 1);
    let logical = prop_oneof![
        (
            prop::sample::select(vec!["$and", "$or", "$nor"]),
            prop::collection::vec(inner.clone(), 0..3)
        )
            .prop_map(|(op, cs)| obj(vec![(op, Value::Array(cs))])),
        inner.prop_map(|c| obj(vec![("$not", c)])),
    ];
    prop::collection::vec(prop_oneof![2 => field, 1 => logical], 0..3)
        .prop_map(merge)
        .boxed()
}

fn merge(parts: Vec<Value>) -> Value {
    let mut pairs = Vec::new();
    for p in parts {
        if let Value::Object(ps) = p {
            pairs.extend(ps);
        }
    }
    Value::object(pairs)
}

fn groups_json() -> Value {
    obj(vec![(
        "g1",
        Value::Array(vec![s("a"), Value::Number(1.0), s("1.2.3"), Value::Null]),
    )])
}

fn compiled_eval(cond: &Value, doc: &Value, dialect: Dialect) -> Result<bool, String> {
    let (names, groups) = compile_saved_groups(&groups_json()).unwrap();
    let c = compile(cond, &names, dialect).map_err(|e| e.to_string())?;
    let bytes = postcard::to_allocvec(&(&c, &groups)).unwrap();
    let (c2, g2): (Cond, SavedGroups) = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(c, c2);
    Ok(c2.eval(doc, &g2))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn compiled_matches_reference(cond in condition(2), doc in document()) {
        let expected = r_eval_condition(&doc, &cond, &groups_json());
        let got = compiled_eval(&cond, &doc, Dialect::GrowthBook);
        prop_assert_eq!(got, Ok(expected), "condition {:?}\ndoc {:?}", cond, doc);
        if let Ok(strict) = compiled_eval(&cond, &doc, Dialect::Strict) {
            prop_assert_eq!(strict, expected);
        }
    }

    /// Planned conditions (shared atoms, memoized per document) ≡ the compiled tree,
    /// with several conditions sharing one plan table and one memo, as in a bundle.
    #[test]
    fn planned_matches_compiled(conds in prop::collection::vec(condition(2), 1..4), doc in document()) {
        let (names, groups) = compile_saved_groups(&groups_json()).unwrap();
        let compiled: Vec<Cond> = conds
            .iter()
            .filter_map(|c| compile(c, &names, Dialect::GrowthBook).ok())
            .collect();
        let mut plans = Plans::default();
        let planned: Vec<_> = compiled.iter().map(|c| plans.plan(c)).collect();
        let mut memo = Memo::new(&plans);
        for (c, p) in compiled.iter().zip(&planned) {
            let got = p.eval(&plans, &mut memo, &|_, path| doc.read(path), &groups);
            prop_assert_eq!(got, c.eval(&doc, &groups), "condition {:?}\ndoc {:?}", c, doc);
        }
    }

    #[test]
    fn scalar_tests_match_reference(c in value_cond(1), v in doc_value()) {
        let cond = obj(vec![("x", c)]);
        let doc = obj(vec![("x", v)]);
        let expected = r_eval_condition(&doc, &cond, &groups_json());
        prop_assert_eq!(compiled_eval(&cond, &doc, Dialect::GrowthBook), Ok(expected), "condition {:?}\ndoc {:?}", cond, doc);
    }

    #[test]
    fn number_to_string_matches_reference(bits in any::<u64>()) {
        let n = f64::from_bits(bits);
        let (ours, reference) = (slotwise::rules::js::number_to_string(n), r_num_to_string(n));
        // When the exact value lies halfway between two shortest candidates, ECMAScript
        // recommends the even digit (ryu does that); Rust's `{:e}` may round up. Both
        // are shortest and round-trip; accept exactly that difference.
        let tie = ours.len() == reference.len()
            && ours[..ours.len() - 1] == reference[..reference.len() - 1]
            && ours.parse::<f64>().ok() == Some(n)
            && reference.parse::<f64>().ok() == Some(n);
        prop_assert!(ours == reference || tie, "{} vs {}", ours, reference);
    }

    #[test]
    fn string_to_number_matches_reference(s in "[ +\\-0-9.eExXa-f]{0,8}") {
        let a = slotwise::rules::js::string_to_number(&s);
        let b = r_str_to_number(&s);
        prop_assert!(a == b || (a.is_nan() && b.is_nan()), "{:?}: {} vs {}", s, a, b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Untrusted bytes never panic: they decode to an error, or to rules that evaluate.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), doc in document()) {
        if let Ok((c, g)) = postcard::from_bytes::<(Cond, SavedGroups)>(&bytes) {
            let _ = c.eval(&doc, &g);
        }
        if let Ok(v) = postcard::from_bytes::<Value>(&bytes) {
            let cond = slotwise::rules::Cond::Field {
                path: vec!["x".into()],
                test: slotwise::rules::Test::StrEq("1".into()),
            };
            let _ = cond.eval(&obj(vec![("x", v)]), &SavedGroups::default());
        }
    }

    /// Valid encodings with a flipped byte: same guarantee, closer to real corruption.
    #[test]
    fn corrupted_conditions_never_panic(cond in condition(2), at in any::<prop::sample::Index>(), byte in any::<u8>(), doc in document()) {
        let (names, groups) = compile_saved_groups(&groups_json()).unwrap();
        let c = compile(&cond, &names, Dialect::GrowthBook).unwrap();
        let mut bytes = postcard::to_allocvec(&(&c, &groups)).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        if let Ok((c, g)) = postcard::from_bytes::<(Cond, SavedGroups)>(&bytes) {
            let _ = c.eval(&doc, &g);
        }
    }
}
