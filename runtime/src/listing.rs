//! `probe -l [PATTERN]` and `probe -lv`: the places probes can attach on this machine, in
//! bpftrace's format (sorted, one per line; with `-v`, a tracepoint's fields indented
//! below it); `probe -l 'uprobe:BINARY:*'` lists a binary's functions.

use probe_lang::attach::{HARDWARE_EVENTS, SOFTWARE_EVENTS};
use probe_lang::tracepoint::{field_declarations, glob_match};

/// Short probe-kind names and the full ones they stand for.
const SHORT_KINDS: [(&str, &str); 10] = [
    ("t", "tracepoint"),
    ("rt", "rawtracepoint"),
    ("k", "kprobe"),
    ("f", "fentry"),
    ("kr", "kretprobe"),
    ("u", "uprobe"),
    ("U", "usdt"),
    ("s", "software"),
    ("h", "hardware"),
    ("p", "profile"),
];

/// The pattern with a short kind spelled out (`t:sched:*` is `tracepoint:sched:*`); a
/// pattern without a kind matches the whole line.
fn full_pattern(pattern: &str) -> String {
    match pattern.split_once(':') {
        Some((kind, rest)) => match SHORT_KINDS.iter().find(|(short, _)| *short == kind) {
            Some((_, long)) => format!("{long}:{rest}"),
            None => pattern.to_string(),
        },
        None => pattern.to_string(),
    }
}

/// The listing: every attach point that matches `pattern` (all of them without one), with
/// tracepoint fields when `verbose`.
pub fn list(pattern: Option<&str>, verbose: bool) -> Result<String, String> {
    let pattern = pattern.map(full_pattern);
    // A binary's USDT probes: `usdt:BINARY:PATTERN`.
    if let Some(rest) = pattern.as_deref().and_then(|p| p.strip_prefix("usdt:")) {
        let binary = rest.split(':').next().unwrap_or(rest);
        let path = crate::uprobe::resolve(binary)?;
        let mut lines: Vec<String> = crate::usdt::probes(&path)?
            .into_iter()
            .map(|p| format!("usdt:{binary}:{}:{}", p.provider, p.name))
            .filter(|l| glob_match(pattern.as_deref().unwrap_or("*"), l))
            .collect();
        lines.sort();
        lines.dedup();
        return Ok(lines.iter().map(|l| format!("{l}\n")).collect());
    }
    // A binary's functions: `uprobe:BINARY:PATTERN`.
    if let Some(rest) = pattern.as_deref().and_then(|p| p.strip_prefix("uprobe:")) {
        let (binary, functions) = rest.split_once(':').unwrap_or((rest, "*"));
        let path = crate::uprobe::resolve(binary)?;
        let mut out = String::new();
        for f in crate::uprobe::functions(&path)? {
            if glob_match(functions, &f) {
                out.push_str(&format!("uprobe:{binary}:{f}\n"));
            }
        }
        return Ok(out);
    }
    let matches = |line: &str| pattern.as_deref().is_none_or(|p| glob_match(p, line));
    let mut lines: Vec<String> = vec![];
    let root =
        crate::tracefs::ensure_mounted().map_err(|e| format!("cannot mount tracefs: {e}"))?;
    let events = std::fs::read_to_string(root.join("available_events"))
        .map_err(|e| format!("cannot read the tracepoints: {e}"))?;
    for (category, event) in events.lines().filter_map(|l| l.split_once(':')) {
        lines.push(format!("tracepoint:{category}:{event}"));
        lines.push(format!("rawtracepoint:{event}"));
    }
    for e in SOFTWARE_EVENTS {
        lines.push(format!("software:{}:", e.name));
    }
    for e in HARDWARE_EVENTS {
        lines.push(format!("hardware:{}:", e.name));
    }
    let (kprobes, fentry) = (
        crate::kernel::kprobes_supported(),
        crate::kernel::trampolines_supported(),
    );
    if kprobes || fentry {
        if let Ok(text) = std::fs::read_to_string(root.join("available_filter_functions")) {
            for f in text.lines().filter_map(|l| l.split_whitespace().next()) {
                if kprobes {
                    lines.push(format!("kprobe:{f}"));
                }
                if fentry {
                    lines.push(format!("fentry:{f}"));
                }
            }
        }
    }
    lines.retain(|l| matches(l));
    lines.sort();
    lines.dedup();
    let kernel = crate::btf::KernelStructs::default();
    let mut out = String::new();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
        if let (true, Some(function)) = (verbose, line.strip_prefix("fentry:")) {
            for decl in kernel
                .function_declarations(function)
                .ok()
                .flatten()
                .unwrap_or_default()
            {
                out.push_str("    ");
                out.push_str(&decl);
                out.push('\n');
            }
        }
        if let (true, Some(rest)) = (verbose, line.strip_prefix("tracepoint:")) {
            let (category, event) = rest.split_once(':').expect("category:event");
            let path = root
                .join("events")
                .join(category)
                .join(event)
                .join("format");
            if let Ok(format) = std::fs::read_to_string(path) {
                for decl in field_declarations(&format) {
                    out.push_str("    ");
                    out.push_str(&decl);
                    out.push('\n');
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_kinds_are_spelled_out() {
        assert_eq!(full_pattern("t:sched:*"), "tracepoint:sched:*");
        assert_eq!(full_pattern("tracepoint:sched:*"), "tracepoint:sched:*");
        assert_eq!(full_pattern("*sched_switch*"), "*sched_switch*");
    }
}
