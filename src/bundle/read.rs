//! The `SWB1` body read by hand over [`crate::wire`], in the postcard order the types
//! declare (their serde derives stay for encoding, the CLI and tests).
//!
//! serde's derived postcard decoders were a fifth of the browser module's code (a
//! visitor per struct and enum, a `Vec`/`Option` visitor per element type). This
//! reader accepts exactly the bytes postcard accepts and builds the same values:
//! `tests/bundle_reader.rs` compares it with postcard on real bundles, every rule
//! corpus condition, and mutated and truncated bytes. Like postcard's `from_bytes`,
//! it ignores bytes after the body. The recursive rule types count their nesting as
//! [`crate::rules::depth`] does, so crafted bytes cannot overflow the stack.

use super::{Bundle, Content, Header, Item, PageSettings, Slot, Strategy};
use crate::caps::{Cap, CapScope};
use crate::experiment::{Effect, ExperimentDef, Holdout, Variation};
use crate::rules::action::Action;
use crate::rules::condition::{JsType, Op, Scalar, VersionOp};
use crate::rules::depth::MAX_DECODE_DEPTH;
use crate::rules::js::{Prim, Rel};
use crate::rules::regex::Pattern;
use crate::rules::{Cond, Rule, SavedGroups, Test, Value};
use crate::score::{Model, Params, Quant};
use crate::wire::{Fail, Read, Reader};

/// No bound on a sequence's length but the input's own size.
const ANY: usize = usize::MAX;

/// Reads a bundle body.
pub fn bundle(r: &mut Reader) -> Read<Bundle> {
    Ok(Bundle {
        header: Header {
            id: r.string()?,
            created_at: r.u64()?,
            site: r.string()?,
            key_id: r.string()?,
        },
        slots: r.seq(ANY, slot)?,
        items: r.seq(ANY, |r| {
            Ok(Item {
                id: r.string()?,
                category: r.string()?,
                content: r.u32()?,
            })
        })?,
        content: r.seq(ANY, content)?,
        model: model(r)?,
        saved_groups: SavedGroups {
            groups: r.seq(ANY, |r| r.seq(ANY, scalar))?,
        },
        experiments: r.seq(ANY, experiment)?,
        holdout: r.option(|r| {
            Ok(Holdout {
                share: r.f64()?,
                seed: r.string()?,
            })
        })?,
        caps: r.seq(ANY, |r| {
            Ok(Cap {
                scope: cap_scope(r)?,
                limit: r.u16()?,
                period_secs: r.u32()?,
            })
        })?,
        page: PageSettings {
            category_cap: r.u8()?,
        },
    })
}

/// Reads a rule [`Value`] (the page context crosses the boundary in this form).
pub fn value(r: &mut Reader) -> Read<Value> {
    value_at(r, 0)
}

fn slot(r: &mut Reader) -> Read<Slot> {
    Ok(Slot {
        name: r.string()?,
        default_content: r.u32()?,
        candidates: r.seq(ANY, Reader::u32)?,
        rules: r.seq(ANY, rule)?,
        strategy: match r.u32()? {
            0 => Strategy::Priority,
            1 => Strategy::Model,
            _ => return Err(Fail::Bad),
        },
        count: r.u8()?,
        experiment: r.option_u32()?,
    })
}

fn rule(r: &mut Reader) -> Read<Rule> {
    Ok(Rule {
        id: r.string()?,
        when: r.option(|r| cond(r, 0))?,
        action: match r.u32()? {
            0 => Action::Include,
            1 => Action::Exclude,
            2 => Action::Pin,
            3 => Action::Boost(r.f32()?),
            4 => Action::Bury(r.f32()?),
            _ => return Err(Fail::Bad),
        },
        items: r.seq(ANY, Reader::u32)?,
        requires_personalization: r.bool()?,
        text: r.option(Reader::string)?,
    })
}

fn content(r: &mut Reader) -> Read<Content> {
    Ok(Content {
        id: r.string()?,
        title: r.option(Reader::string)?,
        body: r.option(Reader::string)?,
        image: r.option(Reader::string)?,
        link: r.option(Reader::string)?,
        cta: r.option(Reader::string)?,
        price: r.option(Reader::f64)?,
    })
}

fn model(r: &mut Reader) -> Read<Model> {
    Ok(Model {
        params: Params {
            w_prior: r.f32()?,
            w_seq: r.f32()?,
            w_co: r.f32()?,
            w_rep: r.f32()?,
            w_last: r.f32()?,
            decay_seq: r.f32()?,
            decay_co: r.f32()?,
            decay_rep: r.f32()?,
            history: r.u8()?,
            w_content: r.f32()?,
            w_affinity: r.f32()?,
            explore: r.f32()?,
        },
        prior: r.seq(ANY, Reader::u8)?,
        popular: r.seq(ANY, Reader::u32)?,
        lengths: r.seq(ANY, Reader::u8)?,
        neighbours: r.seq(ANY, Reader::u8)?,
        weights: r.seq(ANY, Reader::u8)?,
        seq_quant: quant(r)?,
        co_quant: quant(r)?,
        embed_dim: r.u8()?,
        embeddings: r.seq(ANY, |r| r.u8().map(|b| b as i8))?,
    })
}

fn quant(r: &mut Reader) -> Read<Quant> {
    Ok(Quant {
        lo: r.f32()?,
        hi: r.f32()?,
    })
}

