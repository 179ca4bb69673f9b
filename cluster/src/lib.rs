//! Cluster-side logic of slotcache: the hash slot function every node and
//! client agree on, the node table and its state machine (epochs, gossip,
//! failure detection, nodes.conf), the bus that carries it, and the routing
//! snapshot client commands are checked against.

pub mod bus;
pub mod node;
pub mod routing;
pub mod slot;
pub mod state;
pub mod wire;

pub use bus::Cluster;
pub use node::{flags, Node, NodeId, SlotSet};
pub use routing::Routing;
pub use slot::{key_slot, SLOT_COUNT};
pub use state::{FailoverMode, Myself, SetSlot, State};
