//! Short import and export names for the browser module. wasm-bindgen names each JS
//! import `__wbg_<name>_<16 hex digits>`, and those random digits appear twice, in the
//! module's import section and in the glue's `imports.wbg.<name> = ...`: gzip cannot
//! compress them. Renaming the 25 imports to `a`, `b`, ... saves 1.1 KB gzip of the
//! browser entry (wasm and minified glue together); the 46 exports (`engine_decide`,
//! ..., read by the glue only, as `wasm.<name>`) another 0.46 KB.
//!
//! The rename touches only the names of function imports from the `wbg` module, each
//! of which must appear exactly once in the glue as an assignment, and export names,
//! which the glue must read only as `wasm.<name>` (never `exports.<name>` or a quoted
//! name); otherwise the build fails (a wasm-bindgen whose glue looks different must
//! not ship a module that cannot link).

/// Renames the `wbg` function imports and the exports of `wasm`, and their uses in
/// `glue`.
pub fn names(wasm: &[u8], glue: &str) -> Result<(Vec<u8>, String), String> {
    if wasm.len() < 8 || wasm[..4] != *b"\0asm" {
        return Err("not a wasm module".into());
    }
    let mut out = wasm[..8].to_vec();
    let mut glue = glue.to_string();
    let mut at = 8;
    let mut renamed = 0;
    let mut exports = std::collections::HashMap::new();
    while at < wasm.len() {
        let id = wasm[at];
        let (size, body_at) = leb(wasm, at + 1)?;
        let end = body_at
            .checked_add(size as usize)
            .filter(|&e| e <= wasm.len())
            .ok_or("a section runs past the end of the module")?;
        let body = &wasm[body_at..end];
        at = end;
        if id == 7 {
            let (count, mut p) = leb(body, 0)?;
            let mut section = Vec::with_capacity(body.len());
            push_leb(&mut section, count);
            for i in 0..count as usize {
                let (old, q) = name(body, p)?;
                let desc_end = leb(body, q + 1)?.1;
                let new = short_name(i);
                push_leb(&mut section, new.len() as u32);
                section.extend_from_slice(new.as_bytes());
                section.extend_from_slice(&body[q..desc_end]);
                exports.insert(old.to_string(), new);
                p = desc_end;
            }
            if p != body.len() {
                return Err("the export section has trailing bytes".into());
            }
            out.push(7);
            push_leb(&mut out, section.len() as u32);
            out.extend_from_slice(&section);
            continue;
        }
        if id != 2 {
            out.push(id);
            push_leb(&mut out, size);
            out.extend_from_slice(body);
            continue;
        }
        let (count, mut p) = leb(body, 0)?;
        let mut section = Vec::with_capacity(body.len());
        push_leb(&mut section, count);
        for _ in 0..count {
            let (module, q) = name(body, p)?;
            let (field, q) = name(body, q)?;
            let desc_end = descriptor_end(body, q)?;
            let desc = &body[q..desc_end];
            p = desc_end;
            let new = if module == "wbg" && desc[0] == 0 {
                let new = short_name(renamed);
                let old = format!("imports.wbg.{field} = ");
                if glue.matches(&old).count() != 1 {
                    return Err(format!("the glue does not assign import {field} once"));
                }
                glue = glue.replace(&old, &format!("imports.wbg.{new} = "));
                renamed += 1;
                new
            } else {
                field.to_string()
            };
            for s in [module, new.as_str()] {
                push_leb(&mut section, s.len() as u32);
                section.extend_from_slice(s.as_bytes());
            }
            section.extend_from_slice(desc);
        }
        if p != body.len() {
            return Err("the import section has trailing bytes".into());
        }
        out.push(2);
        push_leb(&mut out, section.len() as u32);
        out.extend_from_slice(&section);
    }
    let glue = rename_export_uses(&glue, &exports)?;
    Ok((out, glue))
}