fn experiment(r: &mut Reader) -> Read<ExperimentDef> {
    Ok(ExperimentDef {
        key: r.string()?,
        seed: r.string()?,
        hash_version: r.u8()?,
        coverage: r.f64()?,
        weights: r.seq(ANY, Reader::f64)?,
        namespace: r.option(|r| Ok((r.string()?, r.f64()?, r.f64()?)))?,
        variations: r.seq(ANY, |r| {
            Ok(Variation {
                name: r.string()?,
                effect: match r.u32()? {
                    0 => Effect::Personalized,
                    1 => Effect::Default,
                    2 => Effect::Pin(r.u32()?),
                    _ => return Err(Fail::Bad),
                },
            })
        })?,
    })
}

fn cap_scope(r: &mut Reader) -> Read<CapScope> {
    Ok(match r.u32()? {
        0 => CapScope::Item(r.u32()?),
        1 => CapScope::Slot(r.u32()?),
        2 => CapScope::Campaign(r.u32()?),
        _ => return Err(Fail::Bad),
    })
}

/// One more level of `Cond` / `Test` / `Value` nesting, refused past the limit before
/// anything of the value is read (as the serde guard does).
fn deeper(depth: u32) -> Read<u32> {
    if depth >= MAX_DECODE_DEPTH {
        Err(Fail::Bad)
    } else {
        Ok(depth + 1)
    }
}

fn cond(r: &mut Reader, depth: u32) -> Read<Cond> {
    let depth = deeper(depth)?;
    Ok(match r.u32()? {
        0 => Cond::All(r.seq(ANY, |r| cond(r, depth))?),
        1 => Cond::Any(r.seq(ANY, |r| cond(r, depth))?),
        2 => Cond::Not(Box::new(cond(r, depth)?)),
        3 => Cond::Field {
            path: r.seq(ANY, Reader::string)?,
            test: test(r, depth)?,
        },
        4 => Cond::Const(r.bool()?),
        _ => return Err(Fail::Bad),
    })
}

fn test(r: &mut Reader, depth: u32) -> Read<Test> {
    let depth = deeper(depth)?;
    Ok(match r.u32()? {
        0 => Test::StrEq(r.string()?),
        1 => Test::StrEqFold(r.string()?),
        2 => Test::NumEq(r.f64()?),
        3 => Test::BoolEq(r.bool()?),
        4 => Test::IsNull,
        5 => Test::JsonEq(value_at(r, depth)?),
        6 => Test::Ops(r.seq(ANY, |r| op(r, depth))?),
        _ => return Err(Fail::Bad),
    })
}

fn op(r: &mut Reader, depth: u32) -> Read<Op> {
    Ok(match r.u32()? {
        0 => Op::Version(
            match r.u32()? {
                0 => VersionOp::Eq,
                1 => VersionOp::Ne,
                2 => VersionOp::Gt,
                3 => VersionOp::Gte,
                4 => VersionOp::Lt,
                5 => VersionOp::Lte,
                _ => return Err(Fail::Bad),
            },
            r.string()?,
        ),
        1 => Op::Eq(scalar(r)?),
        2 => Op::Ne(scalar(r)?),
        3 => Op::Cmp(
            match r.u32()? {
                0 => Rel::Lt,
                1 => Rel::Lte,
                2 => Rel::Gt,
                3 => Rel::Gte,
                _ => return Err(Fail::Bad),
            },
            match r.u32()? {
                0 => Prim::Str(r.string()?),
                1 => Prim::Num(r.f64()?),
                _ => return Err(Fail::Bad),
            },
        ),
        4 => Op::Exists(r.bool()?),
        5 => Op::In {
            set: r.seq(ANY, scalar)?,
            fold: r.bool()?,
            negate: r.bool()?,
        },
        6 => Op::InGroup {
            group: r.u32()?,
            negate: r.bool()?,
        },
        7 => Op::Not(test(r, depth)?),
        8 => Op::Size(test(r, depth)?),
        9 => Op::ElemMatch(test(r, depth)?),
        10 => Op::ElemMatchDoc(cond(r, depth)?),
        11 => Op::All(r.seq(ANY, |r| test(r, depth))?),
        12 => {
            let source = r.string()?;
            let insensitive = r.bool()?;
            Op::Regex(Pattern::new(&source, insensitive).map_err(|_| Fail::Bad)?)
        }
        13 => Op::Type(match r.u32()? {
            0 => JsType::Null,
            1 => JsType::Boolean,
            2 => JsType::Number,
            3 => JsType::String,
            4 => JsType::Array,
            5 => JsType::Object,
            _ => return Err(Fail::Bad),
        }),
        14 => Op::Const(r.bool()?),
        _ => return Err(Fail::Bad),
    })
}

fn scalar(r: &mut Reader) -> Read<Scalar> {
    Ok(match r.u32()? {
        0 => Scalar::Null,
        1 => Scalar::Bool(r.bool()?),
        2 => Scalar::Num(r.f64()?),
        3 => Scalar::Str(r.string()?),
        _ => return Err(Fail::Bad),
    })
}

fn value_at(r: &mut Reader, depth: u32) -> Read<Value> {
    let depth = deeper(depth)?;
    Ok(match r.u32()? {
        0 => Value::Null,
        1 => Value::Bool(r.bool()?),
        2 => Value::Number(r.f64()?),
        3 => Value::String(r.string()?),
        4 => Value::Array(r.seq(ANY, |r| value_at(r, depth))?),
        5 => Value::Object(r.seq(ANY, |r| Ok((r.string()?, value_at(r, depth)?)))?),
        _ => return Err(Fail::Bad),
    })
}
