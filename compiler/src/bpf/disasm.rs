//! A disassembler whose output reads like the kernel verifier's log and `bpftool prog dump`.
//!
//! The text of each instruction follows the kernel's `print_bpf_insn` conventions, with two
//! differences meant for humans reading listings: memory offsets are spaced (`(r10 - 8)` rather
//! than `(r10 -8)`), and jump targets are written as a bare signed offset (`goto +3` rather
//! than `goto pc+3`).
//!
//! Numbers follow the kernel's choices:
//! - ALU immediates, `mov` immediates and store immediates are signed decimal (`r1 = -1`,
//!   `*(u8 *)(r10 - 1) = 0`);
//! - comparison immediates in conditional jumps are hexadecimal, printed as the unsigned 32-bit
//!   pattern of the immediate (`if r1 == 0xffffffff goto +1` for `-1`);
//! - `lddw` immediates are the full 64-bit value in hexadecimal followed by ` ll`;
//! - offsets (memory and jump) are signed decimal with an explicit sign.

use super::insn::{
    alu, class, jmp, mode, size, source, Insn, ATOMIC_CMPXCHG, ATOMIC_FETCH, ATOMIC_LOAD_ACQ,
    ATOMIC_STORE_REL, ATOMIC_XCHG, PSEUDO_CALL, PSEUDO_FUNC, PSEUDO_KFUNC_CALL, PSEUDO_MAP_FD,
};

