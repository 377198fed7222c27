//! A program for uprobe tests: `probe-test-target N [MS]` calls `probe_target_add(i, 10)`
//! for `i` in `0..N` (waiting MS milliseconds before each call), then
//! `probe_target_greet("hello")`; they are not inlined, so that uprobes on them fire a
//! known number of times with known arguments. Each call also passes the USDT probe
//! `probe_target:tick` with arguments `(i, 10)`.

use std::ffi::{c_char, CStr};
use std::hint::black_box;

/// Adds its arguments, passing the USDT probe `probe_target:tick` with them.
#[no_mangle]
#[inline(never)]
pub extern "C" fn probe_target_add(a: u64, b: u64) -> u64 {
    let (a, b) = (black_box(a), black_box(b));
    // A SystemTap SDT note, as <sys/sdt.h> writes one: the probe's address, the base
    // section's, no semaphore, provider, name and how to find the arguments.
    // SAFETY: a `nop` and notes in sections of their own; the registers are only read.
    unsafe {
        std::arch::asm!(
            "990: nop",
            ".pushsection .note.stapsdt,\"\",\"note\"",
            ".balign 4",
            ".4byte 992f-991f, 994f-993f, 3",
            "991: .asciz \"stapsdt\"",
            "992: .balign 4",
            "993: .8byte 990b",
            ".8byte _.stapsdt.base",
            ".8byte 0",
            ".asciz \"probe_target\"",
            ".asciz \"tick\"",
            ".asciz \"8@{0} -8@{1}\"",
            "994: .balign 4",
            ".popsection",
            ".ifndef _.stapsdt.base",
            ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat",
            ".weak _.stapsdt.base",
            ".hidden _.stapsdt.base",
            "_.stapsdt.base: .space 1",
            ".size _.stapsdt.base, 1",
            ".popsection",
            ".endif",
            in(reg) a,
            in(reg) b,
            options(att_syntax, nostack, preserves_flags)
        );
    }
    a + b
}

/// Returns the length of a C string.
#[no_mangle]
#[inline(never)]
pub extern "C" fn probe_target_greet(name: *const c_char) -> u64 {
    // SAFETY: callers pass a NUL-terminated string.
    unsafe { CStr::from_ptr(black_box(name)) }.to_bytes().len() as u64
}

fn main() {
    let arg = |i: usize| std::env::args().nth(i).and_then(|a| a.parse::<u64>().ok());
    let (n, pause) = (arg(1).unwrap_or(1), arg(2).unwrap_or(0));
    let mut sum = 0;
    for i in 0..n {
        std::thread::sleep(std::time::Duration::from_millis(pause));
        sum += probe_target_add(i, 10);
    }
    let greeting = c"hello";
    sum += probe_target_greet(greeting.as_ptr());
    // Nothing printed: the tests compare the tracer's output alone.
    black_box(sum);
}
