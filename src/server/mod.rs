//! The server layer: login, refresh, and access-token enforcement in front of any service.

mod bearer;
mod body;
mod future;
mod grpc;
mod layer;
mod login;
mod logout;
mod openapi;
mod password;
mod refresh;
mod require_scope;
mod response;
mod routes;
mod scope_rules;
mod service;
mod session;
mod shared;
mod spelling;
mod token_cache;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::JwtLoginLayer;
pub(crate) use password::HashSlots;
pub use require_scope::{RequireScope, RequireScopeLayer};
pub(crate) use routes::Routes;
pub(crate) use scope_rules::ScopeRules;
pub use service::JwtLogin;
pub(crate) use shared::{LoopbackUser, SessionBounds, Shared};
pub(crate) use token_cache::TokenCache;
