//! What the running kernel supports.

use std::path::Path;

/// True if the kernel can create kprobes (CONFIG_KPROBES).
pub fn kprobes_supported() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || Path::new(crate::tracefs::TRACEFS)
            .join("kprobe_events")
            .exists()
}

/// True if the kernel runs BPF trampolines (`BPF_PROG_TYPE_TRACING`: fentry, fexit).
pub fn trampolines_supported() -> bool {
    // SAFETY: a probe load with no options.
    unsafe {
        libbpf_sys::libbpf_probe_bpf_prog_type(libbpf_sys::BPF_PROG_TYPE_TRACING, std::ptr::null())
            == 1
    }
}

/// Why this machine cannot attach a probe of `kind`, with what to use instead; `None`
/// when it can, as far as can be told before loading.
pub fn unavailable(kind: &probe_lang::AttachKind) -> Option<String> {
    use probe_lang::AttachKind;
    match kind {
        AttachKind::Kprobe { .. } if !kprobes_supported() => Some(
            "this kernel has no kprobe support (CONFIG_KPROBES is not set: no kprobe PMU and \
             no kprobe_events in tracefs); use a tracepoint instead (probe -l lists them, e.g. \
             tracepoint:syscalls:sys_enter_read)"
                .into(),
        ),
        AttachKind::Iter { .. } if !trampolines_supported() => Some(
            "this kernel cannot run BPF iterators (BPF_PROG_TYPE_TRACING is not available); \
             read /proc instead, or use a tracepoint (probe -l lists them)"
                .into(),
        ),
        AttachKind::Fentry { .. } if !trampolines_supported() => Some(
            "this kernel cannot run BPF trampolines (BPF_PROG_TYPE_TRACING is not available); \
             use kprobe: where the kernel has kprobes, or a tracepoint (probe -l lists them)"
                .into(),
        ),
        AttachKind::Hardware { .. } if !crate::perf::has_hardware_pmu() => Some(
            "this machine has no hardware performance counters (no `cpu` PMU in \
             /sys/bus/event_source/devices, as in most virtual machines); use \
             software:cpu-clock or profile:hz:99 instead"
                .into(),
        ),
        _ => None,
    }
}
