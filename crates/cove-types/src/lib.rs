//! Cove's domain vocabulary: identifiers, sandbox lifecycle states and their legal transitions,
//! resource limits and input validation. No I/O, no async, nothing about HTTP, SQL or protobuf, so
//! every other crate can share these definitions without dragging in a transport.

mod code;
mod id;
pub mod layout;
mod limits;
mod name;
mod state;

pub use code::ErrorCode;
pub use id::{is_sandbox_id, new_sandbox_id, new_secret, SANDBOX_ID_LEN};
pub use limits::{Limits, LimitsError};
pub use name::{validate_name, NameError, MAX_NAME_LEN};
pub use state::{SandboxState, UnknownState};
