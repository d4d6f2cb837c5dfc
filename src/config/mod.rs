//! The configuration: the builder ([`JwtLoginBuilder`]), where everything is validated once
//! when the layer is built, and its deserializable form for configuration files
//! ([`JwtLoginConfig`]).
//!
//! - `builder`: the settings and their defaults;
//! - `authorization`: the settings of scopes, custom claims and token size;
//! - `build`: one check per part of the configuration, and the layer made from what passed;
//! - `file`: [`JwtLoginConfig`], the configuration file's form;
//! - `env`: the same configuration from datarhei Core's environment variables;
//! - `fill`: how it sets the builder field by field, running the check of what each field feeds
//!   as soon as it is set, so that an error names the field;
//! - `settings`: the types of the file's sections (users, keys, throttle, store, tenants).

mod authorization;
mod build;
mod builder;
mod env;
mod file;
mod fill;
#[cfg(feature = "jwks")]
mod idp;
mod settings;

pub use builder::JwtLoginBuilder;
pub use file::JwtLoginConfig;

use crate::server::JwtLoginLayer;

// Here rather than beside the layer, so that the server does not import its configuration.
impl JwtLoginLayer {
    /// Starts a configuration with datarhei Core's defaults.
    pub fn builder() -> JwtLoginBuilder {
        JwtLoginBuilder::default()
    }
}
