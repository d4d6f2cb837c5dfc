//! Verification of an identity provider's access token.
//!
//! The order matters: the unverified `iss` only picks the tenant (and is checked again after
//! the signature), the `kid` only picks the key, and the algorithm is the key's. Signature
//! mathematics and claim checks are `jsonwebtoken`'s.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{AlgorithmFamily, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::cache::{KeyCache, Lookup, REFETCH_MIN_INTERVAL};
use super::keyset::MAX_KID_LEN;
use super::tenant::TenantConfig;
use crate::error::Rejection;
use crate::scope::Scopes;

/// Why an identity provider's token did not log anyone in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdpError {
    /// The token is not acceptable: 401.
    Rejected(Rejection),
    /// The tenant named by the token has never had its keys loaded: 503, to be retried after
    /// this long, when the next fetch may run.
    Unavailable {
        /// How long until the keys may be fetched again.
        retry_after: Duration,
    },
}

impl From<Rejection> for IdpError {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

/// Only `iss`, read before verification to find the tenant.
#[derive(Deserialize)]
struct UnverifiedIssuer {
    iss: String,
}

/// The claims read after verification (`jsonwebtoken` checks `exp`, `nbf`, `iss`, `aud`).
/// The others are kept for the scopes claim: no larger than the token, which the request's
/// limits bound.
#[derive(Deserialize)]
struct VerifiedClaims {
    sub: String,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// Who an identity provider's token logs in, and with what.
#[derive(Debug)]
pub(crate) struct IdpLogin {
    pub(crate) subject: String,
    /// The tenant's issuer.
    pub(crate) issuer: Box<str>,
    /// The scopes mapped from the token's `scopes_claim`, if the tenant names one.
    pub(crate) scopes: Scopes,
}

/// Verifies `token` against the tenant its `iss` names, and returns its subject if that
/// subject is allowed to log in.
pub(crate) async fn verify(
    tenant_of: impl FnOnce(&str) -> Option<Arc<KeyCache>>,
    token: &[u8],
    leeway: u64,
) -> Result<IdpLogin, IdpError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| Rejection::MalformedToken)?;
    // Symmetric algorithms are never accepted: whoever could verify such a token could forge it.
    if header.alg.family() == AlgorithmFamily::Hmac || header.crit.is_some() {
        return Err(Rejection::UnsupportedHeader.into());
    }
    let kid = header
        .kid
        .filter(|kid| !kid.is_empty() && kid.len() <= MAX_KID_LEN)
        .ok_or(Rejection::UnsupportedHeader)?;
    let UnverifiedIssuer { iss } = jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|_| Rejection::InvalidClaims)?;
    let cache = tenant_of(&iss).ok_or(Rejection::WrongIssuer)?;
    let key = match cache.key(&kid).await {
        Lookup::Found(key) => key,
        Lookup::Unknown => return Err(Rejection::BadSignature.into()),
        Lookup::NeverLoaded => {
            return Err(IdpError::Unavailable {
                retry_after: REFETCH_MIN_INTERVAL,
            });
        }
    };
    if header.alg != key.algorithm {
        return Err(Rejection::UnsupportedHeader.into());
    }
    let tenant = cache.tenant();
    let mut validation = Validation::new(key.algorithm);
    validation.set_issuer(&[&*tenant.issuer]);
    validation.set_audience(&tenant.audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = leeway;
    let claims = jsonwebtoken::decode::<VerifiedClaims>(token, &key.key, &validation)
        .map_err(|error| rejection_of(error.kind()))?
        .claims;
    if !tenant.subjects.contains(claims.sub.as_str()) {
        return Err(Rejection::UnknownSubject.into());
    }
    Ok(IdpLogin {
        scopes: mapped_scopes(tenant, &claims.rest),
        subject: claims.sub,
        issuer: tenant.issuer.clone(),
    })
}

/// The scopes `tenant` maps from the verified `claims`: the valid entries of its scopes claim
/// (a space-separated string or an array of strings), less those outside its allow-list.
/// Nothing in the claim fails the login, which the provider has already granted.
fn mapped_scopes(tenant: &TenantConfig, claims: &Map<String, Value>) -> Scopes {
    let Some(name) = &tenant.scopes_claim else {
        return Scopes::default();
    };
    let mapped = match claims.get(&**name) {
        Some(Value::String(list)) => Scopes::valid_of(crate::scope::split(list)),
        Some(Value::Array(entries)) => Scopes::valid_of(entries.iter().filter_map(Value::as_str)),
        _ => Scopes::default(),
    };
    match &tenant.allowed_scopes {
        Some(allowed) => mapped.intersection(allowed),
        None => mapped,
    }
}

fn rejection_of(kind: &ErrorKind) -> Rejection {
    match kind {
        ErrorKind::InvalidSignature => Rejection::BadSignature,
        ErrorKind::ExpiredSignature => Rejection::Expired,
        ErrorKind::ImmatureSignature => Rejection::NotYetValid,
        ErrorKind::InvalidIssuer => Rejection::WrongIssuer,
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => Rejection::UnsupportedHeader,
        ErrorKind::InvalidAudience
        | ErrorKind::InvalidSubject
        | ErrorKind::MissingRequiredClaim(_)
        | ErrorKind::InvalidClaimFormat(_)
        | ErrorKind::Json(_) => Rejection::InvalidClaims,
        _ => Rejection::MalformedToken,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Tenant;

    fn config(tenant: Tenant) -> TenantConfig {
        tenant
            .audience("api")
            .allow_subject("user")
            .into_config()
            .unwrap()
    }

    fn claims(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else {
            panic!("not an object")
        };
        map
    }

    #[test]
    fn scopes_are_mapped_from_a_string_or_an_array_and_filtered() {
        let scope = config(Tenant::new("https://a.example/").scopes_claim("scope"));
        let permissions = config(
            Tenant::new("https://a.example/")
                .scopes_claim("permissions")
                .allow_scopes(["read", "write"]),
        );
        let mapped = |tenant: &TenantConfig, value| mapped_scopes(tenant, &claims(value));
        let token =
            json!({ "scope": " write  read a\\b ", "permissions": ["admin", "read", 7, "x y"] });
        assert_eq!(mapped(&scope, token.clone()).as_str(), "read write");
        assert_eq!(mapped(&permissions, token).as_str(), "read");
        for wrong in [json!(7), json!({ "read": true }), json!(null), json!(true)] {
            assert!(mapped(&scope, json!({ "scope": wrong })).is_empty());
        }
        assert!(mapped(&scope, json!({})).is_empty());
        let unmapped = config(Tenant::new("https://a.example/"));
        assert!(mapped(&unmapped, json!({ "scope": "read" })).is_empty());
    }
}
