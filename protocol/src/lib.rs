//! RESP framing and the command table of slotcache. Pure: no I/O, no clock.
//!
//! Requests are parsed in place (argument spans over the read buffer) so the
//! hot path copies nothing; replies are encoded straight into the output
//! buffer for RESP2 or RESP3.

pub mod command;
mod commands;
pub mod reply;
pub mod request;

pub use command::{lookup, CommandSpec, Flags, KeySpec, COMMAND_TABLE};
pub use reply::Reply;
pub use request::{Argv, ProtocolError, RequestLimits, RequestParser};