/// Names of the kernel's BPF helpers, indexed by helper id (`enum bpf_func_id` in
/// `include/uapi/linux/bpf.h`). Index 0 is `BPF_FUNC_unspec`, which no program may call.
const HELPER_NAMES: [&str; 212] = [
    "bpf_unspec",
    "bpf_map_lookup_elem",
    "bpf_map_update_elem",
    "bpf_map_delete_elem",
    "bpf_probe_read",
    "bpf_ktime_get_ns",
    "bpf_trace_printk",
    "bpf_get_prandom_u32",
    "bpf_get_smp_processor_id",
    "bpf_skb_store_bytes",
    "bpf_l3_csum_replace",
    "bpf_l4_csum_replace",
    "bpf_tail_call",
    "bpf_clone_redirect",
    "bpf_get_current_pid_tgid",
    "bpf_get_current_uid_gid",
    "bpf_get_current_comm",
    "bpf_get_cgroup_classid",
    "bpf_skb_vlan_push",
    "bpf_skb_vlan_pop",
    "bpf_skb_get_tunnel_key",
    "bpf_skb_set_tunnel_key",
    "bpf_perf_event_read",
    "bpf_redirect",
    "bpf_get_route_realm",
    "bpf_perf_event_output",
    "bpf_skb_load_bytes",
    "bpf_get_stackid",
    "bpf_csum_diff",
    "bpf_skb_get_tunnel_opt",
    "bpf_skb_set_tunnel_opt",
    "bpf_skb_change_proto",
    "bpf_skb_change_type",
    "bpf_skb_under_cgroup",
    "bpf_get_hash_recalc",
    "bpf_get_current_task",
    "bpf_probe_write_user",
    "bpf_current_task_under_cgroup",
    "bpf_skb_change_tail",
    "bpf_skb_pull_data",
    "bpf_csum_update",
    "bpf_set_hash_invalid",
    "bpf_get_numa_node_id",
    "bpf_skb_change_head",
    "bpf_xdp_adjust_head",
    "bpf_probe_read_str",
    "bpf_get_socket_cookie",
    "bpf_get_socket_uid",
    "bpf_set_hash",
    "bpf_setsockopt",
    "bpf_skb_adjust_room",
    "bpf_redirect_map",
    "bpf_sk_redirect_map",
    "bpf_sock_map_update",
    "bpf_xdp_adjust_meta",
    "bpf_perf_event_read_value",
    "bpf_perf_prog_read_value",
    "bpf_getsockopt",
    "bpf_override_return",
    "bpf_sock_ops_cb_flags_set",
    "bpf_msg_redirect_map",
    "bpf_msg_apply_bytes",
    "bpf_msg_cork_bytes",
    "bpf_msg_pull_data",
    "bpf_bind",
    "bpf_xdp_adjust_tail",
    "bpf_skb_get_xfrm_state",
    "bpf_get_stack",
    "bpf_skb_load_bytes_relative",
    "bpf_fib_lookup",
    "bpf_sock_hash_update",
    "bpf_msg_redirect_hash",
    "bpf_sk_redirect_hash",
    "bpf_lwt_push_encap",
    "bpf_lwt_seg6_store_bytes",
    "bpf_lwt_seg6_adjust_srh",
    "bpf_lwt_seg6_action",
    "bpf_rc_repeat",
    "bpf_rc_keydown",
    "bpf_skb_cgroup_id",
    "bpf_get_current_cgroup_id",
    "bpf_get_local_storage",
    "bpf_sk_select_reuseport",
    "bpf_skb_ancestor_cgroup_id",
    "bpf_sk_lookup_tcp",
    "bpf_sk_lookup_udp",
    "bpf_sk_release",
    "bpf_map_push_elem",
    "bpf_map_pop_elem",
    "bpf_map_peek_elem",
    "bpf_msg_push_data",
    "bpf_msg_pop_data",
    "bpf_rc_pointer_rel",
    "bpf_spin_lock",
    "bpf_spin_unlock",
    "bpf_sk_fullsock",
    "bpf_tcp_sock",
    "bpf_skb_ecn_set_ce",
    "bpf_get_listener_sock",
    "bpf_skc_lookup_tcp",
    "bpf_tcp_check_syncookie",
    "bpf_sysctl_get_name",
    "bpf_sysctl_get_current_value",
    "bpf_sysctl_get_new_value",
    "bpf_sysctl_set_new_value",
    "bpf_strtol",
    "bpf_strtoul",
    "bpf_sk_storage_get",
    "bpf_sk_storage_delete",
    "bpf_send_signal",
    "bpf_tcp_gen_syncookie",
    "bpf_skb_output",
    "bpf_probe_read_user",
    "bpf_probe_read_kernel",
    "bpf_probe_read_user_str",
    "bpf_probe_read_kernel_str",
    "bpf_tcp_send_ack",
    "bpf_send_signal_thread",
    "bpf_jiffies64",
    "bpf_read_branch_records",
    "bpf_get_ns_current_pid_tgid",
    "bpf_xdp_output",
    "bpf_get_netns_cookie",
    "bpf_get_current_ancestor_cgroup_id",
    "bpf_sk_assign",
    "bpf_ktime_get_boot_ns",
    "bpf_seq_printf",
    "bpf_seq_write",
    "bpf_sk_cgroup_id",
    "bpf_sk_ancestor_cgroup_id",
    "bpf_ringbuf_output",
    "bpf_ringbuf_reserve",
    "bpf_ringbuf_submit",
    "bpf_ringbuf_discard",
    "bpf_ringbuf_query",
    "bpf_csum_level",
    "bpf_skc_to_tcp6_sock",
    "bpf_skc_to_tcp_sock",
    "bpf_skc_to_tcp_timewait_sock",
    "bpf_skc_to_tcp_request_sock",
    "bpf_skc_to_udp6_sock",
    "bpf_get_task_stack",
    "bpf_load_hdr_opt",
    "bpf_store_hdr_opt",
    "bpf_reserve_hdr_opt",
    "bpf_inode_storage_get",
    "bpf_inode_storage_delete",
    "bpf_d_path",
    "bpf_copy_from_user",
    "bpf_snprintf_btf",
    "bpf_seq_printf_btf",
    "bpf_skb_cgroup_classid",
    "bpf_redirect_neigh",
    "bpf_per_cpu_ptr",
    "bpf_this_cpu_ptr",
    "bpf_redirect_peer",
    "bpf_task_storage_get",
    "bpf_task_storage_delete",
    "bpf_get_current_task_btf",
    "bpf_bprm_opts_set",
    "bpf_ktime_get_coarse_ns",
    "bpf_ima_inode_hash",
    "bpf_sock_from_file",
    "bpf_check_mtu",
    "bpf_for_each_map_elem",
    "bpf_snprintf",
    "bpf_sys_bpf",
    "bpf_btf_find_by_name_kind",
    "bpf_sys_close",
    "bpf_timer_init",
    "bpf_timer_set_callback",
    "bpf_timer_start",
    "bpf_timer_cancel",
    "bpf_get_func_ip",
    "bpf_get_attach_cookie",
    "bpf_task_pt_regs",
    "bpf_get_branch_snapshot",
    "bpf_trace_vprintk",
    "bpf_skc_to_unix_sock",
    "bpf_kallsyms_lookup_name",
    "bpf_find_vma",
    "bpf_loop",
    "bpf_strncmp",
    "bpf_get_func_arg",
    "bpf_get_func_ret",
    "bpf_get_func_arg_cnt",
    "bpf_get_retval",
    "bpf_set_retval",
    "bpf_xdp_get_buff_len",
    "bpf_xdp_load_bytes",
    "bpf_xdp_store_bytes",
    "bpf_copy_from_user_task",
    "bpf_skb_set_tstamp",
    "bpf_ima_file_hash",
    "bpf_kptr_xchg",
    "bpf_map_lookup_percpu_elem",
    "bpf_skc_to_mptcp_sock",
    "bpf_dynptr_from_mem",
    "bpf_ringbuf_reserve_dynptr",
    "bpf_ringbuf_submit_dynptr",
    "bpf_ringbuf_discard_dynptr",
    "bpf_dynptr_read",
    "bpf_dynptr_write",
    "bpf_dynptr_data",
    "bpf_tcp_raw_gen_syncookie_ipv4",
    "bpf_tcp_raw_gen_syncookie_ipv6",
    "bpf_tcp_raw_check_syncookie_ipv4",
    "bpf_tcp_raw_check_syncookie_ipv6",
    "bpf_ktime_get_tai_ns",
    "bpf_user_ringbuf_drain",
    "bpf_cgrp_storage_get",
    "bpf_cgrp_storage_delete",
];

