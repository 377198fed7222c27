//! `bswap(x)`: reverses the bytes of an integer, at its width.

use crate::{expect_args, Function};
use probe_compiler::ir::{AluOp, Operand};
use probe_compiler::lower::Value;
use probe_lang::types::Type;
use probe_lang::Diagnostic;

/// The function.
pub const BSWAP: Function = Function {
    name: "bswap",
    signature: "bswap(int)",
    doc: "reverses the byte order of an integer of 16, 32 or 64 bits (8 bits stay as they are)",
    check: |name, args, span| {
        expect_args(name, args, span, 1, "bswap(int)")?;
        match &args[0].ty {
            Type::Int { bits, .. } => Ok(Type::Int {
                bits: *bits,
                signed: false,
            }),
            other => Err(Diagnostic::error(
                args[0].span,
                format!("bswap() takes an integer, not {other}"),
            )
            .with_label("not an integer")),
        }
    },
    lower: |_, args, _, cx| {
        let Type::Int { bits, .. } = args[0].ty else {
            unreachable!("checked")
        };
        let x = cx.scalar(&args[0])?;
        let bytes = i64::from(bits / 8);
        let mut result = cx.copy(Operand::Imm(0));
        for i in 0..bytes {
            let shifted = cx.alu(AluOp::Rsh, x, Operand::Imm(8 * i));
            let byte = cx.alu(AluOp::And, shifted, Operand::Imm(0xff));
            let placed = cx.alu(AluOp::Lsh, byte, Operand::Imm(8 * (bytes - 1 - i)));
            result = cx.alu(AluOp::Or, result, Operand::Reg(placed));
        }
        Ok(Some(Value::Scalar(result)))
    },
};
