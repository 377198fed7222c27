//! probe-compiler: lowers a checked probe program to eBPF and describes the BPF object
//! (maps, programs, events) for the runtime.

pub mod big_values;
pub mod bpf;
pub mod builtins;
pub mod codegen;
pub mod ir;
pub mod listing;
pub mod lower;
pub mod object;
pub mod program;

pub use builtins::{ArgValue, BuiltinFormat, BuiltinLowering, RenderedAggregation, Stdlib};
pub use program::{CompiledProbe, CompiledProgram, EventKind, MapMeta, ScriptMap};

use probe_lang::types::Type;
use probe_lang::{CheckedProgram, Diagnostic, MapKind};
use program::*;

/// Compiles a checked program: one BPF program per attach point, plus its maps and events.
pub fn compile(
    checked: &CheckedProgram,
    builtins: &dyn BuiltinLowering,
) -> Result<CompiledProgram, Vec<Diagnostic>> {
    let settings = &checked.settings;
    let mut maps: Vec<MapMeta> = checked
        .maps
        .iter()
        .map(|m| script_map(m, settings.max_map_keys))
        .collect();
    let ringbuf = maps.len() as u32;
    maps.push(MapMeta {
        object_name: "ringbuf".into(),
        map_type: MAP_RINGBUF,
        key_size: 0,
        value_size: 0,
        max_entries: settings.perf_rb_pages * PAGE_SIZE,
        script: None,
    });
    let lost_events = maps.len() as u32;
    maps.push(MapMeta {
        object_name: "lost_events".into(),
        map_type: MAP_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        script: None,
    });
    let control = maps.len() as u32;
    maps.push(MapMeta {
        object_name: "control".into(),
        map_type: MAP_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        script: None,
    });
    // Map loops keep state in a per-CPU scratch map, which exists only if some loop does.
    let scratch_used = std::cell::Cell::new(0);
    let session_values = std::cell::RefCell::new(vec![]);
    let stacks_used = std::cell::Cell::new(false);
    let scratch = lower::Scratch {
        session_values: &session_values,
        stacks_used: &stacks_used,
        map: maps.len() as u32,
        used: &scratch_used,
    };
    let mut events = vec![];
    let mut probes = vec![];
    let mut errors = vec![];
    for cp in &checked.probes {
        for point in &cp.points {
            let kind = &point.kind;
            let program_name = kind.program_name();
            let result = lower::lower_probe(
                &program_name,
                kind,
                cp,
                &maps,
                &mut events,
                builtins,
                ringbuf,
                lost_events,
                control,
                scratch,
                checked.pid,
            )
            .and_then(|mut ir| {
                for f in &mut ir {
                    big_values::fit_frame(f, scratch, cp.probe.span)?;
                }
                let (insns, insn_spans, functions) = codegen::compile_program(&ir, cp.probe.span)?;
                Ok((ir, insns, insn_spans, functions))
            });
            match result {
                Ok((ir, insns, insn_spans, functions)) => probes.push(CompiledProbe {
                    attach: kind.clone(),
                    attach_text: point.text.clone(),
                    span: point.span,
                    section: section_for(kind),
                    program_name,
                    ir,
                    insns,
                    functions,
                    insn_spans,
                    ctx_size: cp.ctx_size,
                }),
                Err(d) => errors.push(d),
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    dedup_program_names(&mut probes);
    // The stack map comes right after the scratch map, which then exists too.
    if scratch_used.get() > 0 || stacks_used.get() {
        maps.push(MapMeta {
            object_name: "scratch".into(),
            map_type: MAP_PERCPU_ARRAY,
            key_size: 4,
            value_size: scratch_used.get().max(8),
            max_entries: 1,
            script: None,
        });
    }
    if stacks_used.get() {
        maps.push(MapMeta {
            object_name: "stacks".into(),
            map_type: MAP_STACK_TRACE,
            key_size: 4,
            value_size: u32::from(probe_lang::types::MAX_STACK_FRAMES) * 8,
            max_entries: settings.max_map_keys,
            script: None,
        });
    }
    Ok(CompiledProgram {
        probes,
        maps,
        events,
        ringbuf,
        lost_events,
        control,
        settings: settings.clone(),
        session_values: session_values.into_inner(),
    })
}

/// Two attach points of the same kind and target get distinct program names.
fn dedup_program_names(probes: &mut [CompiledProbe]) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for p in probes {
        let n = seen.entry(p.program_name.clone()).or_insert(0);
        if *n > 0 {
            p.program_name = format!("{}_{}", p.program_name, n);
        }
        *n += 1;
    }
}

/// The BPF map that holds a script map: integers take 8 bytes in keys and values,
/// strings their length rounded up to 8; aggregations live in per-CPU hashes.
fn script_map(info: &probe_lang::MapInfo, max_map_keys: u32) -> MapMeta {
    let mut key = vec![];
    let mut key_size = 0;
    for t in &info.key {
        key.push((t.clone(), key_size));
        key_size += t.size().div_ceil(8) * 8;
    }
    let (default_type, value_size) = match &info.value {
        Type::Agg(agg) => (MAP_PERCPU_HASH, agg.value_size()),
        t => (MAP_HASH, t.size().div_ceil(8) * 8),
    };
    let (map_type, max_entries) = match info.declared {
        None => (default_type, max_map_keys),
        Some((kind, size)) => (
            match kind {
                MapKind::Hash => MAP_HASH,
                MapKind::LruHash => MAP_LRU_HASH,
                MapKind::PerCpuHash => MAP_PERCPU_HASH,
                MapKind::PerCpuLruHash => MAP_LRU_PERCPU_HASH,
                MapKind::PerCpuArray => MAP_PERCPU_ARRAY,
            },
            size,
        ),
    };
    // An array's key is a u32 index; the low half of the 8-byte integer stored there.
    let key_size = if map_type == MAP_PERCPU_ARRAY {
        4
    } else {
        key_size.max(8)
    };
    MapMeta {
        object_name: format!("AT_{}", info.name.trim_start_matches('@')),
        map_type,
        key_size,
        value_size,
        max_entries,
        script: Some(ScriptMap {
            name: info.name.clone(),
            key,
            value: info.value.clone(),
        }),
    }
}

/// Runs the local verifier on every program, and on each callback as a function of its
/// own; a rejection points at the script.
pub fn verify_program(compiled: &CompiledProgram) -> Result<(), Vec<Diagnostic>> {
    let map_count = compiled.maps.len() as u32;
    let errors: Vec<Diagnostic> = compiled
        .probes
        .iter()
        .filter_map(|p| {
            let ends = p.functions.iter().skip(1).copied().chain([p.insns.len()]);
            p.functions.iter().zip(ends).enumerate().find_map(|(n, (&start, end))| {
                let env = if n == 0 {
                    bpf::VerifyEnv::new(p.ctx_size, map_count)
                } else {
                    bpf::VerifyEnv::callback(map_count)
                };
                let e = bpf::verify(&p.insns[start..end], &env).err()?;
                let insn = start + e.insn;
                let span = p.insn_spans.get(insn).copied().unwrap_or(p.span);
                Some(
                    Diagnostic::error(
                        span,
                        format!("the BPF verifier would reject this probe: {}", e.message),
                    )
                    .with_label(format!("instruction {insn} comes from here"))
                    .with_related(p.span, format!("in the program for {}", p.attach_text))
                    .with_note(
                        if e.message.contains("too large") || e.message.contains("infinite loop") {
                            "the verifier must see every loop end: make sure the loop's condition \
                         eventually fails (for example `for ($i : 0..N)`, or a counter that \
                         always moves toward its bound)"
                        } else {
                            "this is a bug in probe's code generator: please report it with the script"
                        },
                    ),
                )
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