/// Number of helper ids the kernel defines (`__BPF_FUNC_MAX_ID`); valid ids are below it.
pub const HELPER_COUNT: i32 = HELPER_NAMES.len() as i32;

/// The kernel's name of helper `id` (with its `bpf_` prefix, as the kernel prints it, e.g.
/// `bpf_map_lookup_elem` for 1), or `None` for an id the kernel does not define.
///
/// Id 0 is `bpf_unspec`: it has a name but no program may call it.
pub fn helper_name(id: i32) -> Option<&'static str> {
    usize::try_from(id)
        .ok()
        .and_then(|i| HELPER_NAMES.get(i))
        .copied()
}

/// `src` value of an `lddw` whose immediate is a map plus an offset into its value.
const PSEUDO_MAP_VALUE: u8 = 2;
/// `src` value of an `lddw` whose immediate is a kernel BTF variable id.
const PSEUDO_BTF_ID: u8 = 3;
/// `src` value of an `lddw` whose immediate is a map index in `fd_array`.
const PSEUDO_MAP_IDX: u8 = 5;
/// `src` value of an `lddw` whose immediate is a map index plus a value offset.
const PSEUDO_MAP_IDX_VALUE: u8 = 6;

/// The whole program, one line per instruction as `{pc:>4}: {text}`, each line ending in a
/// newline. The second slot of an `lddw` is not printed (its `pc` is skipped).
pub fn disassemble(insns: &[Insn], map_name: &dyn Fn(i32) -> Option<String>) -> String {
    let mut out = String::new();
    let mut pc = 0;
    while pc < insns.len() {
        out.push_str(&format!("{pc:>4}: {}\n", format_insn(insns, pc, map_name)));
        pc += if is_lddw(&insns[pc]) { 2 } else { 1 };
    }
    out
}

/// The text of instruction `pc` of `insns` (without its pc), kernel style: see the module
/// documentation for the conventions. `map_name` names the map with a given index in the
/// object's map table; without a name a map prints as `map[#index]`.
///
/// Never panics: an opcode outside the ISA prints as `(bad opcode 0xNN)`, and `pc` past the
/// end prints as `(no instruction)`.
pub fn format_insn(insns: &[Insn], pc: usize, map_name: &dyn Fn(i32) -> Option<String>) -> String {
    let Some(insn) = insns.get(pc) else {
        return "(no instruction)".to_string();
    };
    if !super::verify::opcode_is_known(insn.code) {
        return bad(insn);
    }
    match insn.class() {
        class::ALU | class::ALU64 => format_alu(insn),
        class::LD => format_ld(insns, pc, map_name),
        class::LDX => {
            let ty = if insn.code & 0xe0 == mode::MEMSX {
                signed_size_name(insn.code)
            } else {
                size_name(insn.code)
            };
            format!("r{} = *({ty} *){}", insn.dst, mem(insn.src, insn.off))
        }
        class::ST => format!(
            "*({} *){} = {}",
            size_name(insn.code),
            mem(insn.dst, insn.off),
            insn.imm
        ),
        class::STX if insn.code & 0xe0 == mode::ATOMIC => format_atomic(insn),
        class::STX => format!(
            "*({} *){} = r{}",
            size_name(insn.code),
            mem(insn.dst, insn.off),
            insn.src
        ),
        _ => format_jmp(insn),
    }
}

