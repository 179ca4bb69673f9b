//! Hash commands.

pub const HANDLERS: &[(&str, super::Handler)] = &[];
