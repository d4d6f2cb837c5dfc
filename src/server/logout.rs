//! `POST /api/logout`: revokes the token presented as bearer.
//!
//! A refresh token revokes its whole family: neither it nor any token rotated from it obtains
//! an access token again. An access token is revoked until it expires, on every protected route.
//! Either way the answer is `204 No Content`.

use std::sync::Arc;

use http::Method;
use http::request::Parts;

use super::response::{self, OwnResponse};
use super::{Shared, session};
use crate::error::Rejection;
use crate::token::TokenUse;

pub(crate) async fn logout(shared: Arc<Shared>, request: Parts) -> OwnResponse {
    if request.method != Method::POST {
        return response::method_not_allowed(Method::POST);
    }
    let claims = match shared.authenticate(&request.headers, TokenUse::Refresh) {
        Err(Rejection::WrongTokenUse) => shared.authenticate(&request.headers, TokenUse::Access),
        other => other,
    };
    let claims = match claims {
        Ok(claims) => claims,
        Err(rejection) => return shared.unauthorized(rejection),
    };
    if let Err(response) = session::revoke(&shared, &claims).await {
        return response;
    }
    tracing::info!(username = %claims.sub(), usefor = %claims.usefor(), "logged out");
    crate::observe::logged_out(claims.usefor());
    response::no_content()
}
