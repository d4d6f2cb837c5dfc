//! `GET /api/login/refresh`: a refresh token in, a new access token out.

use http::{Method, Request};
use serde::Serialize;

use super::Shared;
use super::response::{self, OwnResponse};
use crate::token::TokenUse;

#[derive(Serialize)]
struct RefreshResponse {
    access_token: String,
}

pub(crate) fn refresh<B>(shared: &Shared, request: &Request<B>) -> OwnResponse {
    if request.method() != Method::GET {
        return response::method_not_allowed(Method::GET);
    }
    match shared.authenticate(request.headers(), TokenUse::Refresh) {
        Ok(claims) => {
            tracing::debug!(username = %claims.sub, "access token refreshed");
            response::tokens(&RefreshResponse {
                access_token: shared.issue(&claims.sub, TokenUse::Access),
            })
        }
        Err(rejection) => shared.unauthorized(rejection),
    }
}