/// True for the first slot of a 64-bit immediate load.
fn is_lddw(insn: &Insn) -> bool {
    insn.code == class::LD | mode::IMM | size::DW
}

/// The fallback text for an instruction the disassembler cannot read.
fn bad(insn: &Insn) -> String {
    format!("(bad opcode {:#04x})", insn.code)
}

/// `(rN + off)` / `(rN - off)`.
fn mem(reg: u8, off: i16) -> String {
    if off < 0 {
        format!("(r{reg} - {})", -i32::from(off))
    } else {
        format!("(r{reg} + {off})")
    }
}

/// A jump offset with its sign: `+3`, `-4`, `+0`.
fn rel(off: i32) -> String {
    format!("{off:+}")
}

/// The C type of a load/store of the opcode's size.
fn size_name(code: u8) -> &'static str {
    match code & 0x18 {
        size::W => "u32",
        size::H => "u16",
        size::B => "u8",
        _ => "u64",
    }
}

/// The signed C type of a sign-extending load of the opcode's size.
fn signed_size_name(code: u8) -> &'static str {
    match code & 0x18 {
        size::W => "s32",
        size::H => "s16",
        size::B => "s8",
        _ => "s64",
    }
}

/// The compound-assignment operator of an ALU operation (`+=`, `s>>=`...).
fn alu_op(op: u8, signed: bool) -> &'static str {
    match op {
        alu::ADD => "+=",
        alu::SUB => "-=",
        alu::MUL => "*=",
        alu::DIV if signed => "s/=",
        alu::DIV => "/=",
        alu::OR => "|=",
        alu::AND => "&=",
        alu::LSH => "<<=",
        alu::RSH => ">>=",
        alu::MOD if signed => "s%=",
        alu::MOD => "%=",
        alu::XOR => "^=",
        alu::MOV => "=",
        _ => "s>>=",
    }
}

/// ALU and ALU64 instructions.
fn format_alu(insn: &Insn) -> String {
    let is64 = insn.class() == class::ALU64;
    let r = if is64 { 'r' } else { 'w' };
    let (dst, src) = (insn.dst, insn.src);
    let op = insn.code & 0xf0;
    match op {
        alu::NEG => format!("{r}{dst} = -{r}{dst}"),
        alu::END => {
            let kind = if is64 {
                "bswap"
            } else if insn.code & source::X != 0 {
                "be"
            } else {
                "le"
            };
            format!("r{dst} = {kind}{} r{dst}", insn.imm)
        }
        alu::MOV if is64 && insn.code & source::X != 0 && insn.off == 1 => format!(
            "r{dst} = addr_space_cast(r{src}, {}, {})",
            (insn.imm as u32) >> 16,
            insn.imm as u32 & 0xffff
        ),
        alu::MOV if insn.code & source::X != 0 && matches!(insn.off, 8 | 16 | 32) => {
            format!("{r}{dst} = (s{}){r}{src}", insn.off)
        }
        _ => {
            let signed = matches!(op, alu::DIV | alu::MOD) && insn.off == 1;
            let sym = alu_op(op, signed);
            if insn.code & source::X != 0 {
                format!("{r}{dst} {sym} {r}{src}")
            } else {
                format!("{r}{dst} {sym} {}", insn.imm)
            }
        }
    }
}

/// `lddw` in its plain and map-reference forms, and the legacy packet loads.
fn format_ld(insns: &[Insn], pc: usize, map_name: &dyn Fn(i32) -> Option<String>) -> String {
    let insn = &insns[pc];
    match insn.code & 0xe0 {
        mode::IMM => {
            let Some(next) = insns.get(pc + 1) else {
                return format!("r{} = (incomplete lddw)", insn.dst);
            };
            let name = |idx: i32| map_name(idx).unwrap_or_else(|| format!("#{idx}"));
            match insn.src {
                PSEUDO_MAP_FD | PSEUDO_MAP_IDX => {
                    format!("r{} = map[{}]", insn.dst, name(insn.imm))
                }
                PSEUDO_MAP_VALUE | PSEUDO_MAP_IDX_VALUE => {
                    format!(
                        "r{} = map_value[{}] + {}",
                        insn.dst,
                        name(insn.imm),
                        next.imm
                    )
                }
                PSEUDO_BTF_ID => format!("r{} = btf_id#{}", insn.dst, insn.imm),
                PSEUDO_FUNC => format!("r{} = func pc{}", insn.dst, rel(insn.imm)),
                _ => {
                    let value = (u64::from(next.imm as u32) << 32) | u64::from(insn.imm as u32);
                    format!("r{} = {value:#x} ll", insn.dst)
                }
            }
        }
        // BPF_ABS
        0x20 => format!("r0 = *({} *)skb[{}]", size_name(insn.code), insn.imm),
        // BPF_IND
        _ => format!(
            "r0 = *({} *)skb[r{} + {}]",
            size_name(insn.code),
            insn.src,
            insn.imm
        ),
    }
}

