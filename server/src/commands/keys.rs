//! Generic key commands.

pub const HANDLERS: &[(&str, super::Handler)] = &[];