/// Rewrites every `wasm.<export>` in one pass (so a new name is never renamed again)
/// and checks that the glue reads no export another way (`exports.<name>`, a quoted
/// name).
fn rename_export_uses(
    glue: &str,
    exports: &std::collections::HashMap<String, String>,
) -> Result<String, String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let mut out = String::with_capacity(glue.len());
    let mut rest = glue;
    while let Some(at) = rest.find("wasm.") {
        let before_ok = !rest[..at].ends_with(ident);
        out.push_str(&rest[..at + 5]);
        rest = &rest[at + 5..];
        let end = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
        match exports.get(&rest[..end]) {
            Some(new) if before_ok => out.push_str(new),
            _ => out.push_str(&rest[..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    for old in exports.keys() {
        if out.contains(&format!("exports.{old}"))
            || out.contains(&format!("'{old}'"))
            || out.contains(&format!("\"{old}\""))
        {
            return Err(format!(
                "the glue reads export {old} in a way this build cannot rename"
            ));
        }
    }
    Ok(out)
}

/// `a`..`z`, `A`..`Z`, then two letters.
fn short_name(mut n: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut s = String::new();
    loop {
        s.push(LETTERS[n % LETTERS.len()] as char);
        n /= LETTERS.len();
        if n == 0 {
            return s;
        }
        n -= 1;
    }
}

fn leb(bytes: &[u8], mut at: usize) -> Result<(u32, usize), String> {
    let mut value = 0u32;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(at).ok_or("a LEB128 number runs past the end")?;
        at += 1;
        value |= u32::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok((value, at));
        }
    }
    Err("a LEB128 number is too long".into())
}

fn push_leb(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn name(bytes: &[u8], at: usize) -> Result<(&str, usize), String> {
    let (len, at) = leb(bytes, at)?;
    let end = at + len as usize;
    let s = bytes.get(at..end).ok_or("a name runs past the end")?;
    Ok((std::str::from_utf8(s).map_err(|e| e.to_string())?, end))
}

/// Where an import's descriptor (kind byte and type) ends.
fn descriptor_end(bytes: &[u8], at: usize) -> Result<usize, String> {
    let kind = *bytes.get(at).ok_or("an import has no kind")?;
    let limits = |at: usize| -> Result<usize, String> {
        let flags = *bytes.get(at).ok_or("limits run past the end")?;
        let (_, at) = leb(bytes, at + 1)?;
        Ok(if flags & 1 == 1 {
            leb(bytes, at)?.1
        } else {
            at
        })
    };
    match kind {
        0 => Ok(leb(bytes, at + 1)?.1),
        1 => limits(at + 2),
        2 => limits(at + 1),
        3 => Ok(at + 3),
        4 => Ok(leb(bytes, at + 2)?.1),
        k => Err(format!("unknown import kind {k}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing `wbg.__wbg_log_0123456789abcdef` (func) and `env.memory`.
    fn module() -> Vec<u8> {
        let mut imports = vec![2];
        for (m, f, desc) in [
            ("wbg", "__wbg_log_0123456789abcdef", &[0u8, 0][..]),
            ("env", "memory", &[2, 0, 1][..]),
        ] {
            imports.push(m.len() as u8);
            imports.extend_from_slice(m.as_bytes());
            imports.push(f.len() as u8);
            imports.extend_from_slice(f.as_bytes());
            imports.extend_from_slice(desc);
        }
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]); // type section: () -> ()
        wasm.push(2);
        wasm.push(imports.len() as u8);
        wasm.extend_from_slice(&imports);
        // export section: engine_decide (func 0), memory (memory 0)
        wasm.extend_from_slice(b"\x07\x1a\x02\x0dengine_decide\0\0\x06memory\x02\0");
        wasm
    }

    #[test]
    fn wbg_function_imports_get_short_names_in_module_and_glue() {
        let glue = "imports.wbg.__wbg_log_0123456789abcdef = function(a) {};\n";
        let (wasm, glue) = names(&module(), glue).unwrap();
        assert_eq!(glue, "imports.wbg.a = function(a) {};\n");
        let text = String::from_utf8_lossy(&wasm);
        assert!(text.contains("\x03wbg\x01a\0\0") && text.contains("\x03env\x06memory"));
        assert!(!text.contains("__wbg_log"));
        assert_eq!(&wasm[..14], &module()[..14]);
    }

    #[test]
    fn exports_get_short_names_where_the_glue_reads_them() {
        let glue = "imports.wbg.__wbg_log_0123456789abcdef = 1;\n\
                    wasm.engine_decide(wasm.memory.buffer); mywasm.memory; wasm.engine_decided;\n";
        let (wasm, glue) = names(&module(), glue).unwrap();
        assert_eq!(
            glue,
            "imports.wbg.a = 1;\nwasm.a(wasm.b.buffer); mywasm.memory; wasm.engine_decided;\n"
        );
        assert!(String::from_utf8_lossy(&wasm).ends_with("\x07\x09\x02\x01a\0\0\x01b\x02\0"));
        let quoted = "imports.wbg.__wbg_log_0123456789abcdef = 1; x['memory'];";
        assert!(names(&module(), quoted).is_err());
    }

    #[test]
    fn an_import_the_glue_does_not_assign_fails_the_build() {
        assert!(names(&module(), "imports.wbg.other = 1;").is_err());
        assert!(names(b"\0asm\x01\0\0\0\x02\x05\x01", "").is_err());
    }

    #[test]
    fn names_stay_unique_past_the_alphabet() {
        let names: std::collections::HashSet<_> = (0..3000).map(short_name).collect();
        assert_eq!(names.len(), 3000);
        assert_eq!(
            (short_name(0), short_name(51), short_name(52)),
            ("a".into(), "Z".into(), "aa".into())
        );
    }
}