/// Atomic read-modify-write, exchange, compare-exchange, load-acquire and store-release.
fn format_atomic(insn: &Insn) -> String {
    let ty = size_name(insn.code);
    let addr = mem(insn.dst, insn.off);
    let width = if insn.code & 0x18 == size::DW {
        "64"
    } else {
        ""
    };
    let (dst, src) = (insn.dst, insn.src);
    match insn.imm {
        ATOMIC_XCHG => format!("r{src} = atomic{width}_xchg(({ty} *){addr}, r{src})"),
        ATOMIC_CMPXCHG => format!("r0 = atomic{width}_cmpxchg(({ty} *){addr}, r0, r{src})"),
        ATOMIC_LOAD_ACQ => format!("r{dst} = load_acquire(({ty} *){})", mem(src, insn.off)),
        ATOMIC_STORE_REL => format!("store_release(({ty} *){addr}, r{src})"),
        imm => {
            let op = [
                (alu::ADD, "+=", "add"),
                (alu::AND, "&=", "and"),
                (alu::OR, "|=", "or"),
                (alu::XOR, "^=", "xor"),
            ]
            .into_iter()
            .find(|&(op, _, _)| imm & !ATOMIC_FETCH == i32::from(op));
            match op {
                Some((_, _, name)) if imm & ATOMIC_FETCH != 0 => {
                    format!("r{src} = atomic{width}_fetch_{name}(({ty} *){addr}, r{src})")
                }
                Some((_, sym, _)) => format!("lock *({ty} *){addr} {sym} r{src}"),
                None => format!("(bad atomic op {imm:#x})"),
            }
        }
    }
}

/// The comparison operator of a conditional jump.
fn jmp_op(op: u8) -> &'static str {
    match op {
        jmp::JEQ => "==",
        jmp::JGT => ">",
        jmp::JGE => ">=",
        jmp::JSET => "&",
        jmp::JNE => "!=",
        jmp::JSGT => "s>",
        jmp::JSGE => "s>=",
        jmp::JLT => "<",
        jmp::JLE => "<=",
        jmp::JSLT => "s<",
        _ => "s<=",
    }
}

/// JMP and JMP32 instructions: jumps, calls and exit.
fn format_jmp(insn: &Insn) -> String {
    let is32 = insn.class() == class::JMP32;
    let op = insn.code & 0xf0;
    match op {
        jmp::JA if is32 => format!("gotol {}", rel(insn.imm)),
        jmp::JA => format!("goto {}", rel(i32::from(insn.off))),
        jmp::EXIT => "exit".to_string(),
        jmp::CALL => match insn.src {
            PSEUDO_CALL => format!("call pc{}", rel(insn.imm)),
            PSEUDO_KFUNC_CALL => format!("call kernel-function#{}", insn.imm),
            _ => match helper_name(insn.imm) {
                Some(name) => format!("call {name}#{}", insn.imm),
                None => format!("call #{}", insn.imm),
            },
        },
        // BPF_JCOND
        0xe0 => format!("may_goto {}", rel(i32::from(insn.off))),
        _ => {
            let r = if is32 { 'w' } else { 'r' };
            let rhs = if insn.code & source::X != 0 {
                format!("{r}{}", insn.src)
            } else {
                format!("{:#x}", insn.imm as u32)
            };
            format!(
                "if {r}{} {} {rhs} goto {}",
                insn.dst,
                jmp_op(op),
                rel(i32::from(insn.off))
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf::insn::R10;

    /// An instruction from its raw fields.
    fn raw(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn::new(code, dst, src, off, imm)
    }

    /// Names map 0 `counts`; other maps have no name.
    fn names(idx: i32) -> Option<String> {
        (idx == 0).then(|| "counts".to_string())
    }

    /// The text of the first instruction of `insns`.
    fn text(insns: &[Insn]) -> String {
        format_insn(insns, 0, &names)
    }

    #[test]
    fn every_form_reads_like_the_kernel() {
        use alu::*;
        use jmp::*;
        let cases: Vec<(Vec<Insn>, &str)> = vec![
            // ALU64, register and immediate forms.
            (vec![Insn::alu64_reg(ADD, 1, 2)], "r1 += r2"),
            (vec![Insn::alu64_reg(SUB, 1, 2)], "r1 -= r2"),
            (vec![Insn::alu64_reg(MUL, 3, 4)], "r3 *= r4"),
            (vec![Insn::alu64_reg(DIV, 1, 2)], "r1 /= r2"),
            (vec![Insn::alu64_reg(OR, 1, 2)], "r1 |= r2"),
            (vec![Insn::alu64_reg(AND, 1, 2)], "r1 &= r2"),
            (vec![Insn::alu64_reg(LSH, 1, 2)], "r1 <<= r2"),
            (vec![Insn::alu64_reg(RSH, 1, 2)], "r1 >>= r2"),
            (vec![Insn::alu64_reg(MOD, 1, 2)], "r1 %= r2"),
            (vec![Insn::alu64_reg(XOR, 1, 2)], "r1 ^= r2"),
            (vec![Insn::alu64_reg(ARSH, 1, 2)], "r1 s>>= r2"),
            (vec![Insn::mov64_reg(6, 1)], "r6 = r1"),
            (vec![Insn::mov64_imm(1, 5)], "r1 = 5"),
            (vec![Insn::mov64_imm(1, -1)], "r1 = -1"),
            (vec![Insn::alu64_imm(ADD, 1, -16)], "r1 += -16"),
            (vec![Insn::alu64_imm(ARSH, 1, 3)], "r1 s>>= 3"),
            (vec![Insn::alu64_imm(NEG, 1, 0)], "r1 = -r1"),
            (vec![raw(0x3f, 1, 2, 1, 0)], "r1 s/= r2"),
            (vec![raw(0x97, 1, 0, 1, 3)], "r1 s%= 3"),
            // ALU32.
            (vec![raw(0x04, 1, 0, 0, 1)], "w1 += 1"),
            (vec![raw(0xbc, 1, 2, 0, 0)], "w1 = w2"),
            (vec![raw(0xb4, 1, 0, 0, -2)], "w1 = -2"),
            (vec![raw(0x84, 1, 0, 0, 0)], "w1 = -w1"),
            (vec![raw(0x3c, 1, 2, 1, 0)], "w1 s/= w2"),
            // Byte swaps.
            (vec![raw(0xdc, 1, 0, 0, 16)], "r1 = be16 r1"),
            (vec![raw(0xd4, 1, 0, 0, 32)], "r1 = le32 r1"),
            (vec![raw(0xd7, 1, 0, 0, 64)], "r1 = bswap64 r1"),
            // Sign-extending moves, address space cast.
            (vec![raw(0xbf, 1, 2, 8, 0)], "r1 = (s8)r2"),
            (vec![raw(0xbf, 1, 2, 32, 0)], "r1 = (s32)r2"),
            (vec![raw(0xbc, 1, 2, 16, 0)], "w1 = (s16)w2"),
            (
                vec![raw(0xbf, 1, 2, 1, 1)],
                "r1 = addr_space_cast(r2, 0, 1)",
            ),
            // Loads.
            (vec![Insn::load(size::W, 1, 2, 4)], "r1 = *(u32 *)(r2 + 4)"),
            (
                vec![Insn::load(size::DW, 1, R10, -8)],
                "r1 = *(u64 *)(r10 - 8)",
            ),
            (vec![Insn::load(size::H, 1, 2, 0)], "r1 = *(u16 *)(r2 + 0)"),
            (vec![Insn::load(size::B, 1, 2, 7)], "r1 = *(u8 *)(r2 + 7)"),
            (vec![raw(0x89, 1, 2, 0, 0)], "r1 = *(s16 *)(r2 + 0)"),
            (vec![raw(0x91, 1, 2, -1, 0)], "r1 = *(s8 *)(r2 - 1)"),
            (vec![raw(0x81, 1, 2, 8, 0)], "r1 = *(s32 *)(r2 + 8)"),
            // Stores.
            (
                vec![Insn::store_reg(size::DW, R10, -8, 1)],
                "*(u64 *)(r10 - 8) = r1",
            ),
            (
                vec![Insn::store_reg(size::H, 3, 2, 4)],
                "*(u16 *)(r3 + 2) = r4",
            ),
            (
                vec![Insn::store_imm(size::B, R10, -1, 0)],
                "*(u8 *)(r10 - 1) = 0",
            ),
            (
                vec![Insn::store_imm(size::W, R10, -4, -7)],
                "*(u32 *)(r10 - 4) = -7",
            ),
            // Atomics.
            (
                vec![Insn::atomic_add(size::DW, 1, 0, 2)],
                "lock *(u64 *)(r1 + 0) += r2",
            ),
            (
                vec![raw(0xc3, 1, 2, 4, 0x50)],
                "lock *(u32 *)(r1 + 4) &= r2",
            ),
            (
                vec![raw(0xdb, 1, 2, 0, 0x40)],
                "lock *(u64 *)(r1 + 0) |= r2",
            ),
            (
                vec![raw(0xdb, 1, 2, 0, 0xa0)],
                "lock *(u64 *)(r1 + 0) ^= r2",
            ),
            (
                vec![raw(0xdb, 1, 2, 0, 0x01)],
                "r2 = atomic64_fetch_add((u64 *)(r1 + 0), r2)",
            ),
            (
                vec![raw(0xc3, 1, 2, -4, 0x41)],
                "r2 = atomic_fetch_or((u32 *)(r1 - 4), r2)",
            ),
            (
                vec![raw(0xdb, 1, 2, 8, 0xe1)],
                "r2 = atomic64_xchg((u64 *)(r1 + 8), r2)",
            ),
            (
                vec![raw(0xdb, 1, 2, -8, 0xf1)],
                "r0 = atomic64_cmpxchg((u64 *)(r1 - 8), r0, r2)",
            ),
            (
                vec![raw(0xdb, 3, 1, 0, 0x100)],
                "r3 = load_acquire((u64 *)(r1 + 0))",
            ),
            (
                vec![raw(0xc3, 1, 2, 0, 0x110)],
                "store_release((u32 *)(r1 + 0), r2)",
            ),
            (vec![raw(0xdb, 1, 2, 0, 0x10)], "(bad atomic op 0x10)"),
            // 64-bit immediates and map references.
            (
                Insn::ld_imm64(1, 0x12_3456_7890).to_vec(),
                "r1 = 0x1234567890 ll",
            ),
            (
                Insn::ld_imm64(3, u64::MAX).to_vec(),
                "r3 = 0xffffffffffffffff ll",
            ),
            (Insn::ld_map_fd(1, 0).to_vec(), "r1 = map[counts]"),
            (Insn::ld_map_fd(2, 3).to_vec(), "r2 = map[#3]"),
            (vec![raw(0x18, 1, 0, 0, 5)], "r1 = (incomplete lddw)"),
            // Packet loads.
            (vec![raw(0x20, 0, 0, 0, 5)], "r0 = *(u32 *)skb[5]"),
            (vec![raw(0x48, 0, 2, 0, 5)], "r0 = *(u16 *)skb[r2 + 5]"),
            // Jumps.
            (vec![Insn::jmp_imm(JEQ, 1, 0, 3)], "if r1 == 0x0 goto +3"),
            (
                vec![Insn::jmp_imm(JEQ, 1, -1, 0)],
                "if r1 == 0xffffffff goto +0",
            ),
            (vec![Insn::jmp_reg(JSGT, 1, 2, -4)], "if r1 s> r2 goto -4"),
            (vec![Insn::jmp_reg(JGT, 1, 2, 1)], "if r1 > r2 goto +1"),
            (vec![Insn::jmp_reg(JGE, 1, 2, 1)], "if r1 >= r2 goto +1"),
            (vec![Insn::jmp_reg(JLT, 1, 2, 1)], "if r1 < r2 goto +1"),
            (vec![Insn::jmp_reg(JLE, 1, 2, 1)], "if r1 <= r2 goto +1"),
            (vec![Insn::jmp_imm(JSET, 1, 8, 1)], "if r1 & 0x8 goto +1"),
            (vec![Insn::jmp_imm(JSGE, 1, 8, 1)], "if r1 s>= 0x8 goto +1"),
            (vec![Insn::jmp_imm(JSLT, 1, 8, 1)], "if r1 s< 0x8 goto +1"),
            (vec![Insn::jmp_imm(JSLE, 1, 8, 1)], "if r1 s<= 0x8 goto +1"),
            (vec![raw(0x56, 1, 0, 1, 5)], "if w1 != 0x5 goto +1"),
            (vec![raw(0x2e, 1, 2, -2, 0)], "if w1 > w2 goto -2"),
            (vec![Insn::ja(2)], "goto +2"),
            (vec![Insn::ja(-1)], "goto -1"),
            (vec![raw(0x06, 0, 0, 0, -3)], "gotol -3"),
            (vec![raw(0xe5, 0, 0, 2, 0)], "may_goto +2"),
            (vec![Insn::call(1)], "call bpf_map_lookup_elem#1"),
            (vec![Insn::call(14)], "call bpf_get_current_pid_tgid#14"),
            (vec![Insn::call(212)], "call #212"),
            (vec![Insn::call(-1)], "call #-1"),
            (vec![raw(0x85, 0, 1, 0, 5)], "call pc+5"),
            (vec![raw(0x85, 0, 1, 0, -7)], "call pc-7"),
            (vec![raw(0x85, 0, 2, 0, 1234)], "call kernel-function#1234"),
            (vec![Insn::exit()], "exit"),
            // Outside the ISA.
            (vec![raw(0xff, 0, 0, 0, 0)], "(bad opcode 0xff)"),
            (vec![raw(0x8d, 2, 0, 0, 0)], "(bad opcode 0x8d)"),
            (vec![raw(0x00, 0, 0, 0, 0)], "(bad opcode 0x00)"),
            (vec![raw(0x86, 0, 0, 0, 1)], "(bad opcode 0x86)"),
        ];
        for (insns, want) in cases {
            assert_eq!(text(&insns), want, "{:x?}", insns[0]);
        }
    }

    #[test]
    fn every_opcode_formats_without_panicking() {
        for code in 0..=255u8 {
            for imm in [0, 1, 16, 0x41, 0xe1, 0xf1, 0x100, 0x110, -1] {
                let insns = [raw(code, 1, 2, -3, imm), Insn::default()];
                assert!(!text(&insns).is_empty());
                assert!(!text(&insns[..1]).is_empty());
            }
        }
        assert_eq!(format_insn(&[], 0, &names), "(no instruction)");
    }

    #[test]
    fn helper_names_follow_the_kernel_numbering() {
        let expected = [
            (0, "bpf_unspec"),
            (1, "bpf_map_lookup_elem"),
            (2, "bpf_map_update_elem"),
            (3, "bpf_map_delete_elem"),
            (4, "bpf_probe_read"),
            (5, "bpf_ktime_get_ns"),
            (6, "bpf_trace_printk"),
            (7, "bpf_get_prandom_u32"),
            (8, "bpf_get_smp_processor_id"),
            (14, "bpf_get_current_pid_tgid"),
            (15, "bpf_get_current_uid_gid"),
            (16, "bpf_get_current_comm"),
            (25, "bpf_perf_event_output"),
            (27, "bpf_get_stackid"),
            (35, "bpf_get_current_task"),
            (45, "bpf_probe_read_str"),
            (67, "bpf_get_stack"),
            (109, "bpf_send_signal"),
            (112, "bpf_probe_read_user"),
            (113, "bpf_probe_read_kernel"),
            (114, "bpf_probe_read_user_str"),
            (115, "bpf_probe_read_kernel_str"),
            (130, "bpf_ringbuf_output"),
            (131, "bpf_ringbuf_reserve"),
            (132, "bpf_ringbuf_submit"),
            (133, "bpf_ringbuf_discard"),
            (158, "bpf_get_current_task_btf"),
            (211, "bpf_cgrp_storage_delete"),
        ];
        for (id, name) in expected {
            assert_eq!(helper_name(id), Some(name), "helper {id}");
        }
        assert_eq!(HELPER_COUNT, 212);
        assert_eq!(helper_name(212), None);
        assert_eq!(helper_name(-1), None);
        assert_eq!(helper_name(i32::MAX), None);
    }

    #[test]
    fn listing_skips_the_second_slot_of_lddw() {
        let mut prog = vec![Insn::mov64_reg(6, 1)];
        prog.extend(Insn::ld_map_fd(1, 0));
        prog.extend(Insn::ld_imm64(2, 1 << 40));
        prog.extend([
            Insn::call(1),
            Insn::jmp_imm(jmp::JEQ, 0, 0, 1),
            Insn::mov64_imm(0, 1),
            Insn::exit(),
        ]);
        let want = "   0: r6 = r1\n\
                    \x20  1: r1 = map[counts]\n\
                    \x20  3: r2 = 0x10000000000 ll\n\
                    \x20  5: call bpf_map_lookup_elem#1\n\
                    \x20  6: if r0 == 0x0 goto +1\n\
                    \x20  7: r0 = 1\n\
                    \x20  8: exit\n";
        assert_eq!(disassemble(&prog, &names), want);
        assert_eq!(disassemble(&[], &names), "");
    }
}
